"""Reading datasets by parts: full loads, push-down reads, and lazy frames (Arrow dataset,
Dask, polars, DuckDB). Works for multi-part versions and for single-file Parquet versions.

What each path verifies:

- ``load()`` with no ``columns``/``filters``: the part index's sha256, then every part's sha256
  (the whole file is read, so the whole file is checked) before a value is returned — through
  the verified-state record like a single-file blob: with ``verify=once`` (the default) a part
  whose file is unchanged since it was verified is not hashed again.
- ``load(columns=..., filters=...)``, ``to_arrow_dataset()``, ``to_polars(lazy=True)``,
  ``to_duckdb()``: only the needed row groups and columns are fetched, so no file sha256 can be
  checked; instead every Parquet page read is checked against the CRC32 written with it (parts
  are written with page checksums) — a corrupted page raises. The part index (the list of
  parts) is always sha256-verified. Single-file versions logged before page checksums were
  written have none to check: their partial reads verify nothing.
- ``to_dask()``: each partition reads its whole part on the worker and checks its sha256.
"""

from __future__ import annotations

import functools
import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.parquet as pq

from ..errors import IntegrityError, InvalidArgumentError, UnsupportedTypeError
from ..materializers import parts as partlib
from ..materializers.dataset import stored_schema
from ..storage import Identity, Storage
from .blobread import missing, read_verified

if TYPE_CHECKING:
    from ..models import ArtifactVersion
    from .protocol import Repo

THREADS = 8


def is_parts(v: ArtifactVersion) -> bool:
    return v.materializer == partlib.NAME


def _check_parquet(v: ArtifactVersion) -> None:
    if v.kind != "dataset" or v.format != "parquet":
        raise UnsupportedTypeError(
            f"{v.ref} is a {v.format} {v.kind}; column and row push-down and lazy frames need "
            "a Parquet dataset (load() reads it whole)"
        )


@functools.lru_cache(maxsize=64)
def _index(storage: Storage, digest: str) -> dict[str, Any]:
    try:
        data = storage.read_blob(digest)  # sha256-verified
    except FileNotFoundError:
        raise IntegrityError(
            f"the part index {storage.blob_url(digest)} is missing from storage"
        ) from None
    return partlib.parse_index(data)


def index(repo: Repo, v: ArtifactVersion) -> dict[str, Any]:
    return _index(repo.storage, v.hash)


def part_hashes(repo: Repo, v: ArtifactVersion) -> list[str]:
    if is_parts(v):
        return [p["hash"] for p in index(repo, v)["parts"]]
    return [v.hash]


def schema(repo: Repo, v: ArtifactVersion) -> pa.Schema:
    """The logged Arrow schema: the part index's, the one stored with the version, or the
    Parquet file's own."""
    if is_parts(v):
        return index(repo, v)["arrow_schema"]
    stored = stored_schema(v)
    if stored is not None:
        return stored
    try:
        with repo.storage.fs.open(repo.storage.blob_path(v.hash), "rb") as fh:
            return pq.ParquetFile(fh).schema_arrow
    except FileNotFoundError:
        raise IntegrityError(f"the bytes of {v.ref} are missing ({v.target_path})") from None
    except (pa.ArrowInvalid, OSError) as exc:  # an unreadable footer: are the bytes ours?
        raise_if_damaged(repo, v, exc)
        raise


def python_type(v: ArtifactVersion, as_type: str | None) -> str:
    return as_type or getattr(v, "python_type", None) or "pandas"


# -- full loads -----------------------------------------------------------------------------------
def part_sizes(repo: Repo, v: ArtifactVersion) -> list[tuple[str, int]]:
    """(sha256, size) of each part, in order (a single-file version: its one file)."""
    if is_parts(v):
        return [(p["hash"], p["size"]) for p in index(repo, v)["parts"]]
    return [(v.hash, v.size)]


def load_all(
    repo: Repo, v: ArtifactVersion, *, as_type: str | None = None, mode: str | None = None
) -> Any:
    """Every part read whole and verified like a single-file blob (the verified-state record:
    ``mode`` once / always / never, default the ``verify`` setting), then concatenated."""
    wanted = schema(repo, v)
    mode = mode or repo.settings.verify
    parts = part_sizes(repo, v)

    def read(position: int) -> pa.Table:
        digest, size = parts[position]
        return read_verified(
            repo,
            digest,
            f"part {position} of {v.ref}" if is_parts(v) else v.ref,
            size=size,
            mode=mode,
            parse=lambda data: pq.read_table(pa.BufferReader(data), schema=wanted),
            parse_file=lambda path: pq.read_table(path, schema=wanted),
            trusted_file=True,
        )

    with ThreadPoolExecutor(min(THREADS, len(parts))) as pool:
        tables = list(pool.map(read, range(len(parts))))
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    value = convert(table, python_type(v, as_type))
    if python_type(v, as_type) == "pandas" and is_parts(v):
        value = _with_range_index(value, index(repo, v)["parts"])
    return value


def _with_range_index(frame: Any, parts: list[dict[str, Any]]) -> Any:
    """A Dask frame's partition range indexes (recorded, not stored) put back: a filtered
    frame keeps its row labels (15, 16, ...) rather than being numbered from 0."""
    import numpy as np
    import pandas as pd

    if not parts or any("index" not in p for p in parts):
        return frame
    labels = np.concatenate(
        [np.arange(p["index"][0], p["index"][0] + p["rows"] * p["index"][1], p["index"][1])
         for p in parts]
    )  # fmt: skip
    first, step = int(labels[0]), int(labels[1] - labels[0]) if len(labels) > 1 else 1
    ranged = step != 0 and np.array_equal(
        labels, np.arange(first, first + len(labels) * step, step)
    )
    frame.index = pd.RangeIndex(first, first + len(labels) * step, step) if ranged else labels
    return frame


def convert(table: pa.Table, python_type: str) -> Any:
    if python_type == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if python_type == "arrow":
        return table
    return table.to_pandas()


# -- push-down and lazy reads -------------------------------------------------------------------------
def filesystem(storage: Storage) -> Any:
    """The storage's filesystem as pyarrow sees it (fsspec wrapped, or pyarrow's local one)."""
    if storage.local:
        from pyarrow.fs import LocalFileSystem

        return LocalFileSystem()
    from pyarrow.fs import PyFileSystem

    return PyFileSystem(_RangeReads(storage.fs))


def _range_handler() -> type:
    from pyarrow.fs import FSSpecHandler

    class RangeReads(FSSpecHandler):  # type: ignore[misc]  # pyarrow ships no type information
        """Files opened without read-ahead: pyarrow asks for exactly the byte ranges it needs
        (footer, column chunks), and only those are fetched from the object store."""

        def open_input_file(self, path: str) -> Any:
            from pyarrow import PythonFile

            try:
                handle = self.fs.open(path, mode="rb", cache_type="none")
            except TypeError:  # a filesystem without cache options
                handle = self.fs.open(path, mode="rb")
            return PythonFile(handle, mode="r")

    return RangeReads


def _RangeReads(fs: Any) -> Any:
    return _range_handler()(fs)


def file_format() -> pds.ParquetFileFormat:
    return pds.ParquetFileFormat(
        default_fragment_scan_options=pds.ParquetFragmentScanOptions(
            page_checksum_verification=True
        )
    )


def arrow_dataset(repo: Repo, v: ArtifactVersion) -> pds.Dataset:
    """A ``pyarrow.dataset.Dataset`` over the version's parts in storage (no data read yet;
    each part verified first, see :func:`check_parts`)."""
    _check_parquet(v)
    check_parts(repo, v)
    paths = [repo.storage.blob_path(h) for h in part_hashes(repo, v)]
    return pds.dataset(
        paths, schema=schema(repo, v), format=file_format(), filesystem=filesystem(repo.storage)
    )


def check_parts(repo: Repo, v: ArtifactVersion) -> None:
    """Before a push-down read trusts a part's footer (its row-group statistics decide which
    rows are read, and no page checksum covers them), the part's sha256 is checked as the
    ``verify`` mode says: ``once`` skips parts recorded as verified with the identity their
    file has now (every part we wrote), ``always`` hashes each, ``never`` none."""
    mode = repo.settings.verify
    if mode == "never":
        return
    storage, state = repo.storage, repo.storage.verified
    for position, (digest, _size) in enumerate(part_sizes(repo, v)):
        identity = _identity(storage, digest)
        if mode == "once" and state.trusted(digest, identity):
            continue
        what = f"part {position} of {v.ref}" if is_parts(v) else v.ref
        try:
            with storage.verified_file(digest, what):
                pass
        except FileNotFoundError:
            raise missing(what, storage.blob_url(digest)) from None
        if identity is not None and _identity(storage, digest) == identity:
            state.remember(digest, identity)


def _identity(storage: Storage, digest: str) -> Identity | None:
    if storage.local:
        return storage.identity(digest)
    try:
        return Identity.of_info(storage.fs.info(storage.blob_path(digest)))
    except (FileNotFoundError, OSError):
        return None


MAX_ROWS_READ = 500


def rows(
    repo: Repo,
    v: ArtifactVersion,
    *,
    offset: int,
    limit: int,
    columns: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Rows ``offset`` to ``offset + limit`` (at most MAX_ROWS_READ) as dicts: only the row
    groups holding them are read, page checksums verified."""
    if offset < 0 or not 1 <= limit <= MAX_ROWS_READ:
        raise InvalidArgumentError(
            f"rows need offset >= 0 and 1 <= limit <= {MAX_ROWS_READ}, got {offset}, {limit}"
        )
    data = arrow_dataset(repo, v)
    if columns is not None:
        columns = [c for c in columns if c in data.schema.names]
    out: list[pa.Table] = []
    start, wanted = 0, limit
    try:
        for fragment in data.get_fragments():
            for group in fragment.split_by_row_group():
                count = group.row_groups[0].num_rows
                if start + count <= offset:
                    start += count
                    continue
                table = group.to_table(columns=columns, schema=data.schema)
                table = table.slice(max(offset - start, 0), wanted)
                out.append(table)
                wanted -= table.num_rows
                start += count
                if wanted <= 0:
                    break
            if wanted <= 0:
                break
    except OSError as exc:
        if "checksum" in str(exc).lower() or "crc" in str(exc).lower():
            raise IntegrityError(
                f"a Parquet page of {v.ref} failed its checksum ({exc}); the stored part is "
                "corrupt — restore it or delete the version (`prefect-artifacts verify` finds which)"
            ) from None
        raise_if_damaged(repo, v, exc)
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise_if_damaged(repo, v, exc)
        raise
    return [row for table in out for row in table.to_pylist()]


def raise_if_damaged(repo: Repo, v: ArtifactVersion, error: Exception) -> None:
    """After a push-down read failed: raise IntegrityError when a part's stored bytes are not
    the ones logged (wrong size, else wrong sha256), so a damaged part is never reported as a
    bad argument. Returns when every part is intact (the error is then the caller's)."""
    for digest, size in part_sizes(repo, v):
        try:
            stored = repo.storage.fs.size(repo.storage.blob_path(digest))
        except FileNotFoundError:
            stored = None
        if stored is not None and stored != size:
            raise IntegrityError(
                f"a part of {v.ref} ({repo.storage.blob_url(digest)}) is corrupt: {stored} bytes "
                f"stored, {size} logged ({type(error).__name__}: {str(error)[:120]}); restore it "
                "or delete the version (`prefect-artifacts verify` finds which)"
            ) from None
        if stored is not None:
            with repo.storage.verified_file(digest, f"a part of {v.ref}"):
                pass  # raises IntegrityError naming the sha256 when the bytes differ


def expression(filters: Any) -> pds.Expression | None:
    """Row filters: a pyarrow expression, or pandas/pyarrow-style tuples
    ``[("col", ">", 3), ...]`` (a list of lists: OR of ANDs)."""
    if filters is None or isinstance(filters, pds.Expression):
        return filters
    try:
        return pq.filters_to_expression(filters)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"filters {str(filters)[:80]} are not valid: {exc}. Give a list of (column, op, "
            "value) tuples such as [('amount', '>', 100)], or a pyarrow.compute expression"
        ) from None


def load_some(
    repo: Repo,
    v: ArtifactVersion,
    *,
    columns: list[str] | None,
    filters: Any,
    as_type: str | None = None,
) -> Any:
    """Only the needed columns and row groups, page checksums verified."""
    data = arrow_dataset(repo, v)
    if columns is not None:
        missing = [c for c in columns if c not in data.schema.names]
        if missing:
            raise InvalidArgumentError(
                f"{v.ref} has no column(s) {missing}; its columns are "
                f"{', '.join(data.schema.names[:20])}"
            )
    if columns is not None and python_type(v, as_type) == "pandas":
        columns = columns + [c for c in index_columns(data.schema) if c not in columns]
    try:
        table = data.to_table(columns=columns, filter=expression(filters))
    except OSError as exc:
        if "checksum" in str(exc).lower() or "crc" in str(exc).lower():
            raise IntegrityError(
                f"a Parquet page of {v.ref} failed its checksum ({exc}); the stored part is "
                "corrupt — restore it or delete the version (`prefect-artifacts verify` "
                "finds which)"
            ) from None
        raise_if_damaged(repo, v, exc)
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise_if_damaged(repo, v, exc)  # damaged bytes are not the caller's mistake
        raise InvalidArgumentError(f"cannot filter {v.ref}: {exc}") from None
    return convert(table, python_type(v, as_type))


def index_columns(schema: pa.Schema) -> list[str]:
    """The columns that hold a pandas frame's index (like ``pd.read_parquet(columns=)``, a
    column selection keeps the index)."""
    import json

    described = json.loads((schema.metadata or {}).get(b"pandas", b"{}"))
    return [n for n in described.get("index_columns", []) if isinstance(n, str)]


def to_dask(repo: Repo, v: ArtifactVersion) -> Any:
    """A Dask DataFrame with one partition per part; each reads and sha256-checks its part
    where it runs, with the repository's storage (its fsspec options travel with it)."""
    import dask.dataframe as dd

    _check_parquet(v)
    wanted = schema(repo, v)
    meta = wanted.empty_table().to_pandas()
    hashes = part_hashes(repo, v)
    return dd.from_map(
        read_part,
        hashes,
        storage=repo.storage,
        schema=wanted,
        meta=meta,
        divisions=divisions(repo, v, wanted) or None,
        enforce_metadata=False,
        label=f"artifact-{v.key}-v{v.version}",
    )


def divisions(repo: Repo, v: ArtifactVersion, wanted: pa.Schema) -> tuple[Any, ...] | None:
    """Known divisions when the frame had one numeric index column, sorted across the parts
    (from the row-group statistics in the part index); else None (unknown)."""
    import json

    if not is_parts(v):
        return None
    described = json.loads((wanted.metadata or {}).get(b"pandas", b"{}"))
    names = described.get("index_columns") or []
    if len(names) != 1 or not isinstance(names[0], str):
        return None
    bounds = []
    for part in index(repo, v)["parts"]:
        stats = [g["columns"].get(names[0], {}) for g in part["row_groups"]]
        lows = [s.get("min") for s in stats]
        highs = [s.get("max") for s in stats]
        if not stats or any(not isinstance(x, (int, float)) for x in lows + highs):
            return None
        if any(s.get("nulls") for s in stats):
            return None
        bounds.append((min(lows), max(highs)))
    if any(a[1] >= b[0] for a, b in itertools.pairwise(bounds)):
        return None  # overlapping or unsorted parts
    return (*[lo for lo, _ in bounds], bounds[-1][1])


def read_part(digest: str, storage: Storage, schema: pa.Schema | None) -> Any:
    """One part as pandas, its sha256 checked (runs on a Dask worker)."""
    data = storage.read_blob(digest)
    return pq.read_table(pa.BufferReader(data), schema=schema).to_pandas()


def to_polars(repo: Repo, v: ArtifactVersion) -> Any:
    import polars as pl

    return pl.scan_pyarrow_dataset(arrow_dataset(repo, v))


def to_duckdb(repo: Repo, v: ArtifactVersion, connection: Any = None) -> Any:
    try:
        import duckdb
    except ImportError:
        raise UnsupportedTypeError(
            "to_duckdb() needs the duckdb package: pip install duckdb"
        ) from None
    con = connection if connection is not None else duckdb.connect()
    return con.from_arrow(arrow_dataset(repo, v))
