"""Streams used by storage: hashing writers, verifying readers, spools and progress logs."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, BinaryIO

from ..errors import IntegrityError

CHUNK = 1 << 20
logger = logging.getLogger("prefect_artifacts.storage")


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


SPOOL_PREFIX = "prefect-artifacts-spool-"


def clean_stale_spools(folder: str | None = None, *, min_age: float = 300.0) -> int:
    """Remove spool files left by processes that died during an upload (named with their pid;
    a spool also goes once it is a day old, whatever its pid says). Returns how many."""
    import tempfile

    folder = folder or tempfile.gettempdir()
    removed, now = 0, time.time()
    for entry in os.scandir(folder):
        if not entry.name.startswith(SPOOL_PREFIX):
            continue
        try:
            pid = int(entry.name[len(SPOOL_PREFIX) :].split("-", 1)[0])
            age = now - entry.stat().st_mtime
        except (ValueError, OSError):
            continue
        if age > 86_400 or (age > min_age and not _alive(pid)):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool(io.RawIOBase):
    """Bytes in memory up to ``limit``, then in a named local temporary file (its name carries
    the pid, so a spool left by a killed process is found and removed later)."""

    _cleaned = False

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit
        self._memory: list[bytes] | None = []  # the written chunks: joined once, at the end
        self._held = 0
        self._file: IO[bytes] | None = None
        self.path: str | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._memory is not None and self._held + len(data) > self._limit:
            import tempfile

            if not Spool._cleaned:  # once a process: what killed uploads left behind
                Spool._cleaned = True
                clean_stale_spools()
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed and removed by close()
                prefix=f"{SPOOL_PREFIX}{os.getpid()}-", delete=False
            )
            self._file, self.path = handle, handle.name
            for chunk in self._memory:
                handle.write(chunk)
            self._memory = None
        if self._memory is not None:
            self._memory.append(data if isinstance(data, bytes) else bytes(data))
            self._held += len(data)
            return len(data)
        assert self._file is not None  # memory gave way to the file above
        return self._file.write(data)

    def getvalue(self) -> bytes:
        assert self._memory is not None
        if len(self._memory) != 1:
            self._memory[:] = [b"".join(self._memory)]
        return self._memory[0]

    def finish(self) -> None:
        """Make every written byte visible in ``path`` (before it is uploaded from there). A
        flush is enough: this process reads it back; it need not survive a crash."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None and self.path is not None:
            self._file.close()
            os.unlink(self.path)
            self._file = None
        super().close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def copy_file(path: Path, sink: BinaryIO) -> None:
    """Write a local file's bytes into ``sink``, a chunk at a time."""
    with path.open("rb") as source:
        shutil.copyfileobj(source, sink, CHUNK)


class WriteCancelled(Exception):
    """Raised inside a blob write when its ``cancel`` event is set (the write is dropped)."""


HASH_INLINE = 1 << 20  # the first MB is hashed in the writing thread: small writes start no thread


class HashingWriter(io.RawIOBase):
    """Passes writes through to ``raw`` while a second thread computes their sha256, so
    hashing overlaps the serialization instead of adding to it (the first ``HASH_INLINE``
    bytes are hashed inline: starting a thread costs more than hashing a small artifact)."""

    def __init__(
        self,
        raw: BinaryIO | io.RawIOBase,
        guard: Callable[[], Any],
        cancel: threading.Event | None = None,
        label: str = "bytes",
        sync_every: int = 0,
    ) -> None:
        super().__init__()
        self._raw = raw
        self._sync_every = sync_every  # > 0: flush pages to disk ahead, in the background
        self._synced = 0
        self._syncing: threading.Thread | None = None
        self._guard = guard  # turns the storage's own failures into StorageError
        self._cancel = cancel
        self._sha = hashlib.sha256()
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=64)  # bounds memory
        self._hasher: threading.Thread | None = None  # started past HASH_INLINE bytes
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
        if self._hasher is None and self.size + len(chunk) <= HASH_INLINE:
            self._sha.update(chunk)
        else:
            if self._hasher is None:
                self._hasher = threading.Thread(target=self._hash, daemon=True)
                self._hasher.start()
            self._chunks.put(chunk)
        with self._guard():
            self._raw.write(chunk)
        self.size += len(chunk)
        self._progress.advance(len(chunk))
        if self._sync_every and self.size - self._synced >= self._sync_every:
            self._sync_ahead()
        return len(chunk)

    def _sync_ahead(self) -> None:
        """Start an fdatasync of what is written so far on another thread (unless one still
        runs): the disk writes overlap the serialization, and the fsync before the commit has
        little left to flush."""
        if self._syncing is not None and self._syncing.is_alive():
            return
        self._synced = self.size
        with self._guard():
            self._raw.flush()
            fd = self._raw.fileno()
        self._syncing = threading.Thread(target=_datasync, args=(fd,), daemon=True)
        self._syncing.start()

    def join_sync(self) -> None:
        """Wait for a background sync (call before closing the file it syncs)."""
        if self._syncing is not None:
            self._syncing.join()
            self._syncing = None

    def tell(self) -> int:
        return self.size

    def hexdigest(self) -> str:
        """Finish hashing (also ends the hashing thread) and return the sha256."""
        if self._hasher is not None and self._hasher.is_alive():
            self._chunks.put(None)
            self._hasher.join()
        return self._sha.hexdigest()


def _datasync(fd: int) -> None:
    with contextlib.suppress(OSError):  # the final fsync reports real failures
        (getattr(os, "fdatasync", None) or os.fsync)(fd)


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
