"""Column statistics computed per part (or per batch) and merged, for datasets too large to
summarize at once.

Exact where a merge can be exact: counts, nulls, mean and standard deviation (Chan's parallel
update), min/max, and the value counts of low-cardinality columns (top-k). Quartiles and
histograms are exact while the whole column has at most ``summary.EXACT_QUANTILE_ROWS`` values
(the values are kept); above that they come from a mergeable Apache DataSketches KLL sketch fed
with every ``SKETCH_EVERY``-th value, and the histogram's bins span the merged [min, max]
(marked ``"approx": true``). The output has the shape of :func:`summary.column_stats`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import summary

SKETCH_K = 200  # KLL accuracy parameter: ~1.3% rank error
SKETCH_EVERY = 8  # values fed to the sketch: every 8th (a uniform sample; keeps logging fast)
TOP_KEEP = 1000  # distinct values kept per part for top-k; more makes the counts approximate


@dataclass
class ColumnPartial:
    """A column's mergeable summary over some rows."""

    type: str
    kind: str  # "numeric" | "categorical" | "temporal" | "other"
    count: int = 0
    nulls: int = 0
    n: int = 0  # finite numeric values
    mean: float = 0.0
    m2: float = 0.0
    lo: Any = None
    hi: Any = None
    values: np.ndarray | None = None  # all finite values while few enough (exact quartiles)
    sketch: bytes | None = None  # serialized KLL sketch of the sampled values
    counts: dict[Any, int] | None = None
    truncated: bool = False
    unavailable: list[str] = field(default_factory=list)


def partial_of(table: pa.Table | pa.RecordBatch, offset: int = 0) -> dict[str, ColumnPartial]:
    """Mergeable statistics of the first ``summary.MAX_COLUMNS`` data columns; ``offset`` is the
    position of the first row in the whole dataset (so the sketch's sample stays uniform)."""
    names = summary.data_columns(table)[: summary.MAX_COLUMNS]
    return {name: column_partial(table.column(name), offset) for name in names}


def column_partial(col: Any, offset: int = 0) -> ColumnPartial:
    if isinstance(col, pa.Array):
        col = pa.chunked_array([col], col.type)
    out = ColumnPartial(type=str(col.type), kind=summary.column_kind(col.type))
    out.nulls = col.null_count
    out.count = len(col) - col.null_count
    try:
        if out.kind == "numeric":
            _numeric(out, col, offset)
        elif out.kind == "categorical":
            _categorical(out, col)
        elif out.kind == "temporal":
            if pa.types.is_duration(col.type):
                col = col.cast(pa.int64())
            bounds = pc.min_max(col)
            out.lo, out.hi = bounds["min"].as_py(), bounds["max"].as_py()
    except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
        out.unavailable.append(f"{type(exc).__name__}: {str(exc)[:80]}")
    return out


def _numeric(out: ColumnPartial, col: pa.ChunkedArray, offset: int) -> None:
    if pa.types.is_decimal(col.type):
        col = col.cast(pa.float64())
    values = col.drop_null() if col.null_count else col
    if pa.types.is_floating(col.type):
        values = pc.filter(values, pc.is_finite(values))
    array = values.to_numpy().astype(np.float64, copy=False)
    out.n = len(array)
    if not out.n:
        return
    out.mean = float(array.mean())
    out.m2 = float(((array - out.mean) ** 2).sum())
    bounds = pc.min_max(values)
    out.lo, out.hi = bounds["min"].as_py(), bounds["max"].as_py()
    if out.n <= summary.EXACT_QUANTILE_ROWS:
        out.values = array.copy()
    sample = array[(-offset) % SKETCH_EVERY :: SKETCH_EVERY]
    out.sketch = _sketch(sample)


def _sketch(sample: np.ndarray) -> bytes | None:
    try:
        from datasketches import kll_doubles_sketch
    except ImportError:  # quantiles of large columns need the `datasketches` package
        return None
    sketch = kll_doubles_sketch(SKETCH_K)
    sketch.update(np.ascontiguousarray(sample, dtype=np.float64))
    data: bytes = sketch.serialize()
    return data


def _categorical(out: ColumnPartial, col: pa.ChunkedArray) -> None:
    counts = pc.value_counts(col.drop_null() if col.null_count else col)
    values, freq = counts.field("values"), counts.field("counts").to_numpy()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    keep = np.arange(len(freq))
    if len(freq) > TOP_KEEP:
        keep = np.argpartition(-freq, TOP_KEEP - 1)[:TOP_KEEP]
        out.truncated = True
    python = values.take(pa.array(keep)).to_pylist()
    out.counts = {v: int(freq[i]) for v, i in zip(python, keep, strict=True)}


def merge(a: dict[str, ColumnPartial], b: dict[str, ColumnPartial]) -> dict[str, ColumnPartial]:
    """The statistics of both sets of rows (columns in ``a``'s order, then ``b``'s new ones)."""
    out = dict(a)
    for name, right in b.items():
        out[name] = merge_column(a[name], right) if name in a else right
    return out


def merge_column(a: ColumnPartial, b: ColumnPartial) -> ColumnPartial:
    if a.type != b.type:  # parts disagree on the type: keep what is safe to add up
        return ColumnPartial(
            type=a.type,
            kind="other",
            count=a.count + b.count,
            nulls=a.nulls + b.nulls,
            unavailable=[f"parts have different types ({a.type}, {b.type})"],
        )
    out = ColumnPartial(type=a.type, kind=a.kind, count=a.count + b.count, nulls=a.nulls + b.nulls)
    out.unavailable = a.unavailable + [u for u in b.unavailable if u not in a.unavailable]
    out.lo = _pick(min, a.lo, b.lo)
    out.hi = _pick(max, a.hi, b.hi)
    if a.kind == "numeric":
        out.n = a.n + b.n
        if out.n:
            delta = b.mean - a.mean
            out.mean = a.mean + delta * b.n / out.n
            out.m2 = a.m2 + b.m2 + delta * delta * a.n * b.n / out.n
        if (
            a.values is not None
            and b.values is not None
            and len(a.values) + len(b.values) <= summary.EXACT_QUANTILE_ROWS
        ):
            out.values = np.concatenate([a.values, b.values])
        out.sketch = _merge_sketches(a.sketch, b.sketch)
    if a.kind == "categorical":
        counts = dict(a.counts or {})
        for value, n in (b.counts or {}).items():
            counts[value] = counts.get(value, 0) + n
        out.truncated = a.truncated or b.truncated
        if len(counts) > TOP_KEEP:
            counts = dict(sorted(counts.items(), key=lambda kv: -kv[1])[:TOP_KEEP])
            out.truncated = True
        out.counts = counts
    return out


def _pick(fn: Any, a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return fn(a, b)


def _merge_sketches(a: bytes | None, b: bytes | None) -> bytes | None:
    if a is None or b is None:
        return a or b
    from datasketches import kll_doubles_sketch

    left = kll_doubles_sketch.deserialize(a)
    left.merge(kll_doubles_sketch.deserialize(b))
    merged: bytes = left.serialize()
    return merged


def finish(partials: dict[str, ColumnPartial]) -> dict[str, dict[str, Any]]:
    """Merged partials as the stats a single-frame dataset would show."""
    return {name: _finish(p) for name, p in partials.items()}


def _finish(p: ColumnPartial) -> dict[str, Any]:
    out: dict[str, Any] = {"type": p.type, "count": p.count, "nulls": p.nulls}
    if p.unavailable:
        out["unavailable"] = p.unavailable
    if p.kind == "numeric" and p.n:
        out["mean"] = summary.json_safe(p.mean)
        out["std"] = summary.json_safe(math.sqrt(p.m2 / (p.n - 1))) if p.n > 1 else None
        out["min"] = summary.json_safe(p.lo)
        out["max"] = summary.json_safe(p.hi)
        lo, hi = float(p.lo), float(p.hi)
        if p.values is not None and len(p.values) == p.n:
            quartiles = np.quantile(p.values, [0.25, 0.5, 0.75])
            out.update(
                {k: summary.json_safe(float(q)) for k, q in zip(QUARTILES, quartiles, strict=True)}
            )
            out["hist"] = summary._histogram(p.values, lo, hi, len(p.values))
        elif p.sketch is not None:
            from datasketches import kll_doubles_sketch

            sketch = kll_doubles_sketch.deserialize(p.sketch)
            quartiles = sketch.get_quantiles([0.25, 0.5, 0.75])
            out.update(
                {k: summary.json_safe(float(q)) for k, q in zip(QUARTILES, quartiles, strict=True)}
            )
            out["hist"] = _sketch_histogram(sketch, p.n, lo, hi)
            out["approx"] = True
        else:
            out.setdefault("unavailable", []).append(
                "quartiles: install `datasketches` for statistics of large datasets"
            )
    elif p.kind == "categorical" and p.counts is not None:
        top = sorted(p.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[: summary.TOP_VALUES]
        out["unique"] = None if p.truncated else len(p.counts)
        out["top"] = [{"value": summary.json_safe(v), "count": n} for v, n in top]
        if p.truncated:
            out["approx"] = True
    elif p.kind == "temporal" and p.lo is not None:
        if p.type.startswith("duration["):
            kind = pa.duration(p.type[len("duration[") : -1])
            out["min"] = summary.json_safe(pa.scalar(p.lo, kind).as_py())
            out["max"] = summary.json_safe(pa.scalar(p.hi, kind).as_py())
        else:
            out["min"] = summary.json_safe(p.lo)
            out["max"] = summary.json_safe(p.hi)
    return out


QUARTILES = ("25%", "50%", "75%")


def _sketch_histogram(sketch: Any, n: int, lo: float, hi: float) -> dict[str, list[Any]]:
    """HIST_BINS equal bins over the merged [lo, hi], counts from the sketch's CDF."""
    width = hi - lo
    if not width > 0 or width <= max(abs(lo), abs(hi)) * 1e-9 * summary.HIST_BINS:
        return {"counts": [n], "edges": [summary.json_safe(lo), summary.json_safe(hi)]}
    edges = np.linspace(lo, hi, summary.HIST_BINS + 1)
    cdf = np.asarray(sketch.get_cdf(list(edges[1:-1])), dtype=float)  # P(x < edge)
    shares = np.diff(np.concatenate([[0.0], cdf]))  # the last value of the CDF is 1
    counts = np.rint(shares * n).astype(int)
    counts[-1] += n - int(counts.sum())  # rounding: the bins add up to the values
    return {"counts": counts.tolist(), "edges": [summary.json_safe(float(e)) for e in edges]}
