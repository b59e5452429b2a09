"""Schema revisions with Alembic: the catalog records its revision in
``artifact_schema_version``; opening an older catalog upgrades it (or, with auto-upgrade off,
fails naming ``prefect-artifacts db upgrade``).

An upgrade runs in one transaction that holds the database's write lock (SQLite's
``BEGIN IMMEDIATE``, a PostgreSQL advisory lock) and re-reads the revision inside it, so
concurrent openers of an old catalog upgrade it once and the others find it current.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from ..errors import MigrationRequiredError
from .database import Database, safe_url

VERSION_TABLE = "artifact_schema_version"
FIRST = "0001"  # release 0.1, which recorded no revision
ADVISORY_LOCK = 72271
_alembic_lock = threading.Lock()  # Alembic's op/context proxies are process-global


@functools.cache
def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


@functools.cache
def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    revision = script().get_current_head()
    if revision is None:
        raise RuntimeError("the catalog's migrations have no head revision")
    return revision


def revisions() -> list[str]:
    """Every known revision, oldest first."""
    return [r.revision for r in reversed(list(script().walk_revisions()))]


def current(conn: Connection) -> str | None:
    """The catalog's revision: None for an empty database; FIRST for a release-0.1 catalog."""
    revision = MigrationContext.configure(
        conn, opts={"version_table": VERSION_TABLE}
    ).get_current_revision()
    if revision is None and sa.inspect(conn).has_table("artifact_versions"):
        return FIRST
    return revision


def ensure_current(db: Database) -> None:
    """Create a new catalog, upgrade an older one, or refuse a newer one."""
    with db.connect(write=False) as conn:
        revision = current(conn)
    if revision == head():
        return
    if revision is not None and revision not in revisions():
        raise MigrationRequiredError(
            f"the catalog {safe_url(db.url)} has schema revision {revision}, which this "
            f"release of prefect-artifacts does not know (its newest is {head()}): it was "
            "upgraded by a newer release. Upgrade prefect-artifacts"
        )
    if revision is not None and not db.auto_upgrade:
        raise MigrationRequiredError(
            f"the catalog {safe_url(db.url)} has schema revision {revision}; this release needs "
            f"{head()}. Back it up, then run `prefect-artifacts db upgrade` (or set "
            "PREFECT_ARTIFACTS_CATALOG_AUTO_UPGRADE=true to upgrade on open)"
        )
    upgrade(db)


def upgrade(db: Database, target: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to ``target`` in one locked transaction. Returns (revision before, after)."""
    with _alembic_lock, db.connect(write=True) as conn:
        if db.dialect == "postgresql":  # one migrator at a time; the others wait, then see it
            conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})"))
        before = current(conn)
        if before == FIRST and not _has_version_table(conn):
            MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).stamp(
                script(), FIRST
            )
        config = _config()
        config.attributes["connection"] = conn  # migrations/env.py runs on this connection
        try:
            command.upgrade(config, target)
        finally:
            del config.attributes["connection"]
        return before, current(conn)


def _has_version_table(conn: Connection) -> bool:
    return sa.inspect(conn).has_table(VERSION_TABLE)
