"""The catalog: versions, tags, labels, extra data, lineage and blob references in SQL.

A façade over small parts — ``database`` (engines, transactions, retries), ``migrate``
(Alembic revisions), ``versions`` (writes), ``queries`` (reads), ``blobs``, ``outbox`` (durable
records committed with their change) and ``restore`` (reindex). Every method is one
transaction; rows leave as typed records.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from ..access import AuditEntry, User
from ..filters import ArtifactFilter
from . import access, blobs, migrate, outbox, queries, restore, tracking, versions
from .database import Database
from .recent import RecentRecords
from .records import (
    Committed,
    ExtraRecord,
    LatestRecord,
    NewVersion,
    OutboxRecord,
    PartRecord,
    ProjectRecord,
    RevisionRecord,
    RunRecord,
    VersionRecord,
    utcnow,
)
from .schema import blobs_t, keys_t, repository_t
from .versions import BlobsMissing

T = TypeVar("T")

__all__ = [
    "BlobsMissing",
    "Catalog",
    "Committed",
    "ExtraRecord",
    "LatestRecord",
    "NewVersion",
    "OutboxRecord",
    "PartRecord",
    "ProjectRecord",
    "RevisionRecord",
    "RunRecord",
    "VersionRecord",
    "utcnow",
]


class Catalog:
    """Versions and their metadata in SQL (SQLite or PostgreSQL)."""

    def __init__(self, url: str, *, retry_seconds: float = 10.0, auto_upgrade: bool = True) -> None:
        self.db = Database(
            url,
            retry_seconds=retry_seconds,
            auto_upgrade=auto_upgrade,
            prepare=migrate.ensure_current,  # create, upgrade, or refuse the schema
        )
        self._lock = threading.Lock()
        self._unwritten: list[OutboxRecord] = []  # committed here, not yet in storage
        self._written: list[int] = []  # in storage; deleted by the next write transaction
        self._recent = RecentRecords()  # records by stamp: an unchanged version is read once
        self.seal: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # signs records
        # Set by the repository: run before every write transaction (the binding check).
        self.before_write: Callable[[], None] | None = None
        self.db.on_reopen.append(self._recent.clear)

    @property
    def url(self) -> str:
        return self.db.url

    @property
    def dialect(self) -> str:
        return self.db.dialect

    @property
    def engine(self) -> Any:
        return self.db.engine

    def dispose(self) -> None:
        self.db.dispose()

    # -- writes --------------------------------------------------------------------------------
    def _write(self, fn: Callable[[Any], T]) -> T:
        """A write transaction that also clears the outbox rows already written to storage
        and keeps what this one queues (see :meth:`take_unwritten`)."""

        if self.before_write is not None:
            self.before_write()

        def attempt(conn: Any) -> tuple[T, list[OutboxRecord]]:
            with self._lock:
                done, self._written = self._written, []
            try:
                outbox.done(conn, done)
                conn.info["outbox"] = []
                conn.info["seal"] = self.seal
                result = fn(conn)
                conn.info.pop("seal", None)
                return result, conn.info.pop("outbox")
            except BaseException:
                conn.info.pop("outbox", None)
                conn.info.pop("seal", None)
                with self._lock:
                    self._written.extend(done)  # for the next transaction
                raise

        result, queued = self.db.write(attempt)
        if queued:
            with self._lock:
                self._unwritten.extend(queued)
        return result

    def commit(
        self,
        new: NewVersion,
        run: dict[str, Any],
        *,
        missing: Callable[[list[str]], list[str]],
        sign: Callable[[dict[str, Any]], dict[str, str]] | None = None,
    ) -> Committed:
        """Insert ``new`` as the key's next version (or find identical content as its latest);
        ``sign`` signs its identity once its number is allocated."""
        return self._write(
            lambda conn: versions.commit(
                self.db, conn, new, run, utcnow(), missing=missing, sign=sign
            )
        )

    def add_run(self, vid: int, role: str, run: dict[str, Any], at: datetime) -> bool:
        """Record that a run produced or consumed a version; False if already recorded."""
        return self._write(lambda conn: versions.add_run(conn, vid, role, run, at))

    def set_tag(
        self, vid: int, tag: str, at: datetime, who: dict[str, Any] | None = None
    ) -> int | bool | None:
        """Point ``tag`` at a version; returns the number of the version it left (None: the
        tag is new, False: it was there already). ``who``: by whom, from which run (history)."""
        return self._write(lambda conn: versions.set_tag(conn, vid, tag, at, who))

    def select(
        self, vid: int, at: datetime, who: dict[str, Any] | None, selector: str
    ) -> int | None:
        """Make a sweep's winner the key's latest, tagged ``best`` (see ``versions.select``)."""
        return self._write(lambda conn: versions.select(conn, vid, at, who, selector))

    def remove_tag(self, project: str, key: str, tag: str, at: datetime) -> tuple[int, str] | None:
        return self._write(lambda conn: versions.remove_tag(conn, project, key, tag, at))

    # -- experiment tracking --------------------------------------------------------------------
    def add_metrics(
        self,
        project: str,
        run_id: str,
        points: list[tuple[str, int, float, datetime]],
        results: dict[str, Any],
    ) -> None:
        """One batch of a run's metric points and results, journaled under a new batch id and
        stamped now."""
        batch, at = uuid.uuid4().hex, datetime.now(UTC)
        self._write(
            lambda conn: tracking.add_batch(
                self.db, conn, project, run_id, batch, points, results, at
            )
        )

    def run_metrics(self, run_ids: list[str]) -> list[tuple[str, str, int, float, datetime]]:
        return self.db.read(lambda conn: tracking.metrics(conn, run_ids))

    def run_results(self, run_id: str) -> dict[str, Any]:
        return self.db.read(lambda conn: tracking.results(conn, run_id))

    def tag_history(self, project: str, key: str, tag: str | None) -> list[dict[str, Any]]:
        return self.db.read(lambda conn: tracking.tag_history(conn, project, key, tag))

    def restore_metrics(self, documents: list[dict[str, Any]]) -> int:
        """Insert the metric batches (journal documents) the catalog lacks; returns how many."""

        def attempt(conn: Any) -> int:
            known = tracking.known_batches(conn, [d["batch"] for d in documents])
            restored = 0
            for d in documents:
                points = [(k, s, v, datetime.fromisoformat(t)) for k, s, v, t in d["points"]]
                results = dict.fromkeys(
                    tracking.missing_results(conn, d["run_id"], list(d["results"]))
                )
                results = {k: d["results"][k] for k in results}
                if d["batch"] in known or not (points or results):
                    continue
                tracking.add_batch(
                    self.db, conn, d["project"], d["run_id"], d["batch"], points, results,
                    datetime.fromisoformat(d["at"]), journal=False,
                )  # fmt: skip
                restored += 1
            return restored

        return self.db.write(attempt)

    def set_description(self, vid: int, description: str | None, at: datetime) -> None:
        self._write(lambda conn: versions.set_description(conn, vid, description, at))

    def set_labels(
        self, vid: int, labels: dict[str, str], at: datetime, *, replace: bool = False
    ) -> None:
        self._write(lambda conn: versions.set_labels(conn, vid, labels, at, replace=replace))

    def revise(
        self,
        vid: int,
        update: dict[str, Any],
        extras: list[ExtraRecord],
        updater: dict[str, Any],
        *,
        missing: Callable[[list[str]], list[str]],
        sign: Callable[[dict[str, Any]], dict[str, str]] | None = None,
    ) -> int | None:
        """Change a version's metadata as a numbered revision (None: nothing changed)."""
        return self._write(
            lambda conn: versions.revise(
                self.db, conn, vid, update, extras, updater, utcnow(), missing=missing, sign=sign
            )
        )

    def revisions(self, vid: int) -> list[RevisionRecord]:
        return self.db.read(lambda conn: queries.revisions(conn, vid))

    def delete(
        self,
        project: str,
        key: str,
        version: int | None,
        *,
        before_commit: Callable[[list[str]], None] | None = None,
    ) -> tuple[list[int], list[str], list[tuple[str, int, str]]]:
        """Delete one version or the whole key now (see ``versions.delete``)."""
        at = utcnow()
        return self._write(
            lambda conn: versions.delete(
                conn, project, key, version, at, before_commit=before_commit
            )
        )

    def release_orphan(self, digest: str, remove: Callable[[], None]) -> bool:
        """Delete an unreferenced blob: lock its row, re-check that nothing references it,
        ``remove()`` the bytes, drop the row — atomically against writers re-referencing it."""

        def attempt(conn: Any) -> bool:
            blobs.lock(self.db, conn, {digest: 0}, utcnow())
            if blobs.in_use(conn, [digest]):
                return False
            remove()
            conn.execute(blobs_t.delete().where(blobs_t.c.hash == digest))
            return True

        return self.db.write(attempt)

    # -- reads ----------------------------------------------------------------------------------
    def latest(self, project: str, key: str) -> LatestRecord | None:
        return self.db.read(lambda conn: queries.latest(conn, project, key))

    def find(
        self, project: str, key: str, *, version: int | None = None, tag: str | None = None
    ) -> VersionRecord | None:
        """The full record of one version: by number, by tag, or the latest."""

        def read(conn: Any) -> VersionRecord | None:
            stamp = queries.find_stamp(conn, project, key, version=version, tag=tag)
            if stamp is None:
                return None
            cached = self._recent.get(stamp)
            if cached is not None:
                return cached
            found = queries.records(conn, [stamp[0]], details=True)
            if found:
                self._recent.put(stamp, found[0])
            return found[0] if found else None

        return self.db.read(read)

    def by_ids(self, vids: list[int], *, details: bool = False) -> list[VersionRecord]:
        if not vids:
            return []  # no transaction for nothing (a run without inputs, on every card)
        return self.db.read(lambda conn: queries.records(conn, vids, details=details))

    def versions_of(self, project: str, key: str) -> list[VersionRecord]:
        """Every version of a key, newest first, without previews and statistics."""
        return self.db.read(
            lambda conn: queries.records(
                conn, queries.versions_of(conn, project, key), details=False
            )
        )

    def metric_history(self, project: str, key: str) -> list[tuple[int, dict[str, Any]]]:
        """``(version, metrics)`` of every version of a key, oldest first."""
        return self.db.read(lambda conn: queries.metric_history(conn, project, key))

    def label_names(self, project: str | None) -> list[str]:
        """The label names used in ``project``, or in any project for None (the first 100,
        sorted)."""
        return self.db.read(lambda conn: queries.label_names(conn, project))

    def search(self, f: ArtifactFilter, *, blob_prefix: str = "") -> list[VersionRecord]:
        """The versions ``f`` selects (``f.project`` must be resolved: a name or ``*``);
        ``blob_prefix`` is what content paths start with, for the location sort."""
        return self.db.read(
            lambda conn: queries.records(
                conn,
                queries.search(conn, f, dialect=self.dialect, blob_prefix=blob_prefix),
                details=False,
            )
        )

    def count(self, f: ArtifactFilter, *, at_most: int | None = None) -> int:
        return self.db.read(
            lambda conn: queries.count(conn, f, dialect=self.dialect, at_most=at_most)
        )

    def runs(self, vid: int, role: str) -> list[RunRecord]:
        return self.db.read(lambda conn: queries.runs(conn, vid, role))

    def run_versions(self, run_ids: list[str], role: str) -> list[int]:
        return self.db.read(lambda conn: queries.run_versions(conn, run_ids, role))

    def versions_by_run(self, run_ids: list[str], role: str) -> dict[str, list[int]]:
        """``run_versions`` of each run, in one read."""
        return self.db.read(lambda conn: queries.versions_by_run(conn, run_ids, role))

    def versions_with_hash(self, digest: str) -> list[int]:
        return self.db.read(lambda conn: queries.versions_with_hash(conn, digest))

    def version_with_hash(self, digest: str) -> int | None:
        return self.db.read(lambda conn: queries.version_with_hash(conn, digest))

    def parts(self, vids: list[int]) -> dict[int, list[PartRecord]]:
        """The parts of multi-part versions, by version row id, in order."""
        return self.db.read(lambda conn: queries.parts(conn, vids))

    def referenced_hashes(self) -> set[str]:
        return self.db.read(queries.referenced_hashes)

    def projects(self) -> list[ProjectRecord]:
        return self.db.read(queries.projects)

    def project_exists(self, project: str) -> bool:
        return self.db.read(lambda conn: queries.project_exists(conn, project))

    # -- team access ---------------------------------------------------------------------------
    def add_user(self, name: str, roles: dict[str, str]) -> bool:
        return self.db.write(lambda conn: access.add_user(conn, name, roles, utcnow()))

    def revoke_role(self, name: str, project: str) -> bool:
        return self.db.write(lambda conn: access.revoke(conn, name, project))

    def remove_user(self, name: str) -> None:
        self.db.write(lambda conn: access.remove_user(conn, name))

    def add_token(self, name: str, token_name: str, digest: str) -> None:
        self.db.write(lambda conn: access.add_token(conn, name, token_name, digest, utcnow()))

    def revoke_token(self, name: str, token_name: str) -> bool:
        return self.db.write(lambda conn: access.revoke_token(conn, name, token_name))

    def user_of_token(self, digest: str) -> str | None:
        return self.db.read(lambda conn: access.user_of_token(conn, digest))

    def roles_of(self, name: str) -> dict[str, str] | None:
        return self.db.read(lambda conn: access.roles_of(conn, name))

    def users(self) -> list[User]:
        return self.db.read(access.users)

    def record_audit(
        self,
        user: str,
        action: str,
        project: str,
        key: str | None = None,
        version: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        entry = dict(
            at=utcnow(), username=user, action=action, project=project, key=key,
            version=version, detail=detail or {},
        )  # fmt: skip
        self.db.write(lambda conn: access.record(conn, entry))

    def audit(
        self,
        project: str,
        key: str | None = None,
        version: int | None = None,
        *,
        limit: int = 100,
        before: int | None = None,
    ) -> list[tuple[int, AuditEntry]]:
        return self.db.read(lambda conn: access.audit(conn, project, key, version, limit, before))

    # -- the outbox and reindex ------------------------------------------------------------------
    def take_unwritten(self) -> list[OutboxRecord]:
        """The records this process committed and has not written to storage yet."""
        with self._lock:
            taken, self._unwritten = self._unwritten, []
        return taken

    def mark_written(self, ids: list[int]) -> None:
        """Storage holds these records: the next write transaction deletes their rows (until
        then a full drain writes them again, which changes nothing)."""
        with self._lock:
            self._written.extend(ids)

    def pending(self, limit: int = 500) -> list[OutboxRecord]:
        """Every record committed (by any process) and not yet written to storage, oldest
        first."""
        with self._lock:
            done, self._written = self._written, []
        if done:
            self.db.write(lambda conn: outbox.done(conn, done))
        return self.db.read(lambda conn: outbox.pending(conn, limit))

    def written(self, ids: list[int]) -> None:
        """Delete outbox rows now (storage holds them)."""
        self.db.write(lambda conn: outbox.done(conn, ids))

    def restore(self, items: list[dict[str, Any]], batch: int = 200) -> dict[str, int]:
        """Insert what the catalog lacks from folded storage records, a batch of keys per
        transaction; returns counts of what was restored."""
        totals = {"versions": 0, "tags": 0, "runs": 0, "conflicts": 0}
        for start in range(0, len(items), batch):
            chunk = items[start : start + batch]
            for counts in self.db.write(
                functools.partial(restore.restore_keys, self.db, items=chunk)
            ):
                for name, value in counts.items():
                    totals[name] += value
        return totals

    # -- the repository's identity ----------------------------------------------------------------
    def identity(self) -> tuple[str | None, bool]:
        """(the repository id this catalog holds, whether it holds any key)."""

        def read(conn: Any) -> tuple[str | None, bool]:
            rid = conn.execute(sa.select(repository_t.c.id).where(repository_t.c.slot == 1))
            has_keys = conn.execute(sa.select(keys_t.c.id).limit(1)).first() is not None
            return rid.scalar(), has_keys

        return self.db.read(read)

    def claim_identity(self, repository_id: str, *, replace: bool = False) -> str:
        """Record ``repository_id`` as this catalog's unless it holds one already (``replace``:
        whatever it holds); returns the id the catalog holds afterwards."""

        def write(conn: sa.Connection) -> str:
            if replace:
                conn.execute(repository_t.delete())
            conn.execute(
                self.db.insert(repository_t)
                .values(slot=1, id=repository_id, created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["slot"])
            )
            held: str = conn.execute(
                sa.select(repository_t.c.id).where(repository_t.c.slot == 1)
            ).scalar_one()
            return held

        return self.db.write(write)

    # -- schema ---------------------------------------------------------------------------------
    def revision(self) -> tuple[str | None, str]:
        """(the catalog's schema revision, the newest this release knows)."""
        with self.db.connect(write=False) as conn:
            return migrate.current(conn), migrate.head()

    def upgrade(self) -> tuple[str | None, str | None]:
        """Upgrade the schema to the newest revision; returns (before, after)."""
        before_after = self.db.retry(lambda: migrate.upgrade(self.db))
        self.db._ready = True
        return before_after
