"""Tables (pandas, pyarrow, polars) as datasets: Parquet (or CSV / Arrow IPC) plus a summary."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, BinaryIO

import blake3
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ..errors import UnsupportedTypeError
from . import summary
from .base import Materializer


@dataclass
class PreparedTable:
    table: pa.Table
    python_type: str  # "pandas" | "arrow" | "polars": what load() gives back


class DatasetMaterializer(Materializer):
    """One pandas→Arrow conversion, shared by the Parquet write and the statistics."""

    name = "dataset"
    aliases = ("prefect_artifacts.materializers.dataset.DatasetMaterializer",)
    kind = "dataset"
    types = ("pandas.DataFrame", pa.Table, pa.RecordBatch, "polars.DataFrame")
    formats = ("parquet", "csv", "arrow")
    parse_before_verify = True

    def prepare(self, obj: Any, fmt: str, options: dict[str, Any]) -> PreparedTable:
        if isinstance(obj, pa.Table):
            return PreparedTable(obj, "arrow")
        if isinstance(obj, pa.RecordBatch):
            return PreparedTable(pa.Table.from_batches([obj]), "arrow")
        if type(obj).__module__.startswith("polars"):
            return PreparedTable(obj.to_arrow(), "polars")
        try:
            return PreparedTable(pa.Table.from_pandas(obj), "pandas")
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
            raise UnsupportedTypeError(
                f"cannot convert this DataFrame to Arrow for storage: {exc}. Give every column one "
                "type (e.g. df[col] = df[col].astype(str) for mixed object columns)"
            ) from exc

    def fingerprint(self, prepared: PreparedTable, fmt: str) -> str:
        """BLAKE3 over the Arrow schema and buffers (~8 GB/s): no serialization needed."""
        table = prepared.table
        digest = blake3.blake3(f"{fmt}|{pa.__version__}|{prepared.python_type}|".encode())
        digest.update(table.schema.serialize())
        for column in table.columns:
            for chunk in column.chunks:
                digest.update(f"|{chunk.offset},{len(chunk)},{chunk.null_count}|".encode())
                _hash_buffers(digest, chunk)
        return digest.hexdigest()

    def save(self, prepared: PreparedTable, sink: BinaryIO, fmt: str) -> None:
        table = prepared.table
        if fmt == "parquet":
            pq.write_table(table, sink)
        elif fmt == "csv":
            pacsv.write_csv(table, sink)
        else:
            with ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)

    def metadata(
        self, prepared: PreparedTable, fmt: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        table = prepared.table
        rows = options.get("preview")
        rows = summary.PREVIEW_ROWS if rows is None or rows is True else int(rows)
        want_stats = options.get("stats")
        if want_stats is None:
            want_stats = table.num_rows * table.num_columns <= summary.STATS_MAX_CELLS
        return {
            "rows": table.num_rows,
            "columns": len(summary.data_columns(table)),
            "schema": summary.schema_of(table),
            "preview": summary.preview_of(table, rows) if rows > 0 else None,
            "stats": summary.stats_of(table) if want_stats else None,
            "python_type": prepared.python_type,
        }

    def load(self, data: bytes, version: Any, as_pandas: bool = False) -> Any:
        return self._load(io.BytesIO(data), lambda: pa.BufferReader(data), version, as_pandas)

    def load_file(self, path: str, version: Any, as_pandas: bool = False) -> Any:
        """Large versions: parse straight from a verified local file."""
        return self._load(path, lambda: pa.OSFile(path), version, as_pandas)

    def _load(self, source: Any, reader: Any, version: Any, as_pandas: bool) -> Any:
        python_type = "pandas" if as_pandas else getattr(version, "python_type", "pandas")
        if version.format == "parquet" and python_type == "pandas":
            import pandas as pd

            return pd.read_parquet(source)
        with reader() as handle:  # read into memory: nothing keeps the file open or mapped
            table = read_table(handle, version.format)
        if python_type == "pandas":
            return table.to_pandas()
        if python_type == "polars":
            import polars as pl

            return pl.from_arrow(table)
        return table


def read_table(reader: Any, fmt: str) -> pa.Table:
    if fmt == "parquet":
        return pq.read_table(reader)
    if fmt == "csv":
        return pacsv.read_csv(reader)
    return ipc.open_file(reader).read_all()


def _hash_buffers(digest: Any, array: pa.Array) -> None:
    for buffer in array.buffers():
        if buffer is not None:
            digest.update(memoryview(buffer))
    if isinstance(array, pa.DictionaryArray):
        _hash_buffers(digest, array.dictionary)
