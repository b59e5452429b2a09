"""A multi-part dataset as one Parquet file (what ``download()`` gives): each part is read
through the full load's read path with its sha256 checked (always, as every download is), and
its row groups are copied one at a time into one ``ParquetWriter`` — memory holds at most one
part's bytes and one row group, never the dataset. The file is written under a temporary name
and renamed, so the final path never holds a partial file. ``parts=True`` copies the part
files instead."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import threading
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import IntegrityError
from ..keys import safe_filename
from ..settings import prefect_home
from ..storage import localcache
from ..storage.localcache import private_folder
from ..storage.streams import HashingWriter
from . import partsread
from .blobread import read_verified

if TYPE_CHECKING:
    from ..models import ArtifactVersion
    from .protocol import Repo

CACHE_KEEP = 4  # assembled files kept for the web server's downloads


class _Build:
    """The lock of one version's file build; dropped once no thread holds it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


_builds: weakref.WeakValueDictionary[str, _Build] = weakref.WeakValueDictionary()
_builds_lock = threading.Lock()


def file_name(v: ArtifactVersion) -> str:
    """``key-vN.parquet`` (the key's own ``.parquet`` suffix not repeated)."""
    from .reader import download_name

    return download_name(v)


def target_of(path: str | Path | None, name: str) -> Path:
    """A file, or a folder (one that exists, or a path ending in ``/``) that gets ``name``."""
    target = Path(path).expanduser() if path is not None else Path.cwd()
    if target.is_dir() or (path is not None and str(path).endswith(("/", "\\"))):
        target = target / safe_filename(name, "dataset")
    return target


def write_parquet(
    repo: Repo,
    v: ArtifactVersion,
    target: Path,
    on_chunk: Callable[[int], Any] | None = None,
) -> Path:
    """Write ``v``'s parts as one Parquet file at ``target`` (see the module docstring)."""
    _write(repo, v, target, on_chunk, hashed=False)
    return target


def _write(
    repo: Repo,
    v: ArtifactVersion,
    target: Path,
    on_chunk: Callable[[int], Any] | None,
    *,
    hashed: bool,
) -> str | None:
    """:func:`write_parquet`, returning the file's sha256 (computed while it is written) when
    ``hashed``."""
    wanted = partsread.schema(repo, v)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with partial.open("wb") as raw:
            sink = HashingWriter(raw, contextlib.nullcontext, label=str(target)) if hashed else raw
            try:
                with pq.ParquetWriter(
                    pa.PythonFile(sink, mode="w"), wanted, write_page_checksum=True
                ) as writer:
                    _copy_parts(repo, v, writer, wanted, on_chunk)
            finally:  # ends the hashing thread, also when the write failed
                digest = sink.hexdigest() if isinstance(sink, HashingWriter) else None
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return digest


def _from_buffer(copy: Callable[[Any], Any], data: bytes) -> Any:
    return copy(pa.BufferReader(data))


def _copy_parts(
    repo: Repo,
    v: ArtifactVersion,
    writer: pq.ParquetWriter,
    wanted: pa.Schema,
    on_chunk: Callable[[int], Any] | None,
) -> None:
    """Each part, sha256-checked, copied row group by row group into ``writer``."""
    for position, (digest, size) in enumerate(partsread.part_sizes(repo, v)):
        what = f"part {position} of {v.ref}"
        copy = _copier(writer, wanted, what)
        read_verified(
            repo,
            digest,
            what,
            size=size,
            mode="always",  # a download hashes what it delivers, as open() does
            parse=functools.partial(_from_buffer, copy),
            parse_file=copy,
            trusted_file=True,
        )
        if on_chunk:
            on_chunk(size)


def _copier(writer: pq.ParquetWriter, wanted: pa.Schema, what: str) -> Callable[[Any], None]:
    """Copies one part's row groups into ``writer``, once: a second call (the part changed
    while it was read and was read again) would duplicate rows, so it fails instead."""
    copied = 0

    def copy(source: Any) -> None:
        nonlocal copied
        if copied:
            raise IntegrityError(f"{what} changed while it was copied; download again")
        part = pq.ParquetFile(source)
        for group in range(part.num_row_groups):
            table = part.read_row_group(group)
            if not table.schema.equals(wanted, check_metadata=False):
                table = table.cast(wanted)
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
            copied += 1

    return copy


def copy_parts(
    repo: Repo,
    v: ArtifactVersion,
    folder: Path,
    on_chunk: Callable[[int], Any] | None = None,
) -> Path:
    """The part files, verified, into ``folder`` as ``part-00000.parquet``, ... (renamed into
    place once all are there)."""
    folder = folder.expanduser()
    partial = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        for position, (digest, _size) in enumerate(partsread.part_sizes(repo, v)):
            repo.storage.download_blob(digest, partial / f"part-{position:05d}.parquet", on_chunk)
        if folder.exists():
            raise FileExistsError(f"{folder} exists; remove it or give another folder")
        os.replace(partial, folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def cached_file(repo: Repo, v: ArtifactVersion) -> tuple[Path, str]:
    """A local assembled Parquet file of ``v`` for the web server (so a download has a length,
    an ETag and byte ranges) and its sha256: built on first use under
    ``$PREFECT_HOME/artifacts/downloads/<index sha256>/<file sha256>.parquet``; the last
    CACHE_KEEP are kept."""
    cache = private_folder(prefect_home() / "artifacts" / "downloads")
    folder = cache / v.hash
    with _builds_lock:
        build = _builds.get(v.hash)
        if build is None:
            build = _builds[v.hash] = _Build()
    with build.lock:  # one build per version at a time; others wait for it
        found = _found(folder)
        if found is not None and localcache.holds(repo.storage.verified, *found):
            os.utime(folder)
            return found
        if found is not None:  # changed since it was built: build it again
            found[0].unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        built = folder / f".build-{uuid.uuid4().hex[:8]}.parquet"
        digest = _write(repo, v, built, None, hashed=True)
        assert digest is not None  # hashed=True returns the sha256
        final = folder / f"{digest}.parquet"
        os.replace(built, final)
        localcache.remember(repo.storage.verified, final, digest)
        _evict(cache)
        return final, digest


def _found(folder: Path) -> tuple[Path, str] | None:
    for path in folder.glob("*.parquet") if folder.is_dir() else ():
        if len(path.stem) == 64 and not path.name.startswith("."):
            return path, path.stem
    return None


def _evict(cache: Path) -> None:
    folders = sorted(
        (p for p in cache.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for old in folders[CACHE_KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
