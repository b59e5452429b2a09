"""Schema, preview and column statistics of an Arrow table, computed with pyarrow compute."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PREVIEW_ROWS = 20
MAX_COLUMNS = 100
MAX_CELL = 200
HIST_BINS = 20
TOP_VALUES = 10
EXACT_QUANTILE_ROWS = 200_000  # above this, quartiles come from a fixed-seed sample
QUANTILE_SAMPLE = 100_000
SAMPLED_DISTINCT_MAX = 1_000  # a sample naming more distinct values than this: count unknown
STATS_MAX_CELLS = 50_000_000  # stats=None skips stats above this many cells
_INDEX_COLUMN = re.compile(r"__index_level_\d+__")


def data_columns(table: pa.Table) -> list[str]:
    """Column names, without pandas' unnamed index columns."""
    return [name for name in table.column_names if not _INDEX_COLUMN.fullmatch(name)]


def schema_of(table: pa.Table) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "type": str(f.type), "nullable": f.nullable}
        for f in table.schema
        if not _INDEX_COLUMN.fullmatch(f.name)
    ]


def json_safe(value: Any, limit: int | None = MAX_CELL) -> Any:
    """A JSON-serializable stand-in: NaN → None, ±inf → "inf"/"-inf", times → ISO strings,
    bytes → base64, strings longer than ``limit`` characters cut (``None``: kept whole)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        if not value.isascii():  # lone surrogates cannot be stored as text: mark them
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value if limit is None or len(value) <= limit else value[: limit - 1] + "…"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value if limit is None else value[:limit])
        return json_safe("base64:" + base64.b64encode(data).decode(), limit)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, limit) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item(), limit)
    return json_safe(str(value), limit)


INDEX_LABEL = "(index)"  # a preview's column for pandas' unnamed, meaningful index


def preview_of(table: pa.Table, rows: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    """The first ``rows`` rows of the first MAX_COLUMNS columns as JSON-safe row dicts, led
    by pandas' unnamed index when it means something (``df.describe()``'s count, mean, …; a
    default 0..n-1 index is not stored as a column)."""
    columns = data_columns(table)[:MAX_COLUMNS]
    index = [n for n in table.column_names if _INDEX_COLUMN.fullmatch(n)][:1]
    head = table.select(index + columns).slice(0, rows)
    return [
        {(INDEX_LABEL if k in index else k): json_safe(v) for k, v in row.items()}
        for row in head.to_pylist()
    ]


def stats_of(table: pa.Table) -> dict[str, dict[str, Any]]:
    """Per-column statistics for the first MAX_COLUMNS columns."""
    return {name: column_stats(table.column(name)) for name in data_columns(table)[:MAX_COLUMNS]}


def column_stats(col: pa.ChunkedArray) -> dict[str, Any]:
    """A column's statistics. Never fails a log: whatever cannot be computed for a column is
    left out and named in ``unavailable``."""
    kind = col.type
    nulls = col.null_count
    out: dict[str, Any] = {"type": str(kind), "count": len(col) - nulls, "nulls": nulls}
    if len(col) == nulls:
        return out
    try:
        out.update(_typed_stats(col.cast(kind.value_type) if pa.types.is_dictionary(kind) else col))
    except Exception as exc:  # an Arrow kernel missing for a type, a degenerate range, ...
        out["unavailable"] = f"{type(exc).__name__}: {str(exc)[:120]}"
    return out


def column_kind(kind: pa.DataType) -> str:
    """How a column of this type is summarized: "numeric", "categorical", "temporal", "other"."""
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    if (
        pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_dictionary(kind)
        or pa.types.is_string_view(kind)
    ):
        return "categorical"
    if pa.types.is_temporal(kind):
        return "temporal"
    return "other"


def _typed_stats(col: pa.ChunkedArray) -> dict[str, Any]:
    kind = col.type
    out: dict[str, Any] = {}
    if pa.types.is_floating(kind) and kind.bit_width == 16:
        col, kind = col.cast(pa.float32()), pa.float32()  # no float16 kernels in Arrow
    group = column_kind(kind)
    if group == "numeric":
        out.update(_numeric(col))
    elif group == "categorical":
        out.update(_categorical(col))
    elif pa.types.is_duration(kind):  # no min_max kernel for durations: their integers
        bounds = pc.min_max(col.cast(pa.int64()))
        out["min"] = json_safe(pa.scalar(bounds["min"].as_py(), kind).as_py())
        out["max"] = json_safe(pa.scalar(bounds["max"].as_py(), kind).as_py())
    elif group == "temporal":
        bounds = pc.min_max(col)
        out["min"] = json_safe(bounds["min"].as_py())
        out["max"] = json_safe(bounds["max"].as_py())
    return out


def _numeric(col: pa.ChunkedArray) -> dict[str, Any]:
    if pa.types.is_decimal(col.type):
        col = col.cast(pa.float64())
    values = col.drop_null() if col.null_count else col
    mean = pc.mean(values).as_py()
    if pa.types.is_floating(col.type) and mean is not None and not math.isfinite(mean):
        values = pc.filter(values, pc.is_finite(values))  # NaN/inf: stats of the finite part
        if len(values) == 0:
            return {}
        mean = pc.mean(values).as_py()
    array = values.to_numpy()
    if array.dtype.kind in "fiu":  # finite by now: numpy's min/max (pyarrow's NaN-aware
        lo, hi = array.min().item(), array.max().item()  # kernel is ~15x slower on floats)
    else:
        bounds = pc.min_max(values)
        lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    out = {
        "mean": json_safe(mean),
        "std": json_safe(pc.stddev(values, ddof=1).as_py()) if len(values) > 1 else None,
        "min": json_safe(lo),
        "max": json_safe(hi),
    }
    sample = array
    if len(array) > EXACT_QUANTILE_ROWS:
        sample = array[np.random.default_rng(0).integers(0, len(array), QUANTILE_SAMPLE)]
        out["approx"] = True
    quartiles = np.quantile(sample, [0.25, 0.5, 0.75])
    out.update(
        {
            "25%": json_safe(float(quartiles[0])),
            "50%": json_safe(float(quartiles[1])),
            "75%": json_safe(float(quartiles[2])),
        }
    )
    out["hist"] = _histogram(sample, float(lo), float(hi), len(array))
    return out


def _histogram(sample: Any, lo: float, hi: float, rows: int) -> dict[str, list[Any]]:
    """HIST_BINS equal bins over [lo, hi] (the exact range); one bin when the range is empty or
    too narrow to split at this magnitude (a constant column, a 64-bit id, a tiny float range).
    Counted over ``sample`` and scaled to ``rows`` (largest remainders, so they sum to it)."""
    width = hi - lo
    if not width > 0 or width <= max(abs(lo), abs(hi)) * 1e-9 * HIST_BINS:
        return {"counts": [rows], "edges": [json_safe(lo), json_safe(hi)]}
    counts = _bin_counts(sample, lo, width)
    if len(sample) != rows:
        share = counts * (rows / len(sample))
        counts = np.floor(share).astype(np.int64)
        short = rows - int(counts.sum())
        counts[np.argsort(counts - share, kind="stable")[:short]] += 1
    return {"counts": counts.tolist(), "edges": _edges(lo, hi)}


def _bin_counts(array: Any, lo: float, width: float) -> Any:
    """Counts of HIST_BINS equal bins, the last one closed: one pass of index arithmetic and
    a bincount (twice as fast as np.histogram, which also re-checks each value against its
    bin's float edges; a value within rounding of an edge may land in the neighbouring bin)."""
    counts = np.zeros(HIST_BINS, dtype=np.int64)
    scale = HIST_BINS / width
    step = 1 << 18  # bounded temporary memory, cache-sized blocks
    scaled = np.empty(min(step, len(array)), dtype=np.float64)
    for start in range(0, len(array), step):
        block = array[start : start + step]
        out = scaled[: len(block)]
        np.subtract(block, lo, out=out, casting="unsafe")
        np.multiply(out, scale, out=out)
        index = out.astype(np.intp)
        np.minimum(index, HIST_BINS - 1, out=index)
        counts += np.bincount(index, minlength=HIST_BINS)
    return counts


def _edges(lo: float, hi: float) -> list[Any]:
    return [json_safe(float(e)) for e in np.linspace(lo, hi, HIST_BINS + 1)]


def stratified(rows: int, size: int) -> Any:
    """Sorted row indices, one at a fixed-seed random offset in each of ``size`` equal strata:
    spread like an evenly spaced sample, without aliasing periodic data as one would."""
    step = rows / size
    starts = np.arange(size) * step
    return (starts + np.random.default_rng(0).random(size) * step).astype(np.int64)


def _categorical(col: pa.ChunkedArray) -> dict[str, Any]:
    """Distinct count and the most frequent values. Above EXACT_QUANTILE_ROWS non-null strings
    the counts come from a stratified sample of QUANTILE_SAMPLE rows, scaled (hashing every
    string was the largest part of a log's statistics); the distinct count is then given only
    when the sample saw every value at least twice (else None: unknown), marked ``approx``."""
    values = col.drop_null() if col.null_count else col
    rows, out = len(values), dict[str, Any]()
    if rows > EXACT_QUANTILE_ROWS and not pa.types.is_boolean(values.type):
        values = values.take(pa.array(stratified(rows, QUANTILE_SAMPLE)))
        out["approx"] = True
    counts = pc.value_counts(values)
    found, freq = counts.field("values"), counts.field("counts").to_numpy()
    k = min(TOP_VALUES, len(freq))
    top = np.argpartition(-freq, k - 1)[:k] if len(freq) > k else np.arange(len(freq))
    top = top[np.argsort(-freq[top], kind="stable")]
    scale = rows / len(values)
    complete = not out or (len(freq) <= SAMPLED_DISTINCT_MAX and freq.min() >= 2)
    out["unique"] = len(freq) if complete else None
    out["top"] = [
        {"value": json_safe(found[int(i)].as_py()), "count": int(freq[i] * scale + 0.5)}
        for i in top
    ]
    return out
