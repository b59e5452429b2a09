"""Blob rows: the lock that keeps a delete of shared bytes from stranding a concurrent log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .database import Database
from .schema import blobs_t, extras_t, parts_t, versions_t


def lock(db: Database, conn: Connection, blobs: dict[str, int], now: datetime) -> None:
    """Create missing blob rows and lock them for this transaction."""
    if not blobs:
        return
    statement = _INSERT.get(db.dialect)
    if statement is None:  # built once per dialect: compiled once, then cached
        statement = _INSERT[db.dialect] = db.insert(blobs_t).on_conflict_do_nothing(
            index_elements=["hash"]
        )
    conn.execute(
        statement, [{"hash": h, "size": s, "created_at": now} for h, s in sorted(blobs.items())]
    )
    if db.dialect != "sqlite":  # SQLite: the transaction (BEGIN IMMEDIATE) holds the write lock
        conn.execute(
            sa.select(blobs_t.c.hash).where(blobs_t.c.hash.in_(sorted(blobs))).with_for_update()
        ).all()


_INSERT: dict[str, Any] = {}


def in_use(conn: Connection, hashes: list[str]) -> set[str]:
    """Which of ``hashes`` a version, an extra-data item or a dataset part still references."""
    used: set[str] = set()
    for table in (versions_t, extras_t, parts_t):
        used |= set(
            conn.execute(
                sa.select(table.c.hash).where(table.c.hash.in_(hashes)).distinct()
            ).scalars()
        )
    return used


def release(conn: Connection, hashes: Iterable[str]) -> list[str]:
    """Lock the rows of ``hashes``, drop those nothing references, and return them."""
    hashes = sorted(hashes)
    if not hashes:
        return []
    conn.execute(
        sa.select(blobs_t.c.hash).where(blobs_t.c.hash.in_(hashes)).with_for_update()
    ).all()
    used = in_use(conn, hashes)
    free = [h for h in hashes if h not in used]
    if free:
        conn.execute(blobs_t.delete().where(blobs_t.c.hash.in_(free)))
    return free
