"""Content-addressed blobs and JSON manifests over any fsspec filesystem.

Layout under the storage root::

    blobs/sha256/ab/cdef…                  the bytes, stored once per content
    manifests/<project>/<key>/<n>.json     every version's full metadata (the catalog can be rebuilt)
    journal/<project>/<time>-<id>.json     later changes: tags, labels, consumers, deletions
    tmp/<id>                               writes in flight (moved into blobs/ when complete)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .errors import IntegrityError, StorageError

CHUNK = 1 << 20
SPOOL_IN_MEMORY = 64 << 20  # object-store writes larger than this spool to a local temp file
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "abfs", "az", "adl", "memory"}  # atomic PUTs
logger = logging.getLogger("prefect_artifacts.storage")


@dataclass(frozen=True)
class Blob:
    hash: str
    size: int


class Progress:
    """Logs long transfers: an INFO line every ``every`` seconds once one has lasted that long."""

    def __init__(self, label: str, total: int | None, every: float = 10.0) -> None:
        self.label, self.total, self.every = label, total, every
        self.done = 0
        self.started = self.last = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9) / 1e6
            of = f" of {self.total / 1e6:,.0f} MB" if self.total else ""
            logger.info("%s: %s MB%s (%.0f MB/s)", self.label, f"{self.done / 1e6:,.0f}", of, rate)


class Spool(io.RawIOBase):
    """Bytes in memory up to ``limit``, then in a named local temporary file."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit
        self._memory: io.BytesIO | None = io.BytesIO()
        self._file: BinaryIO | None = None
        self.path: str | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._memory is not None and self._memory.tell() + len(data) > self._limit:
            import tempfile

            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed and removed by close()
                prefix="prefect-artifacts-", delete=False
            )
            self._file, self.path = handle, handle.name
            handle.write(self._memory.getbuffer())
            self._memory = None
        return (self._memory or self._file).write(data)

    def getvalue(self) -> bytes:
        assert self._memory is not None
        return self._memory.getvalue()

    def finish(self) -> None:
        """Make every written byte visible in ``path`` (before it is uploaded from there)."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            os.unlink(self.path)
            self._file = None
        super().close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WriteCancelled(Exception):
    """Raised inside a blob write when its ``cancel`` event is set (the write is dropped)."""


class HashingWriter(io.RawIOBase):
    """Passes writes through to ``raw`` while a second thread computes their sha256, so
    hashing overlaps the serialization instead of adding to it."""

    def __init__(
        self,
        raw: BinaryIO,
        guard: Callable[[], Any],
        cancel: threading.Event | None = None,
        label: str = "bytes",
    ) -> None:
        super().__init__()
        self._raw = raw
        self._guard = guard  # turns the storage's own failures into StorageError
        self._cancel = cancel
        self._sha = hashlib.sha256()
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=64)  # bounds memory
        self._hasher = threading.Thread(target=self._hash, daemon=True)
        self._hasher.start()
        self._progress = Progress(f"writing {label}", None)
        self.size = 0

    def _hash(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._sha.update(chunk)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._cancel is not None and self._cancel.is_set():
            raise WriteCancelled
        chunk = data if isinstance(data, bytes) else bytes(data)  # immutable: safe to share
        self._chunks.put(chunk)
        with self._guard():
            self._raw.write(chunk)
        self.size += len(chunk)
        self._progress.advance(len(chunk))
        return len(chunk)

    def tell(self) -> int:
        return self.size

    def hexdigest(self) -> str:
        """Finish hashing (also ends the hashing thread) and return the sha256."""
        if self._hasher.is_alive():
            self._chunks.put(None)
            self._hasher.join()
        return self._sha.hexdigest()


class VerifyingReader(io.RawIOBase):
    """Reads ``raw`` while hashing; raises IntegrityError at the end if the sha256 differs."""

    def __init__(self, raw: BinaryIO, expected: str, what: str) -> None:
        super().__init__()
        self._raw, self._expected, self._what = raw, expected, what
        self._sha = hashlib.sha256()
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = (
            self._raw.readinto(buffer)
            if hasattr(self._raw, "readinto")
            else _readinto(self._raw, buffer)
        )
        if n:
            self._sha.update(memoryview(buffer)[:n])
        elif not self._checked:
            self._checked = True
            if self._sha.hexdigest() != self._expected:
                raise corrupt(self._sha.hexdigest(), self._expected, self._what)
        return n

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._raw.close()
        super().close()


def _readinto(raw: BinaryIO, buffer: Any) -> int:
    data = raw.read(len(buffer))
    memoryview(buffer)[: len(data)] = data
    return len(data)


def corrupt(actual: str, expected: str, what: str) -> IntegrityError:
    return IntegrityError(
        f"{what} is corrupt: its sha256 is {actual}, the catalog recorded {expected}. Restore "
        "the file from a backup or delete the version; `prefect-artifacts verify --all` lists "
        "every damaged version"
    )


def check_hash(data: bytes | memoryview, expected: str, what: str) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise corrupt(actual, expected, what)


class Storage:
    """Blobs and manifests under ``root`` on an fsspec filesystem."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.local = isinstance(fs, LocalFileSystem)
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        self.object_store = bool(protocols & OBJECT_STORES)

    @classmethod
    def from_url(cls, url: str, options: dict[str, Any] | None = None) -> Storage:
        options = dict(options or {})
        if "://" not in url or url.startswith("file://"):
            options.setdefault("auto_mkdir", True)
        try:
            fs, root = fsspec.core.url_to_fs(url, **options)
        except (ImportError, ValueError, TypeError) as exc:
            raise StorageError(
                f"cannot open artifact storage {url!r}: {exc}. Set PREFECT_ARTIFACTS_STORAGE_URL to "
                "a folder or an fsspec URL (s3://bucket/prefix) and PREFECT_ARTIFACTS_STORAGE_OPTIONS "
                "to its options as JSON"
            ) from exc
        return cls(fs, root)

    # -- paths ----------------------------------------------------------------------------
    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    @property
    def url(self) -> str:
        return self.fs.unstrip_protocol(self.root)

    def blob_path(self, digest: str) -> str:
        return self.path(f"blobs/sha256/{digest[:2]}/{digest[2:]}")

    def blob_url(self, digest: str) -> str:
        return self.fs.unstrip_protocol(self.blob_path(digest))

    def hash_of_url(self, url: str) -> str | None:
        """The sha256 of a blob from its target_path (or plain path), if it is one of ours."""
        base = self.path("blobs/sha256")
        for prefix in (self.fs.unstrip_protocol(base).rstrip("/") + "/", base + "/"):
            if url.startswith(prefix):
                parts = url[len(prefix) :].split("/")
                if len(parts) == 2 and len(parts[0]) == 2 and len(parts[1]) == 62:
                    return parts[0] + parts[1]
        return None

    def manifest_path(self, project: str, key: str, version: int) -> str:
        return self.path(f"manifests/{project}/{key}/{version}.json")

    # -- blobs ----------------------------------------------------------------------------
    def write_blob(
        self, write: Callable[[BinaryIO], None], cancel: threading.Event | None = None
    ) -> Blob:
        """Stream ``write(sink)`` while hashing, then store the bytes at their content address;
        identical bytes already stored are kept. Object stores get one PUT (multipart when
        large) straight to the final key, atomic by nature; filesystems get a temporary file
        renamed into place. Setting ``cancel`` stops the write with WriteCancelled and leaves
        nothing behind."""
        if self.object_store:
            return self._write_spooled(write, cancel)
        return self._write_renamed(write, cancel)

    def _write_renamed(
        self, write: Callable[[BinaryIO], None], cancel: threading.Event | None
    ) -> Blob:
        tmp = self.path(f"tmp/{uuid.uuid4().hex}")
        sink: HashingWriter | None = None
        try:
            with self._guard("open", tmp):
                raw = self.fs.open(tmp, "wb")
            try:
                sink = HashingWriter(
                    raw, lambda: self._guard("write", tmp), cancel, self.fs.unstrip_protocol(tmp)
                )
                write(sink)  # a materializer's own errors pass through unchanged
            except BaseException:
                with contextlib.suppress(Exception):
                    raw.close()
                raise
            with self._guard("write", tmp):
                raw.close()
            blob = Blob(sink.hexdigest(), sink.size)
            final = self.blob_path(blob.hash)
            with self._guard("store", final):
                if self.fs.exists(final):
                    self.fs.rm(tmp)
                else:
                    if self.local:
                        self.fs.makedirs(self.fs._parent(final), exist_ok=True)
                    self.fs.mv(tmp, final)
            return blob
        except BaseException:
            if sink is not None:
                sink.hexdigest()
            with contextlib.suppress(Exception):
                self.fs.rm(tmp)
            raise

    def _write_spooled(
        self, write: Callable[[BinaryIO], None], cancel: threading.Event | None
    ) -> Blob:
        with Spool(SPOOL_IN_MEMORY) as spool:
            sink = HashingWriter(spool, contextlib.nullcontext, cancel, f"spooling for {self.url}")
            try:
                write(sink)
            finally:
                digest = sink.hexdigest()
            spool.finish()
            final = self.blob_path(digest)
            with self._guard("upload", final):
                if not self.fs.exists(final):
                    if spool.path:  # large: a multipart upload, aborted if it fails
                        logger.info(
                            "uploading %s MB to %s",
                            f"{sink.size / 1e6:,.0f}",
                            self.fs.unstrip_protocol(final),
                        )
                        self.fs.put_file(spool.path, final)
                    else:
                        self.fs.pipe_file(final, spool.getvalue())
                    uploaded = self.fs.size(final)
                    if uploaded != sink.size:  # never leave wrong bytes at a content address
                        self.fs.rm_file(final)
                        raise StorageError(
                            f"uploaded {uploaded} of {sink.size} bytes to "
                            f"{self.fs.unstrip_protocol(final)}; the object was removed, retry"
                        )
            return Blob(digest, sink.size)

    def put_bytes(self, data: bytes) -> Blob:
        return self.write_blob(lambda sink: sink.write(data))

    def blob_exists(self, digest: str) -> bool:
        with self._guard("check", self.blob_path(digest)):
            return self.fs.exists(self.blob_path(digest))

    def read_blob(self, digest: str, *, verify: bool = True) -> bytes:
        path = self.blob_path(digest)
        with self._guard("read", path):
            data = Path(path).read_bytes() if self.local else self.fs.cat_file(path)
        if verify:
            check_hash(data, digest, f"blob {self.fs.unstrip_protocol(path)}")
        return data

    def open_blob(self, digest: str) -> BinaryIO:
        """A buffered reader that verifies the sha256 when it reaches the end."""
        path = self.blob_path(digest)
        with self._guard("open", path):
            raw = self.fs.open(path, "rb")
        return io.BufferedReader(
            VerifyingReader(raw, digest, f"blob {self.fs.unstrip_protocol(path)}"), CHUNK
        )

    def download_blob(
        self, digest: str, target: Path, on_chunk: Callable[[int], Any] | None = None
    ) -> Path:
        """Copy a blob to a local file: written beside it under a temporary name, verified,
        then renamed, so ``target`` never holds partial or corrupt bytes."""
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            progress = Progress(f"downloading {target.name}", None)
            with self.open_blob(digest) as source, partial.open("wb") as sink:
                while chunk := source.read(CHUNK):
                    sink.write(chunk)
                    progress.advance(len(chunk))
                    if on_chunk:
                        on_chunk(len(chunk))
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    @contextlib.contextmanager
    def verified_file(self, digest: str, what: str) -> Iterator[str]:
        """A local path holding the blob's bytes, checked against their sha256 by streaming:
        the blob itself on local storage, else a temporary download removed afterwards."""
        if self.local:
            path = self.blob_path(digest)
            sha = hashlib.sha256()
            progress = Progress(f"verifying {what}", os.path.getsize(path))
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    sha.update(chunk)
                    progress.advance(len(chunk))
            if sha.hexdigest() != digest:
                raise corrupt(sha.hexdigest(), digest, f"blob {self.blob_url(digest)}")
            yield path
            return
        import tempfile

        with tempfile.TemporaryDirectory(prefix="prefect-artifacts-") as folder:
            yield str(self.download_blob(digest, Path(folder) / digest))

    def delete_blob(self, digest: str) -> None:
        with self._guard("delete", self.blob_path(digest)), contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.blob_path(digest))

    def iter_blobs(self) -> Iterator[tuple[str, datetime | None]]:
        """Every stored blob's sha256 and modification time (used by gc and verify)."""
        base = self.path("blobs/sha256")
        with self._guard("list", base):
            found = self.fs.find(base, detail=True) if self.fs.exists(base) else {}
        for path, info in found.items():
            parts = path.rstrip("/").split("/")
            if len(parts[-2]) == 2 and len(parts[-1]) == 62:
                yield parts[-2] + parts[-1], _mtime(info)

    # -- JSON documents (manifests, journal) ---------------------------------------------
    def write_json(self, path: str, document: Any) -> None:
        data = json.dumps(document, default=str, separators=(",", ":")).encode()
        with self._guard("write", path):
            if self.local:  # temporary name + rename: readers never see half a document
                tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
                self.fs.pipe_file(tmp, data)
                self.fs.mv(tmp, path)
            else:  # object stores make a PUT visible whole
                self.fs.pipe_file(path, data)

    def read_json(self, path: str) -> Any:
        with self._guard("read", path):
            return json.loads(self.fs.cat_file(path))

    def delete(self, path: str) -> None:
        with self._guard("delete", path), contextlib.suppress(FileNotFoundError):
            self.fs.rm(path)

    def find(self, relative: str) -> list[str]:
        base = self.path(relative)
        with self._guard("list", base):
            return sorted(self.fs.find(base)) if self.fs.exists(base) else []

    def journal(self, project: str, entry: dict[str, Any], at: datetime) -> None:
        """Append one change record (tag, label, run, deletion) for reindex to replay.
        ``at`` is the time the catalog recorded for the change (naive or aware UTC)."""
        at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        entry = {"at": at.isoformat(), "project": project, **entry}
        name = f"{at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}.json"
        self.write_json(self.path(f"journal/{project}/{name}"), entry)

    @contextlib.contextmanager
    def _guard(self, action: str, path: str) -> Iterator[None]:
        try:
            yield
        except (StorageError, IntegrityError, FileNotFoundError):
            raise
        except Exception as exc:
            raise StorageError(
                f"could not {action} {self.fs.unstrip_protocol(path)}: {type(exc).__name__}: {exc}. "
                "Check that the storage is reachable and writable (PREFECT_ARTIFACTS_STORAGE_URL, "
                "PREFECT_ARTIFACTS_STORAGE_OPTIONS, credentials), then retry"
            ) from exc


def _mtime(info: dict[str, Any]) -> datetime | None:
    value = info.get("mtime") or info.get("LastModified") or info.get("created")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None
