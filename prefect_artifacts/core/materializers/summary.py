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


def json_safe(value: Any) -> Any:
    """A JSON-serializable stand-in: NaN → None, ±inf → "inf"/"-inf", times → ISO strings,
    bytes → base64, long strings cut to MAX_CELL characters."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return value if len(value) <= MAX_CELL else value[: MAX_CELL - 1] + "…"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return json_safe("base64:" + base64.b64encode(bytes(value[:MAX_CELL])).decode())
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return json_safe(str(value))


def preview_of(table: pa.Table, rows: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    """The first ``rows`` rows of the first MAX_COLUMNS columns as JSON-safe row dicts."""
    columns = data_columns(table)[:MAX_COLUMNS]
    head = table.select(columns).slice(0, rows)
    return [{k: json_safe(v) for k, v in row.items()} for row in head.to_pylist()]


def stats_of(table: pa.Table) -> dict[str, dict[str, Any]]:
    """Per-column statistics for the first MAX_COLUMNS columns."""
    return {name: column_stats(table.column(name)) for name in data_columns(table)[:MAX_COLUMNS]}


def column_stats(col: pa.ChunkedArray) -> dict[str, Any]:
    kind = col.type
    if pa.types.is_dictionary(kind):
        col = col.cast(kind.value_type)
    nulls = col.null_count
    out: dict[str, Any] = {"type": str(kind), "count": len(col) - nulls, "nulls": nulls}
    if len(col) == nulls:
        return out
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        out.update(_numeric(col))
    elif (
        pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_dictionary(kind)
        or pa.types.is_string_view(kind)
    ):
        out.update(_categorical(col))
    elif pa.types.is_temporal(kind):
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
    bounds = pc.min_max(values)
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    array = values.to_numpy()
    out = {
        "mean": json_safe(mean),
        "std": json_safe(pc.stddev(values, ddof=1).as_py()) if len(values) > 1 else None,
        "min": json_safe(lo),
        "max": json_safe(hi),
    }
    if len(array) > EXACT_QUANTILE_ROWS:
        rng = np.random.default_rng(0)
        sample = array[rng.integers(0, len(array), QUANTILE_SAMPLE)]
        quartiles = np.quantile(sample, [0.25, 0.5, 0.75])
        out["approx"] = True
    else:
        quartiles = np.quantile(array, [0.25, 0.5, 0.75])
    out.update(
        {
            "25%": json_safe(float(quartiles[0])),
            "50%": json_safe(float(quartiles[1])),
            "75%": json_safe(float(quartiles[2])),
        }
    )
    counts, edges = np.histogram(array, bins=HIST_BINS, range=(float(lo), float(hi)))
    out["hist"] = {"counts": counts.tolist(), "edges": [json_safe(float(e)) for e in edges]}
    return out


def _categorical(col: pa.ChunkedArray) -> dict[str, Any]:
    counts = pc.value_counts(col.drop_null() if col.null_count else col)
    values, freq = counts.field("values"), counts.field("counts").to_numpy()
    k = min(TOP_VALUES, len(freq))
    top = np.argpartition(-freq, k - 1)[:k] if len(freq) > k else np.arange(len(freq))
    top = top[np.argsort(-freq[top], kind="stable")]
    return {
        "unique": len(freq),
        "top": [{"value": json_safe(values[int(i)].as_py()), "count": int(freq[i])} for i in top],
    }
