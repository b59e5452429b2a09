"""Writes: allocate and insert versions, record runs, move tags, change labels and descriptions,
delete. Each runs inside the caller's transaction, locks the key row first (so one key's changes
are serialized and sequenced) and queues its durable record in the outbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..faults import fault_point
from ..runfields import RUN_FIELDS
from . import blobs, outbox, tracking
from .database import Database
from .records import Committed, ExtraRecord, NewVersion, VersionRecord, from_db_time
from .schema import (
    VERSION_FIELDS,
    extras_t,
    keys_t,
    labels_t,
    lineage_t,
    parts_t,
    revisions_t,
    source_url,
    tags_t,
    versions_t,
)

NEW_FIELDS = (
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


class BlobsMissing(Exception):
    """Raised inside a commit when referenced bytes vanished (a concurrent delete)."""

    def __init__(self, hashes: list[str]) -> None:
        super().__init__(", ".join(hashes))
        self.hashes = hashes


def lock_key(
    db: Database, conn: Connection, project: str, key: str, kind: str, now: datetime
) -> Any:
    """The key's row, created if new, locked for this transaction: one upsert whose no-op
    update takes the row lock (PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` holds the database's)
    and returns the row either way."""
    statement = _LOCK_KEY.get(db.dialect)
    if statement is None:
        statement = _LOCK_KEY[db.dialect] = (
            db.insert(keys_t)
            .values(
                project=sa.bindparam("project"), key=sa.bindparam("key"),
                kind=sa.bindparam("kind"), last_version=0, created_at=sa.bindparam("now"),
                updated_at=sa.bindparam("now"),
            )
            .on_conflict_do_update(index_elements=["project", "key"], set_={"kind": keys_t.c.kind})
            .returning(*keys_t.c)
        )  # fmt: skip
    return conn.execute(statement, {"project": project, "key": key, "kind": kind, "now": now}).one()


_LOCK_KEY: dict[str, Any] = {}


def _locked_key_of(conn: Connection, vid: int) -> tuple[Any, Any]:
    """(the version's row, its key's row locked): for changes to an existing version."""
    version = conn.execute(
        sa.select(versions_t.c.project, versions_t.c.key, versions_t.c.version).where(
            versions_t.c.id == vid
        )
    ).one()
    key_row = conn.execute(
        sa.select(keys_t)
        .where(keys_t.c.project == version.project, keys_t.c.key == version.key)
        .with_for_update()
    ).one()
    return version, key_row


def commit(
    db: Database,
    conn: Connection,
    new: NewVersion,
    run: dict[str, Any],
    now: datetime,
    *,
    missing: Callable[[list[str]], list[str]],
    sign: Callable[[dict[str, Any]], dict[str, str]] | None = None,
) -> Committed:
    """Insert ``new`` as the key's next version, or return the latest version when its content
    is identical. ``missing(hashes)`` reports referenced bytes absent from storage (checked
    with the blob rows locked); any absent aborts with BlobsMissing."""
    key_row = lock_key(db, conn, new.project, new.key, new.kind, now)
    if key_row.latest_id is not None:
        latest = conn.execute(
            sa.select(versions_t.c.hash, versions_t.c.meta_digest).where(
                versions_t.c.id == key_row.latest_id
            )
        ).one()
        if (latest.hash, latest.meta_digest) == (new.hash, new.meta_digest):
            added = add_run(conn, key_row.latest_id, "producer", run, now)
            return Committed(key_row.latest_id, False, now if added else None)
    blobs.lock(db, conn, new.blobs, now)
    absent = missing(sorted(new.blobs))
    if absent:
        raise BlobsMissing(absent)
    number = key_row.last_version + 1
    row = {name: getattr(new, name) for name in NEW_FIELDS}
    row.update(
        version=number,
        created_at=now,
        updated_at=now,
        source_url=source_url(new.meta),
        flow_name=run.get("flow_name"),
        flow_run_id=run.get("flow_run_id"),
        task_run_id=run.get("task_run_id"),
    )
    if sign is not None:  # the identity, with the number just allocated
        signed = {**row, "extras": [vars(e) for e in new.extras]}
        row["meta"] = {**new.meta, "signature": sign(signed)}
    vid = conn.execute(_INSERT_VERSION, row).scalar_one()
    if new.labels:
        conn.execute(
            labels_t.insert(),
            [{"version_id": vid, "name": k, "value": v} for k, v in new.labels.items()],
        )
    if new.extras:
        conn.execute(extras_t.insert(), [{"version_id": vid, **vars(e)} for e in new.extras])
    if new.parts:
        conn.execute(parts_t.insert(), [{"version_id": vid, **vars(p)} for p in new.parts])
    insert_run(conn, vid, "producer", run, now, new=True)
    seq = conn.execute(  # the key's new latest and its next sequence number, in one statement
        _ADVANCE_KEY,
        {"kid": key_row.id, "number": number, "vid": vid, "kind": new.kind, "now": now},
    ).scalar_one()
    moved: int | bool | None = False
    who = {"by": new.owner, "run": run.get("task_run_id") or run.get("flow_run_id")}
    if new.tag:
        moved = _move_tag(conn, new.project, new.key, new.tag, vid, now, who)
    record = _written(new, row, vid)
    outbox.manifest(conn, record, seq)
    if moved is not False:  # journaled too: the move outlives the manifest if the version goes
        outbox.journal(
            conn, "tag", new.project, new.key, now, outbox.next_seq(conn, key_row.id),
            version=number, tag=new.tag, **who,
        )  # fmt: skip
    fault_point("before-commit")
    return Committed(vid, True, now, record, tag_moved=moved is not False, tag_left=moved or None)


_INSERT_VERSION = versions_t.insert().returning(versions_t.c.id)
_ADVANCE_KEY = (
    keys_t.update()
    .where(keys_t.c.id == sa.bindparam("kid"))
    .values(
        last_version=sa.bindparam("number"),
        latest_id=sa.bindparam("vid"),
        kind=sa.bindparam("kind"),
        updated_at=sa.bindparam("now"),
        seq=keys_t.c.seq + 1,
    )
    .returning(keys_t.c.seq)
)


def _written(new: NewVersion, row: dict[str, Any], vid: int) -> VersionRecord:
    """The record of a version just inserted, built from what was written (what reading it
    back would give: JSON values as stored, labels by name, the tag it was logged with)."""
    stored = {
        name: row[name] for name in VERSION_FIELDS if name not in ("created_at", "updated_at")
    }
    for name in ("producer", "meta", "details"):
        if stored.get(name) is not None:
            stored[name] = json.loads(json.dumps(stored[name]))
    return VersionRecord(
        id=vid,
        **stored,
        created_at=from_db_time(row["created_at"]),
        updated_at=from_db_time(row["updated_at"]),
        labels=dict(sorted(new.labels.items())),
        tags=[new.tag] if new.tag else [],
        extras=list(new.extras),
        parts=sorted(new.parts, key=lambda p: p.position),
    )


def add_run(conn: Connection, vid: int, role: str, run: dict[str, Any], at: datetime) -> bool:
    """Record that a run produced or consumed a version (journaled); False if already known.
    A version deleted meanwhile raises ArtifactNotFoundError (through NoResultFound)."""
    version = conn.execute(
        sa.select(versions_t.c.project, versions_t.c.key, versions_t.c.version).where(
            versions_t.c.id == vid
        )
    ).one()
    if not insert_run(conn, vid, role, run, at):
        return False
    outbox.journal(
        conn,
        role,
        version.project,
        version.key,
        at,
        version=version.version,
        **{f: run.get(f) for f in RUN_FIELDS},
    )
    return True


def insert_run(
    conn: Connection,
    vid: int,
    role: str,
    run: dict[str, Any],
    at: datetime,
    *,
    new: bool = False,
) -> bool:
    """Record the run's ``role`` for the version, unless recorded already (``new``: the
    version was inserted by this transaction, so nothing is recorded for it yet)."""
    if not (run.get("flow_run_id") or run.get("task_run_id")):
        return False
    if not new:
        same = sa.and_(
            lineage_t.c.version_id == vid,
            lineage_t.c.role == role,
            _same(lineage_t.c.flow_run_id, run.get("flow_run_id")),
            _same(lineage_t.c.task_run_id, run.get("task_run_id")),
        )
        if conn.execute(sa.select(lineage_t.c.id).where(same).limit(1)).first():
            return False
    row = {f: run.get(f) for f in RUN_FIELDS}
    conn.execute(_INSERT_RUN, {**row, "version_id": vid, "role": role, "at": at})
    return True


_INSERT_RUN = lineage_t.insert()  # built once: compiled once, cached


def _same(column: Any, value: str | None) -> Any:
    return column == value if value else column.is_(None)


def set_tag(
    conn: Connection, vid: int, tag: str, at: datetime, who: dict[str, Any] | None = None
) -> int | bool | None:
    """Point ``tag`` at the version; returns the version number it left (None: it was new,
    False: it was there already). ``who``: ``{"by": owner, "run": run id}`` for the tag's
    history."""
    version, key_row = _locked_key_of(conn, vid)
    previous = _move_tag(conn, version.project, version.key, tag, vid, at, who)
    if previous is not False:
        seq = outbox.next_seq(conn, key_row.id)
        outbox.journal(
            conn, "tag", version.project, version.key, at, seq, version=version.version, tag=tag,
            by=(who or {}).get("by"), run=(who or {}).get("run"),
        )  # fmt: skip
    return previous


def select(
    conn: Connection, vid: int, at: datetime, who: dict[str, Any] | None, selector: str
) -> int | None:
    """A sweep's winner: the key resolves to it (its latest) and it carries the ``best`` tag;
    journaled. Returns the number of the version the tag left, if any."""
    version, key_row = _locked_key_of(conn, vid)
    conn.execute(keys_t.update().where(keys_t.c.id == key_row.id).values(latest_id=vid))
    previous = _move_tag(conn, version.project, version.key, SELECTED_TAG, vid, at, who)
    touch(conn, version.project, version.key, [vid], at)
    who = who or {}
    _journal_version(
        conn,
        "select",
        version,
        key_row,
        at,
        selector=selector,
        by=who.get("by"),
        run=who.get("run"),
    )
    return previous or None


SELECTED_TAG = "best"


def _journal_version(
    conn: Connection, op: str, version: Any, key_row: Any, at: datetime, **fields: Any
) -> None:
    """Journal ``op`` on one version: the next entry of its key."""
    outbox.journal(
        conn, op, version.project, version.key, at, outbox.next_seq(conn, key_row.id),
        version=version.version, **fields,
    )  # fmt: skip


def _move_tag(
    conn: Connection,
    project: str,
    key: str,
    tag: str,
    vid: int,
    now: datetime,
    who: dict[str, Any] | None = None,
) -> int | bool | None:
    """Returns False when the tag already pointed at ``vid``, else the number it left (or
    None when the tag is new)."""
    where = (tags_t.c.project == project, tags_t.c.key == key, tags_t.c.tag == tag)
    previous = conn.execute(
        sa.select(tags_t.c.version_id, versions_t.c.version)
        .join(versions_t, versions_t.c.id == tags_t.c.version_id)
        .where(*where)
    ).first()
    if previous is not None and previous.version_id == vid:
        return False
    if previous is not None:
        conn.execute(tags_t.update().where(*where).values(version_id=vid))
    else:
        conn.execute(tags_t.insert().values(project=project, key=key, tag=tag, version_id=vid))
    touch(conn, project, key, [vid] if previous is None else [vid, previous.version_id], now)
    number = conn.execute(sa.select(versions_t.c.version).where(versions_t.c.id == vid)).scalar()
    tracking.tag_moved(conn, project, key, tag, number, now, who)
    return previous.version if previous is not None else None


def remove_tag(
    conn: Connection, project: str, key: str, tag: str, at: datetime
) -> tuple[int, str] | None:
    """Drop a tag; returns the version number it pointed at and its kind, or None."""
    key_row = conn.execute(
        sa.select(keys_t).where(keys_t.c.project == project, keys_t.c.key == key).with_for_update()
    ).first()
    where = (tags_t.c.project == project, tags_t.c.key == key, tags_t.c.tag == tag)
    row = conn.execute(
        sa.select(tags_t.c.version_id, versions_t.c.version, versions_t.c.kind)
        .join(versions_t, versions_t.c.id == tags_t.c.version_id)
        .where(*where)
    ).first()
    if row is None or key_row is None:
        return None
    conn.execute(tags_t.delete().where(*where))
    tracking.tag_moved(conn, project, key, tag, None, at, None)
    touch(conn, project, key, [row.version_id], at)
    outbox.journal(conn, "untag", project, key, at, outbox.next_seq(conn, key_row.id), tag=tag)
    version: int = row.version
    kind: str = row.kind
    return version, kind


def set_description(conn: Connection, vid: int, description: str | None, at: datetime) -> None:
    version, key_row = _locked_key_of(conn, vid)
    conn.execute(versions_t.update().where(versions_t.c.id == vid).values(description=description))
    touch(conn, version.project, version.key, [vid], at)
    _journal_version(conn, "description", version, key_row, at, description=description)


def set_labels(
    conn: Connection, vid: int, labels: dict[str, str], at: datetime, *, replace: bool
) -> None:
    version, key_row = _locked_key_of(conn, vid)
    if replace:
        conn.execute(labels_t.delete().where(labels_t.c.version_id == vid))
    else:
        conn.execute(
            labels_t.delete().where(labels_t.c.version_id == vid, labels_t.c.name.in_(list(labels)))
        )
    if labels:
        conn.execute(
            labels_t.insert(),
            [{"version_id": vid, "name": k, "value": v} for k, v in labels.items()],
        )
    touch(conn, version.project, version.key, [vid], at)
    _journal_version(conn, "labels", version, key_row, at, labels=labels, replace=replace)


def revise(
    db: Database,
    conn: Connection,
    vid: int,
    update: dict[str, Any],
    extras: list[ExtraRecord],
    updater: dict[str, Any],
    at: datetime,
    *,
    missing: Callable[[list[str]], list[str]],
    sign: Callable[[dict[str, Any]], dict[str, str]] | None = None,
) -> int | None:
    """Change a version's metadata in place as a numbered revision: ``update`` may hold
    ``metrics`` and ``parameters`` (merged into the version's), ``labels`` (set) and
    ``description`` (replaced); ``extras`` are new extra-data items. Bytes, hash, number, tags
    and producer stay. Returns the revision number, or None when nothing would change."""
    version, key_row = _locked_key_of(conn, vid)
    row = conn.execute(sa.select(versions_t).where(versions_t.c.id == vid)).one()
    meta = dict(row.meta or {})
    changes: dict[str, Any] = {}
    for name in ("metrics", "parameters"):
        if update.get(name):
            old = dict(meta.get(name) or {})
            new = {**old, **update[name]}
            if new != old:
                changed = {k for k in update[name] if old.get(k, _ABSENT) != update[name][k]}
                changes[name] = {
                    "old": {k: old.get(k) for k in sorted(changed)},
                    "new": {k: new[k] for k in sorted(changed)},
                }
                meta[name] = new
    if update.get("labels"):
        current = dict(
            conn.execute(
                sa.select(labels_t.c.name, labels_t.c.value).where(labels_t.c.version_id == vid)
            ).all()
        )
        changed_labels = {k: v for k, v in update["labels"].items() if current.get(k) != v}
        if changed_labels:
            changes["labels"] = {
                "old": {k: current.get(k) for k in changed_labels},
                "new": changed_labels,
            }
            conn.execute(
                labels_t.delete().where(
                    labels_t.c.version_id == vid, labels_t.c.name.in_(list(changed_labels))
                )
            )
            conn.execute(
                labels_t.insert(),
                [{"version_id": vid, "name": k, "value": v} for k, v in changed_labels.items()],
            )
    if "details" in update:  # derived metadata (preview, statistics) computed again
        old_details, new_details = dict(row.details or {}), dict(update["details"] or {})
        changed_parts = sorted(k for k in new_details if new_details[k] != old_details.get(k))
        if changed_parts:
            changes["details"] = {
                "old": {k: _summary(old_details.get(k)) for k in changed_parts},
                "new": {k: new_details[k] for k in changed_parts},
            }
    if "description" in update and update["description"] != row.description:
        changes["description"] = {"old": row.description, "new": update["description"]}
    if extras:
        changes["extra_data"] = {"old": None, "new": {e.name: vars(e) for e in extras}}
        blobs.lock(db, conn, {e.hash: e.size for e in extras}, at)
        absent = missing(sorted({e.hash for e in extras}))
        if absent:
            raise BlobsMissing(absent)
        conn.execute(extras_t.insert(), [{"version_id": vid, **vars(e)} for e in extras])
        if sign is not None and "signature" in meta:  # the signed identity covers extra data
            every = conn.execute(sa.select(extras_t).where(extras_t.c.version_id == vid)).all()
            identity = {**row._mapping, "extras": [dict(e._mapping) for e in every]}
            meta["signature"] = sign(identity)
            changes["signature"] = {"old": None, "new": meta["signature"]}
    if not changes:
        return None
    values: dict[str, Any] = {"meta": meta, "updated_at": at}
    if "details" in changes:
        values["details"] = {**(row.details or {}), **changes["details"]["new"]}
    if "description" in changes:
        values["description"] = update["description"]
    conn.execute(versions_t.update().where(versions_t.c.id == vid).values(**values))
    number = (
        conn.execute(
            sa.select(sa.func.max(revisions_t.c.revision)).where(revisions_t.c.version_id == vid)
        ).scalar()
        or 0
    ) + 1
    conn.execute(
        revisions_t.insert().values(
            version_id=vid, revision=number, at=at, updater=updater, changes=changes
        )
    )
    touch(conn, version.project, version.key, [vid], at)
    _journal_version(
        conn, "revision", version, key_row, at, revision=number, updater=updater, changes=changes
    )
    return number


_ABSENT = object()


def _summary(value: Any) -> Any:
    """What a revision keeps of replaced derived metadata: its size, not its content."""
    if isinstance(value, list):
        return f"{len(value)} rows"
    if isinstance(value, dict):
        return f"{len(value)} columns"
    return value


def delete(
    conn: Connection,
    project: str,
    key: str,
    version: int | None,
    at: datetime,
    *,
    before_commit: Callable[[list[str]], None] | None = None,
) -> tuple[list[int], list[str], list[tuple[str, int, str]]]:
    """Delete one version or the whole key. Returns the deleted version numbers, the hashes
    no version references any more (their blob rows are gone; remove the bytes) and the tags
    that went with them (tag, version, kind). ``before_commit(hashes)`` runs inside the
    transaction with those blobs locked: if it raises, nothing is deleted."""
    key_row = conn.execute(  # a concurrent commit of this key waits, and we wait for it
        sa.select(keys_t).where(keys_t.c.project == project, keys_t.c.key == key).with_for_update()
    ).first()
    where = [versions_t.c.project == project, versions_t.c.key == key]
    if version is not None:
        where.append(versions_t.c.version == version)
    rows = conn.execute(
        sa.select(versions_t.c.id, versions_t.c.version, versions_t.c.hash, versions_t.c.uid).where(
            *where
        )
    ).all()
    if not rows or key_row is None:
        return [], [], []
    vids = [r.id for r in rows]
    hashes = {r.hash for r in rows}
    for table in (extras_t, parts_t):
        hashes |= set(
            conn.execute(sa.select(table.c.hash).where(table.c.version_id.in_(vids))).scalars()
        )
    gone_tags = conn.execute(
        sa.select(tags_t.c.tag, versions_t.c.version, versions_t.c.kind)
        .join(versions_t, versions_t.c.id == tags_t.c.version_id)
        .where(tags_t.c.version_id.in_(vids))
        .order_by(versions_t.c.version, tags_t.c.tag)
    ).all()
    for gone_tag in gone_tags:
        tracking.tag_moved(conn, project, key, gone_tag.tag, None, at, None)
    for table in (tags_t, labels_t, extras_t, parts_t, lineage_t, revisions_t):
        conn.execute(table.delete().where(table.c.version_id.in_(vids)))
    conn.execute(versions_t.delete().where(versions_t.c.id.in_(vids)))
    latest = conn.execute(
        sa.select(versions_t.c.id)
        .where(versions_t.c.project == project, versions_t.c.key == key)
        .order_by(versions_t.c.version.desc())
        .limit(1)
    ).scalar()
    conn.execute(
        keys_t.update().where(keys_t.c.id == key_row.id).values(latest_id=latest, updated_at=at)
    )
    numbers = sorted(r.version for r in rows)
    outbox.journal(
        conn, "delete", project, key, at, outbox.next_seq(conn, key_row.id), versions=numbers,
        kind=key_row.kind,
    )  # fmt: skip
    for row in sorted(rows, key=lambda r: r.version):
        outbox.remove_manifest(conn, project, key, row.version, row.uid)
    free = blobs.release(conn, hashes)
    if before_commit is not None:
        before_commit(free)
    fault_point("delete-before-commit")
    return numbers, free, [(t.tag, t.version, t.kind) for t in gone_tags]


def touch(conn: Connection, project: str, key: str, vids: list[int], now: datetime) -> None:
    """Stamp the key row and the named versions as updated now."""
    conn.execute(versions_t.update().where(versions_t.c.id.in_(vids)).values(updated_at=now))
    conn.execute(
        keys_t.update()
        .where(keys_t.c.project == project, keys_t.c.key == key)
        .values(updated_at=now)
    )
