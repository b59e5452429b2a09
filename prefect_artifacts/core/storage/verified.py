"""The verified-state record: which blobs' sha256 was checked, and the file identity they had.

Like git-annex's inode cache and DVC's state database, a blob whose bytes were hashed (or
written by us) is remembered with what changes when its bytes change — (device, inode, size,
mtime_ns, ctime_ns) for a local file, (ETag or version id, size) for an object — and is not
hashed again while that identity holds. Any change to the file makes it a stranger again.

The record is local state, not part of the repository: a small SQLite file (default
``$PREFECT_HOME/artifacts/verified-state.db``), one row per (repository, blob), plus an
in-process copy so a warm load costs one ``stat``. A record that cannot be opened or written
(read-only home, a locked file) is a warning once, and verifications are then remembered for
this process only.

Racy entries (git's "racily clean" problem): a write in the same timestamp tick as the one
recorded could leave (mtime, ctime) unchanged. An entry is trusted only when the file's mtime is
strictly older than its ctime (then any later write moves mtime forward to at least the recorded
ctime, a different value) or when it was recorded at least ``RACY_NS`` after the file's last
change. Blobs we write get their mtime set one second back before they are recorded, which makes
them trusted at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("prefect_artifacts.storage")
RACY_NS = 2_000_000_000  # coarser than any timestamp granularity in use (FAT: 2 s)
MODES = ("always", "once", "never")
BAD = "failed-verification"  # an entry's identity when the file failed its check


@dataclass(frozen=True)
class Identity:
    """What a blob's storage reports about it; equal identities mean unchanged bytes."""

    key: str  # "dev:ino:size:mtime_ns:ctime_ns" or "etag:<etag>:size"
    changed_ns: int | None = None  # max(mtime_ns, ctime_ns) for a local file
    ordered: bool = False  # a local file whose mtime is strictly older than its ctime

    @classmethod
    def of_stat(cls, st: os.stat_result) -> Identity:
        return cls(
            f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}",
            max(st.st_mtime_ns, st.st_ctime_ns),
            st.st_mtime_ns < st.st_ctime_ns,
        )

    @classmethod
    def of_info(cls, info: dict[str, Any]) -> Identity | None:
        """An object's identity from fsspec's info (S3 ETag/VersionId, GCS generation...)."""
        tag = info.get("VersionId") or info.get("ETag") or info.get("generation")
        tag = tag or info.get("etag")
        if not tag or info.get("size") is None:
            return None
        return cls(f"etag:{str(tag).strip(chr(34))}:{info['size']}", ordered=True)

    def trusted_at(self, verified_ns: int) -> bool:
        """Whether an entry recorded at ``verified_ns`` with this identity can be trusted."""
        if self.ordered or self.changed_ns is None:
            return True
        return verified_ns - self.changed_ns >= RACY_NS


class VerifiedState:
    """Remembered sha256 verifications of one repository's blobs (see the module docstring).

    ``hashes`` counts the blobs this process hashed to verify them (a real, observable
    figure: tests and benchmarks read it)."""

    def __init__(self, path: Path | None, repository: str) -> None:
        self.path = path
        self.repository = repository
        self._memory: dict[str, tuple[str, int]] = {}  # digest → (identity key, verified_ns)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._failed = path is None
        self.hashes = 0
        self.hits = 0
        _instances.add(self)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (e.g. to a Dask worker): the path and repository; the copy opens its own
        connection."""
        return {"path": self.path, "repository": self.repository}

    def __setstate__(self, state: dict[str, Any]) -> None:
        VerifiedState.__init__(self, state["path"], state["repository"])

    # -- queries -----------------------------------------------------------------------------
    def trusted(self, digest: str, identity: Identity | None) -> bool:
        """Whether ``digest``'s bytes were verified while they had exactly ``identity``."""
        if identity is None:
            return False
        entry = self._memory.get(digest)
        if entry is None:
            entry = self._load(digest)
        if entry is None or entry[0] != identity.key or not identity.trusted_at(entry[1]):
            return False
        self.hits += 1
        return True

    def remember(self, digest: str, identity: Identity | None) -> None:
        """Record that ``digest``'s bytes were verified (or written) with ``identity``."""
        if identity is None:
            return
        entry = (identity.key, time.time_ns())
        self._memory[digest] = entry
        self._write(
            "INSERT OR REPLACE INTO verified (repository, digest, identity, verified_ns) "
            "VALUES (?, ?, ?, ?)",
            (self.repository, digest, *entry),
        )

    def changed(self, digest: str, identity: Identity | None) -> bool:
        """Whether ``digest``'s file is known to differ from what was verified: it was recorded
        with another identity, or it failed verification. (Never seen: False.)"""
        entry = self._memory.get(digest) or self._load(digest)
        return entry is not None and (identity is None or entry[0] != identity.key)

    def mark_bad(self, digest: str) -> None:
        """Record that ``digest``'s file failed verification (until it is verified again)."""
        self.remember(digest, Identity(BAD))

    def forget(self, digest: str) -> None:
        """Drop what is known about ``digest`` (it was deleted)."""
        self._memory.pop(digest, None)
        self._write(
            "DELETE FROM verified WHERE repository = ? AND digest = ?", (self.repository, digest)
        )

    def counted_hash(self) -> None:
        self.hashes += 1

    # -- the SQLite file ---------------------------------------------------------------------
    def _write(self, sql: str, parameters: tuple[Any, ...]) -> None:
        """One change to the file (none when it cannot be used; a failure gives it up)."""
        db = self._connect()
        if db is None:
            return
        try:
            with self._lock, db:
                db.execute(sql, parameters)
        except sqlite3.Error as exc:
            self._give_up(exc)

    def _load(self, digest: str) -> tuple[str, int] | None:
        db = self._connect()
        if db is None:
            return None
        try:
            with self._lock:
                row = db.execute(
                    "SELECT identity, verified_ns FROM verified WHERE repository = ? AND digest = ?",
                    (self.repository, digest),
                ).fetchone()
        except sqlite3.Error as exc:
            self._give_up(exc)
            return None
        if row is None:
            return None
        self._memory[digest] = (row[0], int(row[1]))
        return self._memory[digest]

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is not None or self._failed:
            return self._db
        with self._lock:
            if self._db is not None or self._failed:
                return self._db
            try:
                assert self.path is not None
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(
                    self.path, timeout=5.0, check_same_thread=False, isolation_level=None
                )
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS verified (repository TEXT NOT NULL, "
                    "digest TEXT NOT NULL, identity TEXT NOT NULL, verified_ns INTEGER NOT NULL, "
                    "PRIMARY KEY (repository, digest))"
                )
                db.isolation_level = "DEFERRED"  # `with db:` commits a transaction
                self._db = db
            except (OSError, sqlite3.Error) as exc:
                self._failed = True
                logger.warning(
                    "cannot use the verified-state record %s (%s: %s); verifications are "
                    "remembered for this process only. Set PREFECT_ARTIFACTS_VERIFIED_STATE to a "
                    "writable file",
                    self.path,
                    type(exc).__name__,
                    exc,
                )
        return self._db

    def _give_up(self, exc: Exception) -> None:
        logger.warning(
            "the verified-state record %s failed (%s: %s); verifications are remembered for "
            "this process only",
            self.path,
            type(exc).__name__,
            exc,
        )
        self._failed = True
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(Exception):
                db.close()

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(Exception):
                db.close()


_instances: weakref.WeakSet[VerifiedState] = weakref.WeakSet()


def _reset_after_fork() -> None:
    """A forked child must not use its parent's SQLite connection: it opens its own."""
    for state in list(_instances):
        state._db = None
        state._lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def local_identity(path: str) -> Identity | None:
    try:
        return Identity.of_stat(os.stat(path))
    except OSError:
        return None


def backdate(path: str) -> None:
    """Set a file we just wrote to an mtime one second before its ctime, so its identity is
    ordered (trusted at once, see the module docstring). Best effort."""
    with contextlib.suppress(OSError):
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 1_000_000_000))
