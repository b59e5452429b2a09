"""Multi-part datasets: Parquet parts written from a stream of record batches, and the part
index that lists them. Pure: writes to a file object, knows no storage paths.

A multi-part version's own blob is its *part index* (JSON, content-addressed like every blob):
the Arrow schema and, per part, its sha256, size, rows and row-group statistics (rows, bytes,
and each column's min, max and null count). Identical parts have identical bytes, so they are
stored once and shared by every version that lists them.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ..errors import InvalidArgumentError, UnsupportedTypeError
from . import partstats, summary

_STATS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefect-artifacts-stats")
NAME = "dataset-parts"  # the materializer name recorded for multi-part versions
INDEX_FORMAT = "prefect-artifacts/parts/1"
PART_BYTES = 128 << 20  # a part closes once this much Arrow data went into it
ROW_GROUP_BYTES = 32 << 20  # batches are gathered into row groups of about this size
ROW_GROUP_ROWS = 1 << 20


@dataclass
class PartInfo:
    """What writing one part produced (small: travels back from Dask workers)."""

    hash: str
    size: int
    rows: int
    row_groups: list[dict[str, Any]]
    stats: dict[str, partstats.ColumnPartial]
    preview: list[dict[str, Any]] = field(default_factory=list)
    schema: bytes = b""
    index: list[int] | None = None  # [start, step] of a pandas range index not stored

    def entry(self) -> dict[str, Any]:
        entry = {
            "hash": self.hash,
            "size": self.size,
            "rows": self.rows,
            "row_groups": self.row_groups,
        }
        if self.index is not None:
            entry["index"] = self.index
        return entry


class Batches:
    """Record batches with one schema, from any stream; a batch can be pushed back."""

    def __init__(
        self, source: Iterable[Any], python_type: str, max_bytes: int = ROW_GROUP_BYTES
    ) -> None:
        self._source = iter(source)
        self.max_bytes = max_bytes  # larger batches are sliced (parts stay bounded)
        self._back: list[pa.RecordBatch] = []
        self.schema: pa.Schema | None = None
        self.python_type = python_type
        self.rows = 0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self

    def __next__(self) -> pa.RecordBatch:
        if self._back:
            return self._back.pop()
        while True:
            item = next(self._source)
            pieces: list[pa.RecordBatch] = []
            for batch in as_batches(item):
                batch = self._conform(batch)
                if batch.num_rows or (self.rows == 0 and not pieces):
                    pieces += _sliced(batch, self.max_bytes)
            if pieces:
                self.rows += sum(b.num_rows for b in pieces)
                self._back.extend(reversed(pieces[1:]))
                return pieces[0]

    def push(self, batch: pa.RecordBatch) -> None:
        self._back.append(batch)

    def peek(self) -> pa.RecordBatch | None:
        try:
            batch = next(self)
        except StopIteration:
            return None
        self.push(batch)
        return batch

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if self.schema is None:
            from .dataset import check_types

            check_names(batch.schema.names)
            check_types(batch.schema, "parquet")
            self.schema = batch.schema
            return batch
        if batch.schema.equals(self.schema):
            return batch
        if batch.schema.names != self.schema.names:
            raise InvalidArgumentError(
                f"batch {self.rows:,} rows into the stream has columns {batch.schema.names[:8]}, "
                f"not {self.schema.names[:8]} like the first one; every batch of a dataset "
                "needs the same columns in the same order"
            )
        changed = [
            f"{g.name} ({g.type} → {f.type})"
            for f, g in zip(self.schema, batch.schema, strict=True)
            if f.type != g.type
        ]
        try:
            cast = batch.cast(self.schema)
            # only a cast that changes no value: every column casts back to what it was
            # ("01234" → 1234 → "1234" does not)
            exact = all(
                pa.types.is_null(g.type)
                or f.type == g.type
                or (_text(f.type) == _text(g.type) and after.cast(g.type).equals(before))
                for f, g, before, after in zip(
                    self.schema, batch.schema, batch.columns, cast.columns, strict=True
                )
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise InvalidArgumentError(
                f"a batch {self.rows:,} rows into the stream changes column types: "
                f"{', '.join(changed)} ({exc}); cast every batch to one schema first"
            ) from None
        if not exact:
            raise InvalidArgumentError(
                f"a batch {self.rows:,} rows into the stream has other column types: "
                f"{', '.join(changed)}; casting it would change values, so it is refused. "
                "Give every batch one schema (e.g. batch.cast(schema) where that is what you "
                "mean)"
            )
        return cast


def _text(kind: pa.DataType) -> bool:
    """Whether values of ``kind`` are text (or bytes): a cast to or from them parses."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _sliced(batch: pa.RecordBatch, max_bytes: int) -> list[pa.RecordBatch]:
    if batch.nbytes <= max_bytes or batch.num_rows < 2:
        return [batch]
    count = min(batch.num_rows, -(-batch.nbytes // max_bytes))
    step = -(-batch.num_rows // count)
    return [batch.slice(i, step) for i in range(0, batch.num_rows, step)]


def as_batches(item: Any) -> list[pa.RecordBatch]:
    """One item of a stream (pandas/polars frame, Arrow table or batch) as record batches."""
    if isinstance(item, pa.RecordBatch):
        return [item]
    if isinstance(item, pa.Table):
        return item.to_batches() or [pa.RecordBatch.from_pylist([], schema=item.schema)]
    if type(item).__module__.startswith("polars"):
        from .dataset import polars_to_arrow

        return as_batches(polars_to_arrow(item))
    if type(item).__module__.startswith("pandas") and hasattr(item, "dtypes"):
        return as_batches(from_pandas(item))
    raise UnsupportedTypeError(
        f"a dataset stream yielded {type(item).__module__}.{type(item).__qualname__}; it must "
        "yield pandas or polars DataFrames, pyarrow Tables or RecordBatches"
    )


def from_pandas(frame: Any) -> pa.Table:
    """A pandas frame as Arrow: a default range index is dropped (each part would otherwise
    describe its own), any other index is kept as columns."""
    import pandas as pd

    from .dataset import from_pandas

    keep = not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None)
    try:  # an index kept is stored as columns, never as one part's range
        return pa.Table.from_pandas(frame, preserve_index=keep)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError):
        return from_pandas(frame)  # its error message


def check_names(names: list[str]) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UnsupportedTypeError(
            f"column names {repeated} appear more than once; a dataset's columns need distinct "
            "names: rename them"
        )


def write_part(
    batches: Batches,
    sink: BinaryIO,
    *,
    part_bytes: int = PART_BYTES,
    offset: int = 0,
    preview_rows: int = 0,
    stats: bool = True,
    limit: bool = True,
) -> PartInfo:
    """Write batches from ``batches`` into one Parquet file on ``sink`` (with page checksums)
    until about ``part_bytes`` of Arrow data went in (``limit=False``: all of them). Returns
    its row-group statistics and the mergeable column statistics of its rows (``offset``: the
    position of its first row in the dataset)."""
    first = batches.peek()
    if first is None:
        raise InvalidArgumentError("the dataset stream yielded no batches; nothing to log")
    schema = batches.schema
    assert schema is not None  # the first batch (peeked above) set it
    merged: dict[str, partstats.ColumnPartial] | None = None
    preview: list[dict[str, Any]] = []
    written = rows = 0
    buffer: list[pa.RecordBatch] = []
    buffered = 0
    pending: list[Any] = []  # the statistics of the last row group, being computed
    with pq.ParquetWriter(sink, schema, write_page_checksum=True) as writer:

        def flush() -> None:
            nonlocal buffer, buffered, merged, preview, rows
            if not buffer:
                return
            table = pa.Table.from_batches(buffer, schema)
            buffer, buffered = [], 0
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            if preview_rows and len(preview) < preview_rows:
                preview += summary.preview_of(table, preview_rows - len(preview))
            if stats:  # on a second thread, overlapping the next row group's write
                if pending:
                    part = pending.pop().result()
                    merged = part if merged is None else partstats.merge(merged, part)
                pending.append(_STATS.submit(partstats.partial_of, table, offset + rows))
            rows += table.num_rows

        for batch in batches:
            if limit and written and written + batch.nbytes > part_bytes:
                batches.push(batch)
                break
            buffer.append(batch)
            buffered += batch.nbytes
            written += batch.nbytes
            if buffered >= ROW_GROUP_BYTES or sum(b.num_rows for b in buffer) >= ROW_GROUP_ROWS:
                flush()
        flush()
        for future in pending:
            part = future.result()
            merged = part if merged is None else partstats.merge(merged, part)
    metadata = writer.writer.metadata
    return PartInfo(
        hash="",
        size=0,
        rows=rows,
        row_groups=row_groups(metadata),
        stats=merged or {},
        preview=preview,
        schema=schema.serialize().to_pybytes(),
    )


def _new_pool_after_fork() -> None:
    global _STATS
    _STATS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefect-artifacts-stats")


os.register_at_fork(after_in_child=_new_pool_after_fork)


def row_groups(metadata: pq.FileMetaData) -> list[dict[str, Any]]:
    """Each row group's rows, bytes and per-column min, max and null count."""
    groups = []
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        columns = {}
        for j in range(group.num_columns):
            chunk = group.column(j)
            stats = chunk.statistics
            if stats is None:
                continue
            entry: dict[str, Any] = {"nulls": stats.null_count}
            if stats.has_min_max:
                entry["min"] = summary.json_safe(stats.min)
                entry["max"] = summary.json_safe(stats.max)
            columns[chunk.path_in_schema] = entry
        groups.append({"rows": group.num_rows, "bytes": group.total_byte_size, "columns": columns})
    return groups


def index_document(schema: pa.Schema, python_type: str, parts: list[PartInfo]) -> bytes:
    """The part index: deterministic JSON, so identical content gives an identical hash."""
    document = {
        "format": INDEX_FORMAT,
        "python_type": python_type,
        "schema": base64.b64encode(schema.serialize().to_pybytes()).decode(),
        "parts": [p.entry() for p in parts],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def parse_index(data: bytes) -> dict[str, Any]:
    document = json.loads(data)
    if not isinstance(document, dict) or document.get("format") != INDEX_FORMAT:
        raise ValueError("not a prefect-artifacts part index")
    document["arrow_schema"] = ipc.read_schema(pa.py_buffer(base64.b64decode(document["schema"])))
    return document


def schema_of(data: bytes) -> pa.Schema:
    return ipc.read_schema(pa.py_buffer(data))
