"""Tables (pandas, pyarrow, polars) as datasets: Parquet (or CSV / Arrow IPC) plus a summary.

What comes back is what went in: the same column types (Parquet stores some types in another
unit — date64, time32[s], timestamp[s] — and they are cast back on load), the same pandas index,
the same rows (CSV keeps all-null rows; a frame with rows and no columns keeps its rows). What a
format cannot hold is refused when logging, never lost silently.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import blake3
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ..errors import UnsupportedTypeError
from . import summary
from .base import Materializer

# Types Parquet writes in another unit; a version holding them is cast back when it loads.
_PARQUET_COERCED: tuple[Callable[[pa.DataType], bool], ...] = (
    lambda t: pa.types.is_date64(t),
    lambda t: pa.types.is_time32(t) and t.unit == "s",
    lambda t: pa.types.is_timestamp(t) and t.unit == "s",
)


@dataclass
class PreparedTable:
    table: pa.Table
    python_type: str  # "pandas" | "arrow" | "polars": what load() gives back
    freq: str | None = None  # a pandas DatetimeIndex's frequency (Arrow keeps none)


class DatasetMaterializer(Materializer):
    """One pandas→Arrow conversion, shared by the write, the statistics and the fingerprint."""

    name = "dataset"
    aliases = ("prefect_artifacts.materializers.dataset.DatasetMaterializer",)
    kind = "dataset"
    types = ("pandas.DataFrame", pa.Table, pa.RecordBatch, "polars.DataFrame")
    formats = ("parquet", "csv", "arrow")
    parse_before_verify = True

    def prepare(self, obj: Any, fmt: str, options: dict[str, Any]) -> PreparedTable:
        if isinstance(obj, pa.Table):
            prepared = PreparedTable(obj, "arrow")
        elif isinstance(obj, pa.RecordBatch):
            prepared = PreparedTable(pa.Table.from_batches([obj]), "arrow")
        elif type(obj).__module__.startswith("polars"):
            prepared = PreparedTable(polars_to_arrow(obj), "polars")
        else:
            freq = getattr(obj.index, "freqstr", None)
            prepared = PreparedTable(from_pandas(obj), "pandas", freq)
        _check_names(prepared.table)
        check_types(prepared.table.schema, fmt)
        if fmt == "csv":
            _check_csv(prepared.table)
        return prepared

    def losses(self, obj: Any, prepared: PreparedTable, fmt: str) -> list[str]:
        """What ``fmt`` would not give back (docs/explanation/fidelity.md)."""
        found = []
        if prepared.python_type == "pandas":
            found += pandas_losses(obj, prepared.table)
        stored = _stored_dictionaries(prepared.table, fmt)
        too_big = [n for n, d in stored.items() if d.nbytes > DICTIONARY_MAX]
        found += [
            f"categorical column {n!r} has too many categories ({len(stored[n]):,}) to record "
            f"their order for {fmt}; log it as format='arrow'"
            for n in too_big
        ]
        return found

    def fingerprint(self, prepared: PreparedTable, fmt: str) -> str:
        """BLAKE3 over the Arrow schema and the data (~8 GB/s), without serializing: equal
        fingerprints mean equal content. Flat columns hash their buffers with their offset and
        length; nested, dictionary and extension columns (whose children carry offsets of their
        own) hash their IPC encoding, which writes exactly the values the column holds."""
        table = prepared.table
        freq = f"freq={prepared.freq}|" if prepared.freq else ""
        digest = blake3.blake3(f"{fmt}|{pa.__version__}|{prepared.python_type}|{freq}".encode())
        digest.update(table.schema.serialize())
        digest.update(f"|rows={table.num_rows}|".encode())
        for index, column in enumerate(table.columns):
            for chunk in column.chunks:
                digest.update(f"|{index}:{chunk.offset},{len(chunk)},{chunk.null_count}|".encode())
                if _flat(chunk.type):
                    for buffer in chunk.buffers():
                        digest.update(b"-" if buffer is None else memoryview(buffer))
                else:
                    # An IPC stream, not RecordBatch.serialize(): only the stream carries the
                    # dictionaries (of dictionary columns at any depth).
                    batch = pa.record_batch([chunk], names=["c"])
                    sink = pa.BufferOutputStream()
                    with ipc.new_stream(sink, batch.schema) as writer:
                        writer.write_batch(batch)
                    digest.update(memoryview(sink.getvalue()))
        return digest.hexdigest()

    def save(self, prepared: PreparedTable, sink: BinaryIO, fmt: str) -> None:
        table = prepared.table
        if fmt == "parquet":
            # page checksums: partial (push-down) reads check what they read
            pq.write_table(
                table, sink, use_dictionary=dictionary_columns(table), write_page_checksum=True
            )
        elif fmt == "csv":
            pacsv.write_csv(_csv_ready(table), sink)
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
        meta = {
            "rows": table.num_rows,
            "columns": len(summary.data_columns(table)),
            "schema": summary.schema_of(table),
            "preview": summary.preview_of(table, rows) if rows > 0 else None,
            "stats": summary.stats_of(table) if want_stats else None,
            "python_type": prepared.python_type,
        }
        if prepared.freq:
            meta["index_freq"] = prepared.freq
        dictionaries = _stored_dictionaries(table, fmt)
        if fmt == "csv" or dictionaries or (fmt == "parquet" and _needs_cast(table)):
            meta["arrow_schema"] = base64.b64encode(table.schema.serialize()).decode()
        if dictionaries:  # the categories and their order, which the format does not keep
            meta["dictionaries"] = {
                name: base64.b64encode(_serialized(values)).decode()
                for name, values in dictionaries.items()
            }
        return meta

    def returns_equal(self, obj: Any, version: Any) -> bool:
        """Per frame: not logged lossy, and of the type load() gives back (a RecordBatch
        loads as a Table)."""
        if getattr(version, "lossy", None):
            return False
        python_type = getattr(version, "python_type", None)
        if isinstance(obj, pa.Table):
            return python_type == "arrow"
        if type(obj).__module__.startswith("polars"):
            return python_type == "polars"
        return python_type == "pandas" and type(obj).__name__ == "DataFrame"

    def load(self, data: bytes, version: Any, as_pandas: bool = False) -> Any:
        return self._load(io.BytesIO(data), lambda: pa.BufferReader(data), version, as_pandas)

    def load_file(self, path: str, version: Any, as_pandas: bool = False) -> Any:
        """Large versions: parse straight from a verified local file."""
        return self._load(path, lambda: pa.OSFile(path), version, as_pandas)

    def _load(self, source: Any, reader: Any, version: Any, as_pandas: bool) -> Any:
        python_type = "pandas" if as_pandas else getattr(version, "python_type", "pandas")
        schema = stored_schema(version)
        rows = getattr(version, "rows", None)
        no_columns = getattr(version, "columns", None) == 0 and bool(rows)
        if (
            version.format == "parquet"
            and python_type == "pandas"
            and not schema
            and not no_columns
        ):
            import pandas as pd

            return _with_freq(pd.read_parquet(source), version)  # pandas' own fast path
        with reader() as handle:  # read into memory: nothing keeps the file open or mapped
            table = read_table(handle, version.format, schema, stored_dictionaries(version))
        if table.num_columns == 0 and rows:  # Parquet keeps no row count without columns
            if python_type == "pandas":
                return _rows_only_frame(table.schema, rows)
            table = pa.table({"_": pa.nulls(rows)}).drop_columns(["_"])
        if python_type == "pandas":
            return _with_freq(table.to_pandas(), version)
        if python_type == "polars":
            import polars as pl

            return pl.from_arrow(table)
        return table


def _with_freq(frame: Any, version: Any) -> Any:
    """The logged frame's DatetimeIndex frequency put back (Arrow stores the dates only)."""
    freq = (getattr(version, "meta", None) or {}).get("index_freq")
    if freq and hasattr(frame.index, "freq"):
        frame.index.freq = freq
    return frame


SAMPLE = 8192  # rows sampled when choosing column encodings
MIN_ROWS = 1 << 16  # smaller tables keep the writer's default
DISTINCT_RATIO = 0.99


def dictionary_columns(table: pa.Table) -> bool | list[str]:
    """The columns worth Parquet's dictionary encoding: all but those whose sampled values
    (SAMPLE evenly spaced rows, nulls and NaNs left out) are nearly all distinct — random
    floats, ids, hashes, also when some are missing. For those
    the writer builds a hash table, overflows the dictionary page limit and falls back to plain
    encoding: a quarter of the write time spent for a larger file. Evenly spaced rows also see
    the repeats of periodic or sorted low-cardinality columns. Nested tables and small ones
    keep the writer's default (dictionary everywhere)."""
    rows = table.num_rows
    flat = all(_flat(f.type) or pa.types.is_dictionary(f.type) for f in table.schema)
    if rows < MIN_ROWS or not flat:
        return True
    positions = pa.array(np.linspace(0, rows - 1, SAMPLE).astype(np.int64))
    chosen = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type) or pa.types.is_boolean(column.type):
            chosen.append(name)
            continue
        sample = column.take(positions).drop_null()  # nulls and NaNs: not values to encode
        if pa.types.is_floating(sample.type):
            sample = sample.filter(pc.invert(pc.is_nan(sample)))
        if len(sample) == 0 or pc.count_distinct(sample).as_py() < DISTINCT_RATIO * len(sample):
            chosen.append(name)
    return chosen


def _rows_only_frame(schema: pa.Schema, rows: int) -> Any:
    """A pandas frame with rows and no columns, its range index as pandas described it."""
    import json

    import pandas as pd

    described = json.loads((schema.metadata or {}).get(b"pandas", b"{}"))
    index: dict[str, Any] = next(
        (i for i in described.get("index_columns", []) if isinstance(i, dict)),
        {"start": 0, "step": 1, "name": None},
    )
    start, step = index.get("start", 0), index.get("step", 1)
    return pd.DataFrame(
        index=pd.RangeIndex(start, start + rows * step, step, name=index.get("name"))
    )


def read_table(
    reader: Any,
    fmt: str,
    schema: pa.Schema | None = None,
    dictionaries: dict[str, pa.Array] | None = None,
) -> pa.Table:
    """Parse a stored table; ``schema`` (the logged one) and ``dictionaries`` (the categories
    of dictionary columns, in order) restore what the format changed."""
    if fmt == "parquet":
        table = pq.read_table(reader)
    elif fmt == "csv":
        table = _read_csv(reader, schema)
    else:
        table = ipc.open_file(reader).read_all()
    if schema is not None and (table.schema != schema or dictionaries):
        table = restore(table, schema, dictionaries or {})
    return table


def restore(table: pa.Table, schema: pa.Schema, dictionaries: dict[str, pa.Array]) -> pa.Table:
    """``table`` cast to the logged ``schema``; a dictionary column whose categories were
    recorded is rebuilt on them (their order, unused ones, any value type)."""
    columns = []
    for field, column in zip(schema, table.columns, strict=True):
        values = dictionaries.get(field.name)
        if values is not None and pa.types.is_dictionary(field.type):
            column = _encoded(column, field.type, values)
        elif column.type != field.type:
            column = column.cast(field.type)
        columns.append(column)
    return pa.table(columns, schema=schema)


def _encoded(column: pa.ChunkedArray, kind: pa.DictionaryType, values: pa.Array) -> Any:
    if pa.types.is_dictionary(column.type):
        column = column.cast(kind.value_type)
    chunks = []
    for chunk in column.chunks or [pa.array([], kind.value_type)]:  # no rows: the categories
        indices = pc.index_in(chunk, value_set=values).cast(kind.index_type)
        chunks.append(pa.DictionaryArray.from_arrays(indices, values, ordered=kind.ordered))
    return pa.chunked_array(chunks, type=kind)


DICTIONARY_MAX = 1 << 20  # categories recorded with a version (bytes of Arrow data)


def _stored_dictionaries(table: pa.Table, fmt: str) -> dict[str, pa.Array]:
    """The categories a format would not keep: every dictionary column of a CSV, and those
    of Parquet whose values are not strings (Parquet reads those back as plain columns)."""
    found = {}
    for field, column in zip(table.schema, table.columns, strict=True):
        if not pa.types.is_dictionary(field.type) or (fmt == "arrow" and len(column)):
            continue  # Arrow IPC keeps dictionaries (but writes none without a row)
        kind = field.type.value_type
        text = _text_type(kind)
        if fmt == "parquet" and text and column.null_count < len(column):
            continue  # Parquet keeps these (with no value to write, it keeps no categories)
        chunks = column.chunks
        found[field.name] = (
            chunks[0].dictionary
            if len(chunks) == 1
            else column.unify_dictionaries().chunks[0].dictionary
            if chunks
            else pa.array([], kind)
        )
    return found


def _text_type(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _serialized(values: pa.Array) -> bytes:
    batch = pa.record_batch([values], names=["v"])
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def stored_dictionaries(version: Any) -> dict[str, pa.Array]:
    encoded = (getattr(version, "meta", None) or {}).get("dictionaries") or {}
    out = {}
    for name, text in encoded.items():
        with ipc.open_stream(pa.py_buffer(base64.b64decode(text))) as reader:
            out[name] = reader.read_all().column(0).combine_chunks()
    return out


def stored_schema(version: Any) -> pa.Schema | None:
    encoded = (getattr(version, "meta", None) or {}).get("arrow_schema")
    return ipc.read_schema(pa.py_buffer(base64.b64decode(encoded))) if encoded else None


def _flat(kind: pa.DataType) -> bool:
    """Types whose buffers, with the array's offset and length, determine its values."""
    return not (
        pa.types.is_nested(kind)
        or pa.types.is_dictionary(kind)
        or isinstance(kind, pa.ExtensionType)
        or pa.types.is_union(kind)
    )


def _needs_cast(table: pa.Table) -> bool:
    """Whether Parquet gives back other types for this table (it also forgets that a column was
    a dictionary when that dictionary is empty: no rows, or only nulls)."""
    empty_dictionary = any(
        pa.types.is_dictionary(column.type) and all(len(c.dictionary) == 0 for c in column.chunks)
        for column in table.columns
    )
    return empty_dictionary or any(
        check(f.type) for f in table.schema for check in _PARQUET_COERCED
    )


def from_pandas(frame: Any) -> pa.Table:
    for name, dtype in frame.dtypes.items():
        if getattr(dtype, "kind", "") == "c":
            raise UnsupportedTypeError(
                f"column {name!r} holds complex numbers, which Arrow cannot store: keep the real "
                "and imaginary parts as two float columns (df[c].real, df[c].imag), or log the "
                "frame with log_artifact(..., format='pkl')"
            )
        if type(dtype).__name__ == "SparseDtype":
            raise UnsupportedTypeError(
                f"column {name!r} is sparse, which Arrow cannot store: log "
                "df.sparse.to_dense() (or convert that column with .sparse.to_dense())"
            )
    try:
        return pa.Table.from_pandas(frame)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError) as exc:
        raise UnsupportedTypeError(
            f"cannot convert this DataFrame to Arrow for storage: {exc}. Give every column one "
            "type (e.g. df[col] = df[col].astype(str) for mixed object columns)"
        ) from exc


def pandas_losses(frame: Any, table: pa.Table) -> list[str]:
    """What Arrow formats do not give back of a pandas frame: boolean column labels (stored
    as text, they load as True), and object columns of timestamps in several time zones
    (Arrow keeps one zone per column)."""
    import datetime as dt

    found = []
    labels = frame.columns
    if getattr(labels, "nlevels", 1) == 1 and labels.dtype == bool:
        found.append(
            f"the column labels {list(labels)[:6]} are booleans, which load back as text "
            "converted to bool (all True); rename them, e.g. df.columns = df.columns.map(str)"
        )
    for name, dtype in frame.dtypes.items():
        if getattr(dtype, "kind", "") != "O":
            continue
        position = table.schema.get_field_index(str(name))
        if position < 0 or not pa.types.is_timestamp(table.schema.field(position).type):
            continue  # only object columns Arrow made timestamps of are looked at
        zones = {
            str(x.tzinfo)
            for x in frame[name]
            if isinstance(x, dt.datetime) and x.tzinfo is not None
        }
        if len(zones) > 1:
            found.append(
                f"column {name!r} holds timestamps in {len(zones)} time zones "
                f"({', '.join(sorted(zones)[:3])}), which load back in one; convert them to one "
                "zone (pd.to_datetime(df[col], utc=True)) or keep the zone in another column"
            )
    return found


UNSUPPORTED = {  # what → (test, how to convert it)
    "a union": (pa.types.is_union, "split it into one column per member type"),
    "run-end encoded": (pa.types.is_run_end_encoded, "decode it with pc.run_end_decode(column)"),
    "a month_day_nano interval": (
        pa.types.is_interval,
        "keep months, days and nanoseconds as three integer columns",
    ),
}


def check_types(schema: pa.Schema, fmt: str) -> None:
    """Refuse columns of types the format cannot store, naming them and the fix."""
    if fmt == "arrow":
        return
    for field in schema:
        for what, (test, fix) in UNSUPPORTED.items():
            if _any_type(field.type, test):
                raise UnsupportedTypeError(
                    f"column {field.name!r} is {what} ({field.type}), which {fmt} cannot store; "
                    f"log the table as format='arrow', or {fix}"
                )


def _any_type(kind: pa.DataType, test: Any) -> bool:
    if test(kind):
        return True
    if pa.types.is_dictionary(kind):
        return _any_type(kind.value_type, test)
    if pa.types.is_run_end_encoded(kind):
        return _any_type(kind.value_type, test)
    return any(_any_type(kind.field(i).type, test) for i in range(kind.num_fields))


def polars_to_arrow(frame: Any) -> pa.Table:
    """A polars frame as Arrow; types Arrow cannot take (Int128) refused by name."""
    wide = [n for n, t in frame.schema.items() if str(t).startswith(("Int128", "UInt128"))]
    if wide:
        raise UnsupportedTypeError(
            f"column(s) {wide} are polars 128-bit integers, which Arrow cannot store; cast "
            "them to pl.Int64 (if the values fit) or pl.Decimal(38, 0)"
        )
    return frame.to_arrow()


def _check_names(table: pa.Table) -> None:
    repeated = sorted(name for name, n in Counter(table.column_names).items() if n > 1)
    if repeated:
        raise UnsupportedTypeError(
            f"column names {repeated} appear more than once; a dataset's columns need distinct "
            "names: rename them (e.g. table.rename_columns([...]) or df.columns = [...])"
        )


def _check_csv(table: pa.Table) -> None:
    unfit = [
        f"{f.name} ({f.type})"
        for f in table.schema
        if (not _flat(f.type) and not pa.types.is_dictionary(f.type))
        or pa.types.is_binary(f.type)
        or pa.types.is_large_binary(f.type)
        or pa.types.is_fixed_size_binary(f.type)
    ]
    if unfit:
        raise UnsupportedTypeError(
            f"CSV cannot hold the columns {', '.join(unfit)} (nested or binary values); log this "
            "table as format='parquet' (the default) or format='arrow'"
        )


def _csv_ready(table: pa.Table) -> pa.Table:
    """Dictionary columns as their values (the stored schema restores them on load)."""
    columns = [
        column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
        for column in table.columns
    ]
    return pa.table(columns, names=table.column_names)


def _read_csv(reader: Any, schema: pa.Schema | None) -> pa.Table:
    if schema is None:  # versions logged before schemas were stored with CSV
        return pacsv.read_csv(reader)
    types = {
        f.name: f.type.value_type if pa.types.is_dictionary(f.type) else f.type for f in schema
    }
    table = pacsv.read_csv(
        reader,
        parse_options=pacsv.ParseOptions(ignore_empty_lines=False),  # an all-null row
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            null_values=[""],  # only an empty field: "nan" is NaN, not null
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,  # "" stays an empty string, nothing is null
        ),
    )
    return table.replace_schema_metadata(schema.metadata)


TABLE_FILES = ("parquet", "csv")  # file formats read back as a table (local_path=, target_path=)


def read_table_file(source: Any, fmt: str) -> pa.Table:
    """A Parquet or CSV file (a path or an open binary file) as an Arrow table."""
    if fmt == "parquet":
        return pq.read_table(source)
    if fmt == "csv":
        return pacsv.read_csv(source)
    raise ValueError(f"not a table file format: {fmt!r}; one of {TABLE_FILES}")
