"""The catalog: versions, tags, labels, extra data, lineage and blob references in SQL.

SQLAlchemy Core over SQLite (WAL, ``BEGIN IMMEDIATE`` for writes) or PostgreSQL (row locks).
Version numbers come from a per-key counter row that writers lock, under a unique
``(project, key, version)`` constraint as the backstop, so concurrent writers never collide.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from .errors import ArtifactNotFoundError, CatalogError

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
md = sa.MetaData()

keys_t = sa.Table(
    "artifact_keys",
    md,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("last_version", sa.Integer, nullable=False),
    sa.Column("latest_id", ID, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("project", "key", name="uq_artifact_keys"),
    sa.Index("ix_artifact_keys_updated", "project", "updated_at"),
    sa.Index("ix_artifact_keys_kind", "project", "kind", "updated_at"),
    sa.Index("ix_artifact_keys_latest", "latest_id"),
)

versions_t = sa.Table(
    "artifact_versions",
    md,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(32), nullable=False, unique=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("materializer", sa.String(255), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("fingerprint", sa.String(64)),
    sa.Column("meta_digest", sa.String(64), nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("owner", sa.String(128)),
    sa.Column("flow_name", sa.String(255)),
    sa.Column("flow_run_id", sa.String(36)),
    sa.Column("task_run_id", sa.String(36)),
    sa.Column("producer", sa.JSON, nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("details", sa.JSON),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("project", "key", "version", name="uq_artifact_versions"),
    sa.Index("ix_artifact_versions_updated", "project", "updated_at"),
    sa.Index("ix_artifact_versions_hash", "hash"),
    sa.Index("ix_artifact_versions_flow_run", "flow_run_id"),
    sa.Index("ix_artifact_versions_task_run", "task_run_id"),
    sa.Index("ix_artifact_versions_flow", "project", "flow_name"),
)

tags_t = sa.Table(
    "artifact_tags",
    md,
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("tag", sa.String(64), nullable=False),
    sa.Column(
        "version_id", ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.PrimaryKeyConstraint("project", "key", "tag"),
    sa.Index("ix_artifact_tags_version", "version_id"),
    sa.Index("ix_artifact_tags_tag", "project", "tag"),
)

labels_t = sa.Table(
    "artifact_labels",
    md,
    sa.Column(
        "version_id", ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("value", sa.String(256), nullable=False),
    sa.PrimaryKeyConstraint("version_id", "name"),
    sa.Index("ix_artifact_labels_name_value", "name", "value", "version_id"),
)

extras_t = sa.Table(
    "artifact_extras",
    md,
    sa.Column(
        "version_id", ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("filename", sa.String(255)),
    sa.Column("artifact", sa.String(300)),
    sa.PrimaryKeyConstraint("version_id", "name"),
    sa.Index("ix_artifact_extras_hash", "hash"),
)

lineage_t = sa.Table(
    "artifact_lineage",
    md,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column(
        "version_id", ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("flow_name", sa.String(255)),
    sa.Column("flow_run_id", sa.String(36)),
    sa.Column("flow_run_name", sa.String(255)),
    sa.Column("task_run_id", sa.String(36)),
    sa.Column("task_run_name", sa.String(255)),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Index("ix_artifact_lineage_version", "version_id", "role"),
    sa.Index("ix_artifact_lineage_flow_run", "flow_run_id"),
    sa.Index("ix_artifact_lineage_task_run", "task_run_id"),
)

blobs_t = sa.Table(
    "artifact_blobs",
    md,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

VERSION_COLUMNS = [c for c in versions_t.c if c.name != "details"]
RUN_FIELDS = ("flow_name", "flow_run_id", "flow_run_name", "task_run_id", "task_run_name")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_db_time(value: datetime) -> datetime:
    """Aware → naive UTC; naive values are taken as local time, as ``datetime.now()`` gives."""
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def from_db_time(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc)


class BlobsMissing(Exception):
    """Raised inside a commit when referenced bytes vanished (a concurrent delete)."""

    def __init__(self, hashes: list[str]) -> None:
        super().__init__(", ".join(hashes))
        self.hashes = hashes


@dataclass
class NewVersion:
    """Everything the catalog stores for a version, minus what it allocates."""

    uid: str
    project: str
    key: str
    kind: str
    format: str
    materializer: str
    hash: str
    size: int
    fingerprint: str | None
    meta_digest: str
    filename: str
    content_type: str
    description: str | None
    owner: str | None
    producer: dict[str, Any]
    meta: dict[str, Any]
    details: dict[str, Any] | None
    labels: dict[str, str]
    extras: list[dict[str, Any]]
    tag: str | None = None
    blobs: dict[str, int] = field(default_factory=dict)  # hash → size of every referenced blob


@dataclass
class ListQuery:
    project: str | None = None  # None: every project
    key: str | None = None  # exact, or a glob with * ? [
    kind: str | None = None
    exclude_kinds: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    label_names: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    tag: str | None = None
    producer: str | None = None
    all_versions: bool = False
    limit: int | None = None
    offset: int = 0


class Catalog:
    """Versions and their metadata in SQL; the only module that speaks SQL."""

    def __init__(self, url: str, *, retry_seconds: float = 10.0) -> None:
        self.url = _with_driver(url)
        self.retry_seconds = retry_seconds
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise CatalogError(
                f"catalog URL {_safe(self.url)!r}: only sqlite:/// and postgresql:// are supported"
            )
        self.engine = self._make_engine()
        self._ready = False
        self._ready_lock = threading.Lock()

    # -- engine and transactions ----------------------------------------------------------
    def _make_engine(self) -> Engine:
        if self.dialect == "sqlite":
            path = make_url(self.url).database
            if path and path != ":memory:":
                from pathlib import Path

                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(self.url, connect_args={"timeout": 60})

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

            @sa.event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                write = conn.get_execution_options().get("catalog_write")
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

            return engine
        return sa.create_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=10)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _tx(self, write: bool) -> Iterator[Connection]:
        self._ensure_schema()
        with self._errors(), self.engine.connect() as conn:
            if write:
                conn = conn.execution_options(catalog_write=True)
            with conn.begin():
                yield conn

    def _retrying(self, fn: Callable[[Connection], Any], *, write: bool = True) -> Any:
        """Run ``fn`` in a transaction, retrying unique conflicts and transient failures
        (locked database, refused or dropped connections) for up to ``retry_seconds``."""
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.05
        while True:
            try:
                with self._tx(write) as conn:
                    return fn(conn)
            except CatalogError as exc:
                if not _retryable(exc.__cause__) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)

    def _read(self, fn: Callable[[Connection], Any]) -> Any:
        """A read transaction, retried like writes when the database is briefly away."""
        return self._retrying(fn, write=False)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
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
                f"catalog {_safe(self.url)} failed: {type(orig).__name__}: {first}. {fix}"
            ) from exc

    def _ensure_schema(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            for attempt in range(5):
                try:
                    with self._errors(), self.engine.connect() as conn:
                        conn = conn.execution_options(catalog_write=True)
                        with conn.begin():
                            if self.dialect == "postgresql":  # one creator at a time
                                conn.execute(sa.text("SELECT pg_advisory_xact_lock(72271)"))
                            md.create_all(conn, checkfirst=True)
                    break
                except CatalogError:
                    if attempt == 4:
                        raise
                    time.sleep(0.2 * (attempt + 1))
            self._ready = True

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    # -- writing versions ------------------------------------------------------------------
    def latest(self, project: str, key: str) -> dict[str, Any] | None:
        """Identity of the key's latest version (id, version, hash, fingerprint, meta_digest)."""
        query = (
            sa.select(
                versions_t.c.id,
                versions_t.c.version,
                versions_t.c.hash,
                versions_t.c.fingerprint,
                versions_t.c.meta_digest,
            )
            .select_from(keys_t.join(versions_t, versions_t.c.id == keys_t.c.latest_id))
            .where(keys_t.c.project == project, keys_t.c.key == key)
        )
        row = self._read(lambda conn: conn.execute(query).first())
        return dict(row._mapping) if row else None

    def commit(
        self,
        new: NewVersion,
        run: dict[str, Any],
        *,
        blobs_exist: Callable[[list[str]], list[str]],
        publish: Callable[[dict[str, Any]], None],
    ) -> tuple[int, bool, datetime | None]:
        """Insert ``new`` as the key's next version, or return the latest version when its
        content is identical. ``blobs_exist`` reports referenced hashes missing from storage
        (raising BlobsMissing aborts); ``publish`` writes the manifest before the commit.
        Returns (version row id, created, the time recorded — None when nothing was)."""

        def attempt(conn: Connection) -> tuple[int, bool, datetime | None]:
            now = utcnow()
            key_row = self._lock_key(conn, new.project, new.key, new.kind, now)
            if key_row.latest_id is not None:
                latest = conn.execute(
                    sa.select(versions_t.c.hash, versions_t.c.meta_digest).where(
                        versions_t.c.id == key_row.latest_id
                    )
                ).one()
                if (latest.hash, latest.meta_digest) == (new.hash, new.meta_digest):
                    added = self._add_run(conn, key_row.latest_id, "producer", run, now)
                    return key_row.latest_id, False, now if added else None
            self._lock_blobs(conn, new.blobs, now)
            missing = blobs_exist(sorted(new.blobs))
            if missing:
                raise BlobsMissing(missing)
            number = key_row.last_version + 1
            row = {
                c: getattr(new, c)
                for c in (
                    "uid",
                    "project",
                    "key",
                    "kind",
                    "format",
                    "materializer",
                    "hash",
                    "size",
                    "fingerprint",
                    "meta_digest",
                    "filename",
                    "content_type",
                    "description",
                    "owner",
                    "producer",
                    "meta",
                    "details",
                )
            }
            row.update(
                version=number,
                created_at=now,
                updated_at=now,
                flow_name=run.get("flow_name"),
                flow_run_id=run.get("flow_run_id"),
                task_run_id=run.get("task_run_id"),
            )
            vid = conn.execute(
                versions_t.insert().values(**row).returning(versions_t.c.id)
            ).scalar_one()
            if new.labels:
                conn.execute(
                    labels_t.insert(),
                    [{"version_id": vid, "name": k, "value": v} for k, v in new.labels.items()],
                )
            if new.extras:
                conn.execute(extras_t.insert(), [{"version_id": vid, **e} for e in new.extras])
            self._add_run(conn, vid, "producer", run, now)
            conn.execute(
                keys_t.update()
                .where(keys_t.c.id == key_row.id)
                .values(last_version=number, latest_id=vid, kind=new.kind, updated_at=now)
            )
            if new.tag:
                self._move_tag(conn, new.project, new.key, new.tag, vid, now)
            publish(self._records(conn, [vid], details=True)[0])
            return vid, True, now

        return self._retrying(attempt)

    def _lock_key(self, conn: Connection, project: str, key: str, kind: str, now: datetime) -> Any:
        conn.execute(
            self._insert(keys_t)
            .values(
                project=project, key=key, kind=kind, last_version=0, created_at=now, updated_at=now
            )
            .on_conflict_do_nothing(index_elements=["project", "key"])
        )
        return conn.execute(
            sa.select(keys_t)
            .where(keys_t.c.project == project, keys_t.c.key == key)
            .with_for_update()
        ).one()

    def _lock_blobs(self, conn: Connection, blobs: dict[str, int], now: datetime) -> None:
        if not blobs:
            return
        conn.execute(
            self._insert(blobs_t).on_conflict_do_nothing(index_elements=["hash"]),
            [{"hash": h, "size": s, "created_at": now} for h, s in sorted(blobs.items())],
        )
        conn.execute(
            sa.select(blobs_t.c.hash).where(blobs_t.c.hash.in_(sorted(blobs))).with_for_update()
        ).all()

    def _move_tag(
        self, conn: Connection, project: str, key: str, tag: str, vid: int, now: datetime
    ) -> None:
        previous = conn.execute(
            sa.select(tags_t.c.version_id).where(
                tags_t.c.project == project, tags_t.c.key == key, tags_t.c.tag == tag
            )
        ).scalar()
        if previous == vid:
            return
        if previous is not None:
            conn.execute(
                tags_t.update()
                .where(tags_t.c.project == project, tags_t.c.key == key, tags_t.c.tag == tag)
                .values(version_id=vid)
            )
        else:
            conn.execute(tags_t.insert().values(project=project, key=key, tag=tag, version_id=vid))
        touched = [vid] if previous is None else [vid, previous]
        self._touch(conn, project, key, touched, now)

    def _touch(
        self, conn: Connection, project: str, key: str, vids: list[int], now: datetime
    ) -> None:
        conn.execute(versions_t.update().where(versions_t.c.id.in_(vids)).values(updated_at=now))
        conn.execute(
            keys_t.update()
            .where(keys_t.c.project == project, keys_t.c.key == key)
            .values(updated_at=now)
        )

    def _add_run(
        self, conn: Connection, vid: int, role: str, run: dict[str, Any], now: datetime
    ) -> bool:
        if not (run.get("flow_run_id") or run.get("task_run_id")):
            return False
        same = sa.and_(
            lineage_t.c.version_id == vid,
            lineage_t.c.role == role,
            lineage_t.c.flow_run_id == run.get("flow_run_id")
            if run.get("flow_run_id")
            else lineage_t.c.flow_run_id.is_(None),
            lineage_t.c.task_run_id == run.get("task_run_id")
            if run.get("task_run_id")
            else lineage_t.c.task_run_id.is_(None),
        )
        if conn.execute(sa.select(lineage_t.c.id).where(same).limit(1)).first():
            return False
        conn.execute(
            lineage_t.insert().values(
                version_id=vid, role=role, at=now, **{f: run.get(f) for f in RUN_FIELDS}
            )
        )
        return True

    # -- changing versions -----------------------------------------------------------------
    # Each change takes the time ``at`` (naive UTC) it records, so the journal entry the
    # repository writes for it carries the same time and ``reindex`` reproduces it exactly.
    def add_run(self, vid: int, role: str, run: dict[str, Any], at: datetime) -> bool:
        """Record that a run produced or consumed a version; False if already recorded."""
        return self._retrying(lambda conn: self._add_run(conn, vid, role, run, at))

    def set_tag(self, vid: int, tag: str, at: datetime) -> None:
        def attempt(conn: Connection) -> None:
            row = conn.execute(
                sa.select(versions_t.c.project, versions_t.c.key).where(versions_t.c.id == vid)
            ).one()
            self._move_tag(conn, row.project, row.key, tag, vid, at)

        self._retrying(attempt)

    def remove_tag(self, project: str, key: str, tag: str, at: datetime) -> int | None:
        """Drop a tag; returns the version number it pointed at, or None."""

        def attempt(conn: Connection) -> int | None:
            where = (tags_t.c.project == project, tags_t.c.key == key, tags_t.c.tag == tag)
            row = conn.execute(
                sa.select(tags_t.c.version_id, versions_t.c.version)
                .join(versions_t, versions_t.c.id == tags_t.c.version_id)
                .where(*where)
            ).first()
            if row is None:
                return None
            conn.execute(tags_t.delete().where(*where))
            self._touch(conn, project, key, [row.version_id], at)
            return row.version

        return self._retrying(attempt)

    def set_description(self, vid: int, description: str | None, at: datetime) -> None:
        def attempt(conn: Connection) -> None:
            row = conn.execute(
                sa.select(versions_t.c.project, versions_t.c.key).where(versions_t.c.id == vid)
            ).one()
            conn.execute(
                versions_t.update().where(versions_t.c.id == vid).values(description=description)
            )
            self._touch(conn, row.project, row.key, [vid], at)

        self._retrying(attempt)

    def set_labels(
        self, vid: int, labels: dict[str, str], at: datetime, *, replace: bool = False
    ) -> None:
        def attempt(conn: Connection) -> None:
            row = conn.execute(
                sa.select(versions_t.c.project, versions_t.c.key).where(versions_t.c.id == vid)
            ).one()
            if replace:
                conn.execute(labels_t.delete().where(labels_t.c.version_id == vid))
            else:
                conn.execute(
                    labels_t.delete().where(
                        labels_t.c.version_id == vid, labels_t.c.name.in_(list(labels))
                    )
                )
            if labels:
                conn.execute(
                    labels_t.insert(),
                    [{"version_id": vid, "name": k, "value": v} for k, v in labels.items()],
                )
            self._touch(conn, row.project, row.key, [vid], at)

        self._retrying(attempt)

    def delete(
        self,
        project: str,
        key: str,
        version: int | None,
        at: datetime,
        *,
        before_commit: Callable[[list[str]], None] | None = None,
    ) -> tuple[list[int], list[str]]:
        """Delete one version or the whole key. Returns the deleted version numbers and the
        hashes no version references any more (their blob rows are gone; remove the bytes).
        ``before_commit(hashes)`` runs inside the transaction with those blobs locked: if it
        raises, nothing is deleted."""

        def attempt(conn: Connection) -> tuple[list[int], list[str]]:
            conn.execute(  # a concurrent commit of this key waits, and we wait for it
                sa.select(keys_t.c.id)
                .where(keys_t.c.project == project, keys_t.c.key == key)
                .with_for_update()
            ).first()
            where = [versions_t.c.project == project, versions_t.c.key == key]
            if version is not None:
                where.append(versions_t.c.version == version)
            rows = conn.execute(
                sa.select(versions_t.c.id, versions_t.c.version, versions_t.c.hash).where(*where)
            ).all()
            if not rows:
                return [], []
            vids = [r.id for r in rows]
            hashes = {r.hash for r in rows} | set(
                conn.execute(
                    sa.select(extras_t.c.hash).where(extras_t.c.version_id.in_(vids))
                ).scalars()
            )
            for table in (tags_t, labels_t, extras_t, lineage_t):
                conn.execute(table.delete().where(table.c.version_id.in_(vids)))
            conn.execute(versions_t.delete().where(versions_t.c.id.in_(vids)))
            latest = conn.execute(
                sa.select(versions_t.c.id)
                .where(versions_t.c.project == project, versions_t.c.key == key)
                .order_by(versions_t.c.version.desc())
                .limit(1)
            ).scalar()
            conn.execute(
                keys_t.update()
                .where(keys_t.c.project == project, keys_t.c.key == key)
                .values(latest_id=latest, updated_at=at)
            )
            free = self._release_blobs(conn, hashes)
            if before_commit is not None:
                before_commit(free)
            return sorted(r.version for r in rows), free

        return self._retrying(attempt)

    def _release_blobs(self, conn: Connection, hashes: Iterable[str]) -> list[str]:
        hashes = sorted(hashes)
        if not hashes:
            return []
        conn.execute(
            sa.select(blobs_t.c.hash).where(blobs_t.c.hash.in_(hashes)).with_for_update()
        ).all()
        used = set(
            conn.execute(
                sa.select(versions_t.c.hash).where(versions_t.c.hash.in_(hashes)).distinct()
            ).scalars()
        )
        used |= set(
            conn.execute(
                sa.select(extras_t.c.hash).where(extras_t.c.hash.in_(hashes)).distinct()
            ).scalars()
        )
        free = [h for h in hashes if h not in used]
        if free:
            conn.execute(blobs_t.delete().where(blobs_t.c.hash.in_(free)))
        return free

    # -- reading -----------------------------------------------------------------------------
    def find(
        self, project: str, key: str, *, version: int | None = None, tag: str | None = None
    ) -> dict[str, Any] | None:
        """The full record of one version: by number, by tag, or the latest."""
        if tag is not None:
            query = sa.select(tags_t.c.version_id).where(
                tags_t.c.project == project, tags_t.c.key == key, tags_t.c.tag == tag
            )
        elif version is not None:
            query = sa.select(versions_t.c.id).where(
                versions_t.c.project == project,
                versions_t.c.key == key,
                versions_t.c.version == version,
            )
        else:
            query = sa.select(keys_t.c.latest_id).where(
                keys_t.c.project == project, keys_t.c.key == key
            )

        def read(conn: Connection) -> dict[str, Any] | None:
            vid = conn.execute(query).scalar()
            return self._records(conn, [vid], details=True)[0] if vid is not None else None

        return self._read(read)

    def by_ids(self, vids: list[int], *, details: bool = False) -> list[dict[str, Any]]:
        return self._read(lambda conn: self._records(conn, vids, details=details))

    def versions_of(self, project: str, key: str) -> list[dict[str, Any]]:
        """Every version of a key, newest first, without previews and stats."""
        return self.list(ListQuery(project=project, key=key, all_versions=True), order="version")

    def list(self, query: ListQuery, *, order: str = "updated") -> list[dict[str, Any]]:
        stmt = self._list_select(query, sa.select(versions_t.c.id))
        if query.all_versions or query.tag:
            sort = versions_t.c.version if order == "version" else versions_t.c.updated_at
            stmt = stmt.order_by(sort.desc(), versions_t.c.id.desc())
        else:
            stmt = stmt.order_by(keys_t.c.updated_at.desc(), keys_t.c.id.desc())
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        if query.offset:
            stmt = stmt.offset(query.offset)
        return self._read(
            lambda conn: self._records(conn, list(conn.execute(stmt).scalars()), details=False)
        )

    def count(self, query: ListQuery) -> int:
        stmt = self._list_select(query, sa.select(sa.func.count()))
        return self._read(lambda conn: conn.execute(stmt).scalar_one())

    def _list_select(self, q: ListQuery, stmt: sa.Select) -> sa.Select:
        v = versions_t.c
        latest_mode = not (q.all_versions or q.tag)
        if q.tag:
            stmt = stmt.select_from(versions_t.join(tags_t, tags_t.c.version_id == v.id)).where(
                tags_t.c.tag == q.tag
            )
        elif latest_mode:
            stmt = stmt.select_from(keys_t.join(versions_t, v.id == keys_t.c.latest_id))
        else:
            stmt = stmt.select_from(versions_t)
        updated = keys_t.c.updated_at if latest_mode else v.updated_at
        project_col = keys_t.c.project if latest_mode else v.project
        if q.project is not None:
            stmt = stmt.where(project_col == q.project)
        if q.key:
            if "[" in q.key and self.dialect == "sqlite":  # SQLite's own GLOB: no backtracking
                pattern = q.key.lower().replace("[!", "[^")
                stmt = stmt.where(sa.func.lower(v.key).op("GLOB")(pattern))
            elif "[" in q.key:
                stmt = stmt.where(v.key.regexp_match(_glob_to_regex(q.key), flags="i"))
            elif "*" in q.key or "?" in q.key:
                stmt = stmt.where(v.key.ilike(_glob_to_like(q.key), escape="\\"))
            else:
                stmt = stmt.where(v.key == q.key)
        kind_col = keys_t.c.kind if latest_mode else v.kind
        if q.kind:
            stmt = stmt.where(kind_col == q.kind)
        if q.exclude_kinds:
            stmt = stmt.where(kind_col.not_in(q.exclude_kinds))
        for name, value in q.labels.items():
            stmt = stmt.where(
                sa.exists().where(
                    labels_t.c.version_id == v.id,
                    labels_t.c.name == name,
                    labels_t.c.value == value,
                )
            )
        for name in q.label_names:
            stmt = stmt.where(
                sa.exists().where(labels_t.c.version_id == v.id, labels_t.c.name == name)
            )
        if q.since is not None:
            stmt = stmt.where(updated >= to_db_time(q.since))
        if q.until is not None:
            stmt = stmt.where(updated <= to_db_time(q.until))
        if q.producer:
            stmt = stmt.where(
                sa.or_(
                    v.flow_name == q.producer,
                    v.flow_run_id == q.producer,
                    v.task_run_id == q.producer,
                )
            )
        return stmt

    def _records(self, conn: Connection, vids: list[int], *, details: bool) -> list[dict[str, Any]]:
        """Full records for version ids (in the given order), labels, tags and extras included."""
        if not vids:
            return []
        columns = list(VERSION_COLUMNS) + ([versions_t.c.details] if details else [])
        rows: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(vids, 500):
            for row in conn.execute(sa.select(*columns).where(versions_t.c.id.in_(chunk))):
                record = dict(row._mapping)
                record.update(labels={}, tags=[], extras=[])
                record["created_at"] = from_db_time(record["created_at"])
                record["updated_at"] = from_db_time(record["updated_at"])
                rows[record["id"]] = record
            for vid, name, value in conn.execute(
                sa.select(labels_t.c.version_id, labels_t.c.name, labels_t.c.value).where(
                    labels_t.c.version_id.in_(chunk)
                )
            ):
                rows[vid]["labels"][name] = value
            for vid, tag in conn.execute(
                sa.select(tags_t.c.version_id, tags_t.c.tag).where(tags_t.c.version_id.in_(chunk))
            ):
                rows[vid]["tags"].append(tag)
            for extra in conn.execute(sa.select(extras_t).where(extras_t.c.version_id.in_(chunk))):
                rows[extra.version_id]["extras"].append(dict(extra._mapping))
        for record in rows.values():
            record["tags"].sort()
        return [rows[vid] for vid in vids if vid in rows]

    def runs(self, vid: int, role: str) -> list[dict[str, Any]]:
        """The runs that produced or consumed a version, oldest first."""
        query = (
            sa.select(lineage_t, versions_t.c.project, versions_t.c.key, versions_t.c.version)
            .join(versions_t, versions_t.c.id == lineage_t.c.version_id)
            .where(lineage_t.c.version_id == vid, lineage_t.c.role == role)
            .order_by(lineage_t.c.at, lineage_t.c.id)
        )
        rows = self._read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])
        for row in rows:
            row["at"] = from_db_time(row["at"])
        return rows

    def run_versions(self, run_ids: list[str], role: str) -> list[int]:
        """Version ids that runs (task run or flow-level run ids) produced or consumed."""
        if not run_ids:
            return []
        by_task = lineage_t.c.task_run_id.in_(run_ids)
        by_flow = sa.and_(lineage_t.c.flow_run_id.in_(run_ids), lineage_t.c.task_run_id.is_(None))
        query = (
            sa.select(lineage_t.c.version_id)
            .where(lineage_t.c.role == role, sa.or_(by_task, by_flow))
            .distinct()
        )
        return self._read(lambda conn: sorted(conn.execute(query).scalars()))

    def version_with_hash(self, digest: str) -> int | None:
        return self._read(
            lambda conn: conn.execute(
                sa.select(versions_t.c.id)
                .where(versions_t.c.hash == digest)
                .order_by(versions_t.c.id)
                .limit(1)
            ).scalar()
        )

    def referenced_hashes(self) -> set[str]:
        return self._read(
            lambda conn: (
                set(conn.execute(sa.select(versions_t.c.hash).distinct()).scalars())
                | set(conn.execute(sa.select(extras_t.c.hash).distinct()).scalars())
            )
        )

    def projects(self) -> list[dict[str, Any]]:
        query = (
            sa.select(
                keys_t.c.project,
                sa.func.count().label("keys"),
                sa.func.max(keys_t.c.updated_at).label("updated_at"),
            )
            .where(keys_t.c.latest_id.is_not(None))
            .group_by(keys_t.c.project)
            .order_by(keys_t.c.project)
        )
        return self._read(
            lambda conn: [
                {**r._mapping, "updated_at": from_db_time(r.updated_at)}
                for r in conn.execute(query)
            ]
        )


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _glob_to_like(pattern: str) -> str:
    """``*`` and ``?`` globs as a LIKE pattern (escape character ``\\``)."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _glob_to_regex(pattern: str) -> str:
    """A glob with ``[...]`` classes as an anchored regular expression (SQLite and PostgreSQL)."""
    out, i = ["^"], 0
    while i < len(pattern):
        ch = pattern[i]
        end = pattern.find("]", i + 2) if ch == "[" else -1
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif end != -1:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out) + "$"


def _with_driver(url: str) -> str:
    """``postgresql://`` → psycopg 3, the driver this package installs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


_TRANSIENT = re.compile(
    r"database is locked|could not connect|connection refused|server closed the connection|"
    r"connection .* (?:closed|lost)|terminating connection|deadlock detected|"
    r"could not serialize|timeout|the database system is (?:starting|shutting) up",
    re.IGNORECASE,
)


def _retryable(exc: BaseException | None) -> bool:
    """Unique-key races (someone else took the number) and transient outages."""
    if isinstance(exc, sa_exc.IntegrityError):
        code = getattr(exc.orig, "sqlstate", None)
        return code == "23505" or "UNIQUE constraint failed" in str(exc.orig)
    return _transient(exc)


def _transient(exc: BaseException | None) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sa_exc.OperationalError) and bool(_TRANSIENT.search(str(exc)))


# -- maintenance: restoring from manifests, orphan blobs ------------------------------------------
VERSION_FIELDS = [c.name for c in versions_t.c if c.name != "id"]


def _restore_key(catalog: Catalog, conn: Connection, item: dict[str, Any]) -> dict[str, int]:
    """Insert what the catalog lacks for one key (versions by uid, their labels, extras and
    runs, tags, blob rows) and fold the key row. Never changes what is already there."""
    counts = {"versions": 0, "tags": 0, "runs": 0, "conflicts": 0}
    project, key = item["project"], item["key"]
    now = item["updated_at"]
    conn.execute(
        catalog._insert(keys_t)
        .values(
            project=project,
            key=key,
            kind=item["kind"],
            last_version=0,
            created_at=item["created_at"],
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["project", "key"])
    )
    key_row = conn.execute(
        sa.select(keys_t).where(keys_t.c.project == project, keys_t.c.key == key).with_for_update()
    ).one()
    present = {
        r.uid: (r.id, r.version)
        for r in conn.execute(
            sa.select(versions_t.c.uid, versions_t.c.id, versions_t.c.version).where(
                versions_t.c.project == project, versions_t.c.key == key
            )
        )
    }
    numbers = {number for _, number in present.values()}
    ids: dict[int, int] = {number: vid for vid, number in present.values()}
    for record in item["versions"]:
        if record["uid"] in present:
            continue
        if record["version"] in numbers:  # a live writer reused the number: keep the live one
            counts["conflicts"] += 1
            continue
        blobs = {record["hash"]: record["size"], **{e["hash"]: e["size"] for e in record["extras"]}}
        catalog._lock_blobs(conn, blobs, record["created_at"])
        vid = conn.execute(
            versions_t.insert()
            .values(**{f: record[f] for f in VERSION_FIELDS})
            .returning(versions_t.c.id)
        ).scalar_one()
        ids[record["version"]] = vid
        if record["labels"]:
            conn.execute(
                labels_t.insert(),
                [{"version_id": vid, "name": k, "value": v} for k, v in record["labels"].items()],
            )
        if record["extras"]:
            conn.execute(extras_t.insert(), [{"version_id": vid, **e} for e in record["extras"]])
        counts["versions"] += 1
    for record in item["versions"]:
        vid = ids.get(record["version"])
        for run in record["runs"] if vid else []:
            counts["runs"] += catalog._add_run(conn, vid, run["role"], run, run["at"])
    for tag, number in item["tags"].items():
        if (
            number in ids
            and conn.execute(
                sa.select(tags_t.c.tag).where(
                    tags_t.c.project == project, tags_t.c.key == key, tags_t.c.tag == tag
                )
            ).first()
            is None
        ):
            conn.execute(
                tags_t.insert().values(project=project, key=key, tag=tag, version_id=ids[number])
            )
            counts["tags"] += 1
    latest = max(ids) if ids else None
    conn.execute(
        keys_t.update()
        .where(keys_t.c.id == key_row.id)
        .values(
            last_version=max(key_row.last_version, item["last_version"], latest or 0),
            latest_id=ids.get(latest) if latest else None,
            kind=next(
                (r["kind"] for r in item["versions"] if r["version"] == latest), key_row.kind
            ),
            updated_at=max(key_row.updated_at, now),
            created_at=min(key_row.created_at, item["created_at"]),
        )
    )
    return counts


def restore(catalog: Catalog, items: list[dict[str, Any]], batch: int = 200) -> dict[str, int]:
    """Restore many keys (see ``_restore_key``), a batch of keys per transaction."""
    totals = {"versions": 0, "tags": 0, "runs": 0, "conflicts": 0}
    for start in range(0, len(items), batch):

        def attempt(
            conn: Connection, chunk: list[dict[str, Any]] = items[start : start + batch]
        ) -> list[dict[str, int]]:
            return [_restore_key(catalog, conn, item) for item in chunk]

        for counts in catalog._retrying(attempt):
            for name, value in counts.items():
                totals[name] += value
    return totals


def release_orphan(catalog: Catalog, digest: str, remove: Callable[[], None]) -> bool:
    """Delete an unreferenced blob: lock its row, re-check that no version or extra references
    it, remove the bytes, drop the row — atomically against writers that re-reference it."""

    def attempt(conn: Connection) -> bool:
        catalog._lock_blobs(conn, {digest: 0}, utcnow())
        used = (
            conn.execute(
                sa.select(versions_t.c.id).where(versions_t.c.hash == digest).limit(1)
            ).first()
            or conn.execute(
                sa.select(extras_t.c.version_id).where(extras_t.c.hash == digest).limit(1)
            ).first()
        )
        if used:
            return False
        remove()
        conn.execute(blobs_t.delete().where(blobs_t.c.hash == digest))
        return True

    return catalog._retrying(attempt)
