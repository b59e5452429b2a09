"""Logging datasets larger than memory as multi-part versions (called by ``writer.log``).

Sources: a Dask DataFrame (each partition written by the worker that holds it, straight to
storage), or a stream — an iterator of pandas/polars frames, Arrow tables or record batches, a
``pyarrow.RecordBatchReader``, a ``pyarrow.dataset.Dataset`` or a polars ``LazyFrame`` — written
in parts of bounded size with bounded memory.

The commit protocol holds: every part is a content-addressed blob written first, then the part
index (the version's own blob), then one catalog transaction inserts the version and its part
rows and queues its manifest. A failure before the commit leaves only orphan blobs for ``gc``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..catalog import PartRecord
from ..errors import InvalidArgumentError
from ..faults import fault_point
from ..materializers import parts as partlib
from ..materializers import partstats
from ..materializers.summary import PREVIEW_ROWS, json_safe, schema_of
from ..storage import Storage
from . import extras
from .indexed import Indexed

if TYPE_CHECKING:
    from .protocol import Repo


def is_multipart(obj: Any) -> bool:
    """Whether ``obj`` is logged in parts: a Dask DataFrame or a stream of batches."""
    return is_dask(obj) or _stream_kind(obj) is not None


def is_dask(obj: Any) -> bool:
    module = type(obj).__module__
    return (module.startswith(("dask.", "dask_expr"))) and hasattr(obj, "to_delayed")


def _stream_kind(obj: Any) -> str | None:
    module = type(obj).__module__
    if isinstance(obj, pa.RecordBatchReader):
        return "reader"
    if module.startswith("pyarrow") and type(obj).__name__.endswith("Dataset"):
        return "dataset"
    if module.startswith("polars") and type(obj).__name__ == "LazyFrame":
        return "lazyframe"
    if isinstance(obj, Iterator) and not isinstance(obj, (str, bytes, pa.Table, pa.RecordBatch)):
        return "iterator"
    return None


def _stream(obj: Any) -> tuple[Iterable[Any], str]:
    """(an iterable of batches or frames, the python type load() gives back)."""
    kind = _stream_kind(obj)
    if kind == "reader":
        return obj, "arrow"
    if kind == "dataset":
        return obj.to_batches(), "arrow"
    if kind == "lazyframe":
        return _polars_batches(obj), "polars"
    return obj, "stream"


def _polars_batches(lazy: Any) -> Iterator[Any]:
    """A LazyFrame executed in streaming slices (never collected whole)."""
    collect_batches = getattr(lazy, "collect_batches", None)
    if collect_batches is not None:
        yield from collect_batches()
        return
    yield from lazy.collect(engine="streaming").iter_slices(1 << 20)  # older polars


def store(
    repo: Repo,
    obj: Any,
    fmt: str | None,
    options: dict[str, Any],
    fields: dict[str, Any],
    extra_data: dict[str, Any] | None,
) -> Indexed:
    """Write the parts and the part index of a Dask DataFrame or a stream (arguments already
    validated by ``writer.log``)."""
    if fmt not in (None, "parquet"):
        raise InvalidArgumentError(
            f"multi-part datasets are stored as Parquet, not {fmt!r}; drop format= (or "
            "collect the data and log one frame as CSV)"
        )
    part_bytes = int(options.get("part_size", partlib.PART_BYTES))
    if part_bytes < 1 << 16:
        raise InvalidArgumentError("part_size must be at least 65536 bytes (e.g. 128 << 20)")
    preview_rows = options.get("preview")
    preview_rows = PREVIEW_ROWS if preview_rows in (None, True) else int(preview_rows)
    want_stats = options.get("stats", True) is not False
    if is_dask(obj):
        parts, python_type, merged = write_dask(repo.storage, obj, preview_rows, want_stats)
    else:
        source, python_type = _stream(obj)
        parts, python_type, merged = write_stream(
            repo.storage, source, python_type, part_bytes, preview_rows, want_stats
        )
    schema = partlib.schema_of(parts[0].schema)
    stored_extras = extras.store(repo, extra_data or {})
    index = repo.storage.put_bytes(partlib.index_document(schema, python_type, parts))
    fault_point("after-blob")
    preview = [row for part in parts for row in part.preview][:preview_rows]
    columns = schema_of(schema.empty_table())
    meta: dict[str, Any] = {
        "rows": sum(p.rows for p in parts),
        "columns": len(columns),
        "schema": columns,
        "python_type": python_type,
        "part_count": len(parts),
        "index_size": index.size,
    }
    custom = {k: v for k, v in fields.items() if k not in ("metrics", "parameters")}
    if custom:
        meta["meta"] = json_safe(custom, limit=None)
    identity = {
        "kind": "dataset",
        "format": "parquet",
        "materializer": partlib.NAME,
        "extras": {e.name: e.hash for e in stored_extras},
    }
    blobs = {index.hash: index.size, **{p.hash: p.size for p in parts}}
    blobs.update({e.hash: e.size for e in stored_extras})
    return Indexed(
        index,
        identity,
        suffix="parts",
        size=sum(p.size for p in parts),
        meta=meta,
        blobs=blobs,
        parts=[PartRecord(i, p.hash, p.size, p.rows) for i, p in enumerate(parts)],
        details={
            "preview": preview if preview_rows > 0 else None,
            "stats": partstats.finish(merged) if want_stats else None,
        },
        extras=stored_extras,
    )


def write_stream(
    storage: Storage,
    source: Iterable[Any],
    python_type: str,
    part_bytes: int,
    preview_rows: int,
    want_stats: bool,
) -> tuple[list[partlib.PartInfo], str, dict[str, partstats.ColumnPartial]]:
    """Write a stream as parts, one at a time (memory: about one row group plus the upload
    buffer); (the parts, the python type, their merged statistics). Each part's statistics are
    merged as it closes and dropped from it, so what stays per part is its index entry. The
    python type of a plain iterator is that of its first item."""
    first_type: dict[str, str | None] = {"value": None}

    def typed(items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            if first_type["value"] is None:
                module = type(item).__module__
                first_type["value"] = (
                    "pandas" if module.startswith("pandas") else
                    "polars" if module.startswith("polars") else "arrow"
                )  # fmt: skip
            yield item

    batches = partlib.Batches(
        typed(source), python_type, max_bytes=min(partlib.ROW_GROUP_BYTES, part_bytes // 4)
    )
    parts: list[partlib.PartInfo] = []
    merged: dict[str, partstats.ColumnPartial] = {}
    rows = 0
    while batches.peek() is not None:
        holder: dict[str, partlib.PartInfo] = {}

        def write(
            sink: Any, offset: int = rows, holder: dict[str, partlib.PartInfo] = holder
        ) -> None:
            holder["part"] = partlib.write_part(
                batches,
                sink,
                part_bytes=part_bytes,
                offset=offset,
                preview_rows=preview_rows if not parts else 0,
                stats=want_stats,
            )

        blob = storage.write_blob(write)
        part = holder["part"]
        part.hash, part.size = blob.hash, blob.size
        merged = fold_stats(merged, part)
        parts.append(part)
        rows += part.rows
    if not parts:
        raise InvalidArgumentError(
            "the dataset stream yielded no batches; nothing to log (an empty dataset can be "
            "logged as an empty DataFrame)"
        )
    if python_type == "stream":
        python_type = first_type["value"] or "arrow"
    return parts, python_type, merged


def fold_stats(
    merged: dict[str, partstats.ColumnPartial], part: partlib.PartInfo
) -> dict[str, partstats.ColumnPartial]:
    """``merged`` with the part's statistics added; the part keeps none (its exact-quantile
    values would otherwise add up to the whole dataset's numeric columns)."""
    stats, part.stats = part.stats, {}
    return partstats.merge(merged, stats) if merged else dict(stats)


# -- Dask ------------------------------------------------------------------------------------------
def write_dask(
    storage: Storage, ddf: Any, preview_rows: int, want_stats: bool
) -> tuple[list[partlib.PartInfo], str, dict[str, partstats.ColumnPartial]]:
    """Each partition written as one part by the worker that holds it (``dask.compute`` on the
    active scheduler: a distributed Client when one is set up); only part metadata and partial
    statistics travel back. Nothing is collected."""
    from dask.base import compute
    from dask.delayed import delayed

    if not hasattr(ddf, "to_delayed") or not hasattr(ddf, "npartitions"):
        raise InvalidArgumentError("log a dask.dataframe.DataFrame (a Series: use .to_frame())")
    python_type = "pandas"
    tasks = [
        delayed(write_partition, pure=False)(part, storage, preview_rows, want_stats)
        for part in ddf.to_delayed()
    ]
    parts = list(compute(*tasks))
    empty = [p for p in parts if p is None]
    parts = [p for p in parts if p is not None]
    if not parts:
        if not empty:
            raise InvalidArgumentError("the Dask DataFrame has no partitions; nothing to log")
        raise InvalidArgumentError("the Dask DataFrame has no rows; nothing to log")
    schemas = {p.schema for p in parts}
    if len(schemas) > 1:
        names = [partlib.schema_of(s) for s in schemas]
        raise InvalidArgumentError(
            "the Dask DataFrame's partitions have different schemas "
            f"({'; '.join(str(s).replace(chr(10), ', ')[:120] for s in names[:2])}); give "
            "every partition the same dtypes (e.g. ddf.astype({...}))"
        )
    merged: dict[str, partstats.ColumnPartial] = {}
    for part in parts:
        merged = fold_stats(merged, part)
    if _numbered_in_order(parts):  # the range index load() rebuilds anyway: 0, 1, 2, ...
        for part in parts:
            part.index = None
    return parts, python_type, merged


def _numbered_in_order(parts: list[partlib.PartInfo]) -> bool:
    """Whether the partitions' range indexes (not stored) continue each other from 0."""
    start = 0
    for part in parts:
        if part.index != [start, 1]:
            return False
        start += part.rows
    return True


def write_partition(
    frame: Any, storage: Storage, preview_rows: int, want_stats: bool
) -> partlib.PartInfo | None:
    """On a worker: one partition → one content-addressed Parquet part in storage."""
    import pandas as pd

    table = partlib.from_pandas(frame)
    if table.num_rows == 0:
        return None
    index = frame.index  # a range index is not stored: its start and step are
    dropped = isinstance(index, pd.RangeIndex) and index.name is None
    batches = partlib.Batches([table], "pandas")
    holder: dict[str, partlib.PartInfo] = {}

    def write(sink: Any) -> None:
        holder["part"] = partlib.write_part(
            batches, sink, preview_rows=preview_rows, stats=want_stats, limit=False
        )

    blob = storage.write_blob(write)
    part = holder["part"]
    part.hash, part.size = blob.hash, blob.size
    part.index = [index.start, index.step] if dropped else None
    return part
