"""The catalog's database: engines for SQLite and PostgreSQL, transactions with retries, error
translation, and the schema check on first use.

SQLite runs in WAL mode and begins writes with ``BEGIN IMMEDIATE``; PostgreSQL uses row locks.
Both retry unique-key races and transient outages for ``retry_seconds``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from ..errors import ArtifactNotFoundError, CatalogError

T = TypeVar("T")
logger = logging.getLogger("prefect_artifacts.catalog")
# Engines of SQLite files that were deleted or replaced, kept open for good: closing SQLite's
# last connection to a file deletes its ``-wal`` by name — which now belongs to the new file.
_abandoned: list[Engine] = []
_TRANSIENT = re.compile(
    r"database is locked|could not connect|connection refused|server closed the connection|"
    r"connection .* (?:closed|lost)|terminating connection|deadlock detected|"
    r"could not serialize|timeout|the database system is (?:starting|shutting) up",
    re.IGNORECASE,
)


class Database:
    """An engine plus the transaction discipline every catalog operation goes through."""

    def __init__(
        self,
        url: str,
        *,
        retry_seconds: float = 10.0,
        auto_upgrade: bool = True,
        prepare: Callable[[Database], None] | None = None,
    ):
        self.url = with_driver(url)
        self.retry_seconds = retry_seconds
        self.auto_upgrade = auto_upgrade
        self.prepare = prepare  # run once before first use: the schema check
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise CatalogError(
                f"catalog URL {safe_url(self.url)!r}: only sqlite:/// and postgresql:// are "
                "supported"
            )
        self.path = _sqlite_path(self.url) if self.dialect == "sqlite" else None
        self.on_open: list[Callable[[], None]] = []  # after the schema check of each opening
        self.on_reopen: list[Callable[[], None]] = []  # when a replaced SQLite file is reopened
        self._file: tuple[int, int] | None = None  # the SQLite file's (device, inode)
        self.engine = self._make_engine()
        self._ready = False
        self._ready_lock = threading.Lock()
        self._writers = (os.getpid(), threading.Lock())

    def _make_engine(self) -> Engine:
        if self.dialect == "postgresql":
            engine = sa.create_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=10)
            sa.event.listen(engine, "handle_error", _discard_broken_connections)
            sa.event.listen(engine, "connect", _serial_plans)
            return engine
        path = make_url(self.url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(self.url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "do_connect")
        def _before_connect(*_: Any) -> None:
            if self.path:
                remove_stale_wal(self.path)

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _: Any) -> None:
            dbapi_conn.isolation_level = None  # transactions are begun below
            cursor = dbapi_conn.cursor()
            for pragma in (
                "busy_timeout=60000",
                "journal_mode=WAL",
                "synchronous=NORMAL",
                "foreign_keys=ON",
            ):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()
            if self.path and self._file is None:
                self._file = _identity(self.path)

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("catalog_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    def dispose(self) -> None:
        self.engine.dispose()

    def insert(self, table: sa.Table) -> Any:
        """An INSERT that supports ``on_conflict_do_nothing`` on this dialect."""
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    # -- transactions ------------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self, *, write: bool) -> Iterator[Connection]:
        """One transaction, without the schema check or retries (migrations use it)."""
        if self.path and self._file is not None and _identity(self.path) != self._file:
            self._reopen()
        with self._one_writer(write), self.errors(), self.engine.connect() as conn:
            if write:
                conn = conn.execution_options(catalog_write=True)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def _one_writer(self, write: bool) -> Iterator[None]:
        """SQLite takes one writer at a time: this process's writers queue here rather than
        poll SQLite's lock (its busy handler sleeps up to 100 ms a try, idling the database
        while a hundred threads wait). Other processes still meet at SQLite's lock."""
        if not write or self.dialect != "sqlite":
            yield
            return
        pid, lock = self._writers
        if pid != os.getpid():  # a forked child: the parent's lock may be held by no thread here
            self._writers = pid, lock = os.getpid(), threading.Lock()
        with lock:
            yield

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a write transaction, retrying unique conflicts and transient failures
        (locked database, refused or dropped connections) for up to ``retry_seconds``."""
        return self._retrying(fn, write=True)

    def read(self, fn: Callable[[Connection], T]) -> T:
        """A read transaction, retried like writes when the database is briefly away."""
        return self._retrying(fn, write=False)

    def _retrying(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        self.ensure_schema()

        def attempt() -> T:
            with self.connect(write=write) as conn:
                return fn(conn)

        return self.retry(attempt)

    def retry(self, attempt: Callable[[], T]) -> T:
        """Call ``attempt`` until it succeeds, fails for good, or ``retry_seconds`` pass."""
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.05
        while True:
            try:
                return attempt()
            except CatalogError as exc:
                if not retryable(exc.__cause__) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """SQLAlchemy errors → CatalogError naming the catalog (password hidden) and the fix."""
        try:
            yield
        except sa_exc.NoResultFound as exc:
            raise ArtifactNotFoundError(
                "the version was deleted while this operation ran; look it up again"
            ) from exc
        except sa_exc.SQLAlchemyError as exc:
            orig = getattr(exc, "orig", None) or exc
            first = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
            reachability = isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)) or (
                isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
            )
            fix = (
                "Check that the database is reachable (PREFECT_ARTIFACTS_CATALOG_URL), then retry"
                if reachability
                else "The catalog refused the operation"
            )
            raise CatalogError(
                f"catalog {safe_url(self.url)} failed: {type(orig).__name__}: {first}. {fix}"
            ) from exc

    def _reopen(self) -> None:
        """The SQLite file was deleted or replaced (a catalog rebuilt by ``reindex``): leave
        the old connections (see ``_abandoned``) and open the file at the path afresh."""
        with self._ready_lock:
            if self._file is None or _identity(self.path or "") == self._file:
                return  # another thread reopened it
            logger.warning("the catalog file %s was deleted or replaced; reopening it", self.path)
            _abandoned.append(self.engine)
            self._file = None
            self.engine = self._make_engine()
            self._ready = False
        for hook in self.on_reopen:
            hook()

    # -- schema -----------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """On first use, run ``prepare`` (the catalog's schema check) once, with retries, then
        the ``on_open`` hooks."""
        if self._ready:
            return
        opened = False
        with self._ready_lock:
            if not self._ready:
                prepare = self.prepare
                if prepare is not None:
                    self.retry(lambda: prepare(self))
                self._ready = opened = True
        if opened:
            for hook in self.on_open:
                hook()


def with_driver(url: str) -> str:
    """``postgresql://`` → psycopg 3, the driver this package installs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _sqlite_path(url: str) -> str | None:
    path = make_url(url).database
    return os.path.abspath(path) if path and path != ":memory:" else None


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def remove_stale_wal(path: str) -> list[str]:
    """Remove the ``-wal``/``-shm`` files a deleted SQLite database left behind (a new file
    at the path would read them and fail with "disk I/O error"); returns what was removed."""
    if os.path.exists(path):
        return []
    removed = []
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + suffix)
            removed.append(path + suffix)
    if removed:
        logger.warning(
            "removed %s: left by a deleted catalog database at %s, they would break the new one",
            " and ".join(os.path.basename(r) for r in removed),
            path,
        )
    return removed


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


_BROKEN = ("another command is already in progress",)  # psycopg, after a killed backend


def _serial_plans(dbapi_conn: Any, _: Any) -> None:
    """No parallel workers for the catalog's sessions: its queries are short indexed lookups
    with a LIMIT, and starting a worker costs more than the whole query (a label + time search
    of 1M versions: 30 ms with one worker, 1 ms without)."""
    autocommit = dbapi_conn.autocommit
    dbapi_conn.autocommit = True  # a SET inside a transaction would go with its rollback
    with dbapi_conn.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")
    dbapi_conn.autocommit = autocommit


def _discard_broken_connections(context: Any) -> None:
    """A connection left mid-command by a backend killed under it is unusable: have SQLAlchemy
    treat the error as a disconnect, so the connection is dropped from the pool (never handed
    out again) and the attempt is retried on a new one."""
    if any(text in str(context.original_exception) for text in _BROKEN):
        context.is_disconnect = True


def retryable(exc: BaseException | None) -> bool:
    """Unique-key races (someone else took the number) and transient outages."""
    if isinstance(exc, sa_exc.IntegrityError):
        code = getattr(exc.orig, "sqlstate", None)
        return code == "23505" or "UNIQUE constraint failed" in str(exc.orig)
    return transient(exc)


def transient(exc: BaseException | None) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.PendingRollbackError):  # the backend died mid-transaction
        return True  # (killed, failover): nothing committed; a new attempt gets a new connection
    return isinstance(exc, sa_exc.OperationalError) and bool(_TRANSIENT.search(str(exc)))
