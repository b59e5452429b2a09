"""Durable records (manifests, journal entries) written in the same transaction as the change
they describe, and drained to storage after the commit.

A journal entry carries the key's sequence number, so ``reindex`` replays a key's changes in the
order they committed whatever the writers' clocks said.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .. import layout
from .records import OutboxRecord, VersionRecord, utcnow
from .schema import keys_t, outbox_t

MANIFEST_FORMAT = 1
JOURNAL_FORMAT = 1  # journal entries before it carry no number: read as format 1


@functools.cache
def writer_version() -> str:
    """The release of prefect-artifacts writing a record (records describe themselves). Read
    once per process: it is asked inside every write transaction, and reading the installed
    package's metadata costs milliseconds there, with the writers queued behind it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prefect-artifacts")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def next_seq(conn: Connection, key_id: int) -> int:
    """The key's next sequence number (the caller holds the key row's lock)."""
    conn.execute(keys_t.update().where(keys_t.c.id == key_id).values(seq=keys_t.c.seq + 1))
    seq: int = conn.execute(sa.select(keys_t.c.seq).where(keys_t.c.id == key_id)).scalar_one()
    return seq


def manifest(conn: Connection, record: VersionRecord, seq: int) -> None:
    """Queue the version's manifest: its full metadata, for reindex."""
    document = {
        "manifest": MANIFEST_FORMAT,
        "writer": writer_version(),
        "seq": seq,
        **record.document(),
    }
    path = layout.manifest(record.project, record.key, record.version, record.uid)
    enqueue(conn, path, document)


def remove_manifest(conn: Connection, project: str, key: str, version: int, uid: str) -> None:
    """Queue the removal of a deleted version's manifest (named by its uid; one stored under
    the old name ``<n>.json`` stays: the journal's delete entry keeps reindex from restoring
    it, and it may be another catalog's)."""
    enqueue(conn, layout.manifest(project, key, version, uid), None)


def journal(
    conn: Connection,
    op: str,
    project: str,
    key: str,
    at: datetime,
    seq: int | None = None,
    **fields: Any,
) -> None:
    """Queue a journal entry for a change (tag, untag, labels, description, producer, consumer,
    delete) at the time ``at`` the catalog recorded for it."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    entry = {
        "journal": JOURNAL_FORMAT,
        "writer": writer_version(),
        "at": aware.isoformat(),
        "project": project,
        "op": op,
        "key": key,
        **fields,
    }
    if seq is not None:
        entry["seq"] = seq
    enqueue(conn, layout.journal(project, aware), entry)


def enqueue(conn: Connection, path: str, document: dict[str, Any] | None) -> None:
    """Queue a record; the connection's ``info["outbox"]`` collects what this transaction
    queued, so the process that commits it can write it without reading it back. With a
    signing key (``info["seal"]``) the record is sealed here, inside the transaction, so any
    process that drains it writes it signed."""
    seal = conn.info.get("seal")
    if document is not None and seal is not None:
        document = seal(document)
    row_id = conn.execute(
        _ENQUEUE, {"path": path, "document": document, "created_at": utcnow()}
    ).scalar_one()
    conn.info.setdefault("outbox", []).append(OutboxRecord(row_id, path, document))


_ENQUEUE = outbox_t.insert().returning(outbox_t.c.id)  # built once: compiled once, cached


def pending(conn: Connection, limit: int = 500) -> list[OutboxRecord]:
    rows = conn.execute(sa.select(outbox_t).order_by(outbox_t.c.id).limit(limit))
    return [OutboxRecord(r.id, r.path, r.document) for r in rows]


def done(conn: Connection, ids: list[int]) -> None:
    if ids:
        conn.execute(outbox_t.delete().where(outbox_t.c.id.in_(ids)))
