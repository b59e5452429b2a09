"""Rebuilding catalog rows from the durable records in storage (``reindex``).

:func:`fold` replays manifests (creations) and journal entries (changes) per key, in the order
they committed (the key's sequence; older records without one by time), into per-key state;
:func:`restore_key` inserts what the catalog lacks and never changes what is there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..runfields import RUN_FIELDS
from . import blobs
from .database import Database
from .outbox import JOURNAL_FORMAT, MANIFEST_FORMAT
from .records import to_db_time
from .schema import (
    VERSION_FIELDS,
    extras_t,
    keys_t,
    labels_t,
    parts_t,
    revisions_t,
    source_url,
    tag_history_t,
    tags_t,
    versions_t,
)
from .versions import insert_run

_HASH = re.compile(r"[0-9a-f]{64}")
MANIFEST_FIELDS = {
    "uid": str,
    "project": str,
    "key": str,
    "version": int,
    "kind": str,
    "format": str,
    "materializer": str,
    "hash": str,
    "size": int,
    "meta_digest": str,
    "filename": str,
    "content_type": str,
    "producer": dict,
    "meta": dict,
    "created_at": str,
}
JOURNAL_FIELDS: dict[str, dict[str, type]] = {
    "tag": {"version": int, "tag": str},
    "untag": {"tag": str},
    "labels": {"version": int, "labels": dict},
    "description": {"version": int},
    "producer": {"version": int},
    "consumer": {"version": int},
    "delete": {"versions": list},
    "revision": {"version": int, "revision": int, "changes": dict, "updater": dict},
    "select": {"version": int},
}
EXTRA_FIELDS = ("name", "hash", "size", "source", "filename", "artifact")
PART_FIELDS = ("position", "hash", "size", "rows")


@dataclass
class Folded:
    """Per-key state to restore, and the records that could not be used (path → reason)."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    # project/key:version → the paths of its manifests, when they describe different versions
    # (two catalogs wrote into one storage): none of them is restored
    conflicting: dict[str, list[str]] = field(default_factory=dict)


def _newer(document: dict[str, Any], field: str, known: int) -> str | None:
    """Records name their format and writer; one from a newer format is not guessed at."""
    number = document.get(field, 1)  # records before the number existed are format 1
    if isinstance(number, int) and not isinstance(number, bool) and number <= known:
        return None
    return (
        f"its {field} format {str(number)[:20]} is newer than this release reads ({known}); "
        f"it was written by prefect-artifacts {str(document.get('writer'))[:20]} — upgrade to "
        "reindex it"
    )


def check_manifest(document: Any) -> str | None:
    """Why ``document`` is not a usable manifest, or None."""
    if not isinstance(document, dict):
        return "not a JSON object"
    newer = _newer(document, "manifest", MANIFEST_FORMAT)
    if newer:
        return newer
    for name, kind in MANIFEST_FIELDS.items():
        value = document.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"field {name!r} is missing or not a {kind.__name__}"
    if not _HASH.fullmatch(document["hash"]) or document["version"] < 1:
        return "field 'hash' or 'version' is malformed"
    try:
        parts_of(document)
    except (ValueError, TypeError, KeyError) as exc:
        return f"field 'parts' is malformed: {exc}"
    return _check_time(document["created_at"])


def check_entry(document: Any) -> str | None:
    """Why ``document`` is not a usable journal entry, or None."""
    if not isinstance(document, dict):
        return "not a JSON object"
    newer = _newer(document, "journal", JOURNAL_FORMAT)
    if newer:
        return newer
    fields = JOURNAL_FIELDS.get(str(document.get("op")))
    if fields is None:
        return f"unknown operation {document.get('op')!r}"
    for name, kind in {"project": str, "key": str, "at": str, **fields}.items():
        value = document.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"field {name!r} is missing or not a {kind.__name__}"
    return _check_time(document["at"])


def _check_time(text: str) -> str | None:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return f"time {text[:40]!r} is not ISO 8601"
    return None


def fold(manifests: dict[str, Any], entries: dict[str, Any]) -> Folded:
    """Replay manifests and journal entries (each ``{path: document}``) into per-key state."""
    out = Folded()
    manifests = _without_conflicts(manifests, out)
    events: dict[tuple[str, str], list[tuple[tuple[Any, ...], str, dict[str, Any]]]] = {}
    runs: list[dict[str, Any]] = []
    for kind, documents, check in (
        ("create", manifests, check_manifest),
        ("entry", entries, check_entry),
    ):
        for path, document in documents.items():
            problem = check(document)
            if problem:
                out.skipped[path] = problem
                continue
            at = _naive(document["created_at" if kind == "create" else "at"])
            op = "create" if kind == "create" else document["op"]
            if op in ("producer", "consumer"):  # a set, not a history: applied at the end
                runs.append({**document, "at": at})
                continue
            seq = document.get("seq")
            order = (1, seq, at) if isinstance(seq, int) else (0, 0, at)  # 0.1 records first
            events.setdefault((document["project"], document["key"]), []).append(
                (order, op, {**document, "_at": at})
            )
    states: dict[tuple[str, str], dict[str, Any]] = {}
    for ident, items in events.items():
        items.sort(key=lambda item: item[0])
        state = states[ident] = _state(*ident, items[0][2]["_at"])
        for order, op, data in items:
            _apply(state, op, data, data["_at"], order[1])
    for run in sorted(runs, key=lambda r: r["at"]):
        found = states.get((run["project"], run["key"]))
        record = found["versions"].get(run["version"]) if found else None
        if record is not None:
            record["runs"].append({"role": run["op"], "at": run["at"], **_run(run)})
    for state in states.values():  # keys whose versions were all deleted stay: numbers never reuse
        state["tags"] = {t: n for t, n in state["tags"].items() if n in state["versions"]}
        state["versions"] = sorted(state["versions"].values(), key=lambda r: r["version"])
        if state["versions"] or state["last_version"]:
            out.keys.append(state)
    return out


def _without_conflicts(manifests: dict[str, Any], out: Folded) -> dict[str, Any]:
    """The manifests minus those that claim one ``key:version`` with different uids (each
    reported in ``out.conflicting``); one uid stored under two names counts once."""
    claims: dict[tuple[str, str, int], dict[str, list[str]]] = {}
    for path, document in manifests.items():
        if check_manifest(document) is None:
            ident = (document["project"], document["key"], document["version"])
            claims.setdefault(ident, {}).setdefault(document["uid"], []).append(path)
    dropped: set[str] = set()
    for (project, key, number), by_uid in claims.items():
        if len(by_uid) > 1:
            paths = sorted(p for group in by_uid.values() for p in group)
            out.conflicting[f"{project}/{key}:{number}"] = paths
            dropped.update(paths)
        else:
            dropped.update(sorted(next(iter(by_uid.values())))[1:])
    return {p: d for p, d in manifests.items() if p not in dropped}


def _state(project: str, key: str, at: datetime) -> dict[str, Any]:
    return {
        "project": project,
        "key": key,
        "versions": {},
        "tags": {},
        "history": [],  # tag periods: {tag, version, since, until, by, run}
        "last_version": 0,
        "created_at": at,
        "updated_at": at,
        "kind": "artifact",
        "seq": 0,
    }


def _apply(state: dict[str, Any], op: str, data: dict[str, Any], at: datetime, seq: int) -> None:
    versions, tags = state["versions"], state["tags"]
    state["seq"] = max(state["seq"], seq or 0)
    number: Any = data.get("version")  # an int where the op has one (checked when read)
    if op == "create":
        versions[number] = _created(data, at)
        state["kind"] = data["kind"]
        state["last_version"] = max(state["last_version"], number)
        _touch(state, at)
        producer = data.get("producer") or {}
        for tag in data.get("tags") or []:
            run = producer.get("task_run_id") or producer.get("flow_run_id")
            _move(state, tag, number, at, data.get("owner"), run)
        state["selected"] = None  # a new version is the key's latest again
    elif op == "select" and number in versions:
        _move(state, "best", number, at, data.get("by"), data.get("run"))
        state["selected"] = number
    elif op == "tag":  # even to a version deleted later (its manifest is gone): a later
        _move(state, data["tag"], number, at, data.get("by"), data.get("run"))  # untag or
        # delete must find the tag where it is
    elif op == "untag" and data["tag"] in tags:
        _touch(state, at, tags.pop(data["tag"]))
        _close(state, data["tag"], at)
    elif op == "labels" and number in versions:
        record = versions[number]
        labels = {str(k): str(v) for k, v in data["labels"].items()}
        record["labels"] = labels if data.get("replace") else {**record["labels"], **labels}
        _touch(state, at, number)
    elif op == "description" and number in versions:
        versions[number]["description"] = data.get("description")
        _touch(state, at, number)
    elif op == "revision" and number in versions:
        _revise(versions[number], data, at)
        _touch(state, at, number)
    elif op == "delete":
        for gone in data["versions"]:
            if isinstance(gone, int):
                versions.pop(gone, None)
                state["last_version"] = max(state["last_version"], gone)
        for tag in [t for t, n in tags.items() if n not in versions]:
            tags.pop(tag)
            _close(state, tag, at)
        if isinstance(data.get("kind"), str):  # the key's kind, even with no version left
            state["kind"] = data["kind"]
        if state.get("selected") not in versions:
            state["selected"] = None
        _touch(state, at)


def _revise(record: dict[str, Any], data: dict[str, Any], at: datetime) -> None:
    """Replay a metadata revision (``update_model``) onto a version's record."""
    changes = data["changes"]
    meta = record["meta"] = dict(record.get("meta") or {})
    for name in ("metrics", "parameters"):
        new = (changes.get(name) or {}).get("new")
        if isinstance(new, dict):
            meta[name] = {**(meta.get(name) or {}), **new}
    labels = (changes.get("labels") or {}).get("new")
    if isinstance(labels, dict):
        record["labels"] = {**record["labels"], **{str(k): str(v) for k, v in labels.items()}}
    if "description" in changes:
        record["description"] = changes["description"].get("new")
    details = (changes.get("details") or {}).get("new")
    if isinstance(details, dict):
        record["details"] = {**(record.get("details") or {}), **details}
    added = (changes.get("extra_data") or {}).get("new")
    if isinstance(added, dict):
        known = {e["name"] for e in record["extras"]}
        record["extras"] += [
            {k: e.get(k) for k in EXTRA_FIELDS}
            for e in added.values()
            if isinstance(e, dict) and e.get("name") not in known
        ]
    signature = (changes.get("signature") or {}).get("new")
    if signature is not None:
        meta["signature"] = signature
    record["revisions"].append(
        {"revision": data["revision"], "at": at, "updater": data["updater"], "changes": changes}
    )


def _created(record: dict[str, Any], at: datetime) -> dict[str, Any]:
    """A manifest as a restorable record: times naive UTC, the producer as its first run."""
    producer = record.get("producer") or {}
    return {
        **{name: record.get(name) for name in VERSION_FIELDS},
        "created_at": at,
        "updated_at": at,  # later changes move updated_at on
        "labels": {str(k): str(v) for k, v in (record.get("labels") or {}).items()},
        "extras": [{k: e.get(k) for k in EXTRA_FIELDS} for e in record.get("extras") or []],
        "revisions": [],
        "parts": parts_of(record),
        "runs": [{"role": "producer", "at": at, **_run(producer)}]
        if producer.get("kind") == "prefect"
        else [],
    }


def parts_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The parts a manifest lists (multi-part datasets), each checked."""
    parts = []
    for part in record.get("parts") or []:
        if not isinstance(part, dict) or not _HASH.fullmatch(str(part.get("hash"))):
            raise ValueError(f"a part of {record.get('key')} is malformed: {str(part)[:80]}")
        parts.append({k: int(part[k]) if k != "hash" else part[k] for k in PART_FIELDS})
    return parts


def _run(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data.get(k) for k in RUN_FIELDS}


def _touch(state: dict[str, Any], at: datetime, *numbers: int | None) -> None:
    """What the catalog's updates do: stamp the key row and the named versions."""
    state["updated_at"] = max(state["updated_at"], at)
    for number in numbers:
        if number in state["versions"]:
            state["versions"][number]["updated_at"] = at


def _move(
    state: dict[str, Any],
    tag: str,
    number: int,
    at: datetime,
    by: str | None = None,
    run: str | None = None,
) -> None:
    previous = state["tags"].get(tag)
    if previous != number:
        state["tags"][tag] = number
        _touch(state, at, number, previous)
        _close(state, tag, at)
        state["history"].append(
            {"tag": tag, "version": number, "since": at, "until": None, "by": by, "run": run}
        )


def _close(state: dict[str, Any], tag: str, at: datetime) -> None:
    """End the tag's open period in the key's tag history."""
    for period in state["history"]:
        if period["tag"] == tag and period["until"] is None:
            period["until"] = at


def _naive(value: str | datetime) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return to_db_time(parsed) if parsed.tzinfo else parsed


def restore_keys(
    db: Database, conn: Connection, items: list[dict[str, Any]]
) -> list[dict[str, int]]:
    """``restore_key`` for each of ``items``, in one transaction."""
    return [restore_key(db, conn, i) for i in items]


def restore_key(db: Database, conn: Connection, item: dict[str, Any]) -> dict[str, int]:
    """Insert what the catalog lacks for one key (versions by uid, their labels, extras and
    runs, tags, blob rows) and fold the key row. Never changes what is already there."""
    counts = {"versions": 0, "tags": 0, "runs": 0, "conflicts": 0}
    project, key = item["project"], item["key"]
    conn.execute(
        db.insert(keys_t)
        .values(
            project=project,
            key=key,
            kind=item["kind"],
            last_version=0,
            created_at=item["created_at"],
            updated_at=item["updated_at"],
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
    ids: dict[int, int] = {number: vid for vid, number in present.values()}
    for record in item["versions"]:
        if record["uid"] in present:
            continue
        if record["version"] in ids:  # a live writer reused the number: keep the live one
            counts["conflicts"] += 1
            continue
        own = record["size"]
        if record["parts"]:  # the version's own blob is its part index
            own = int((record.get("meta") or {}).get("index_size") or 0)
        referenced = {
            **{e["hash"]: e["size"] for e in record["extras"]},
            **{p["hash"]: p["size"] for p in record["parts"]},
        }
        if not isinstance((record.get("meta") or {}).get("source"), dict):  # else not ours
            referenced[record["hash"]] = own
        blobs.lock(db, conn, referenced, record["created_at"])
        vid = conn.execute(
            versions_t.insert()
            .values(
                **{f: record[f] for f in VERSION_FIELDS}, source_url=source_url(record.get("meta"))
            )
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
        if record.get("revisions"):
            conn.execute(
                revisions_t.insert(), [{"version_id": vid, **r} for r in record["revisions"]]
            )
        if record["parts"]:
            conn.execute(parts_t.insert(), [{"version_id": vid, **p} for p in record["parts"]])
        counts["versions"] += 1
    for record in item["versions"]:
        vid = ids.get(record["version"])
        if not vid:
            continue
        for run in record["runs"]:
            counts["runs"] += insert_run(conn, vid, run["role"], run, run["at"])
    for tag, number in item["tags"].items():
        exists = conn.execute(
            sa.select(tags_t.c.tag).where(
                tags_t.c.project == project, tags_t.c.key == key, tags_t.c.tag == tag
            )
        ).first()
        if number in ids and exists is None:
            conn.execute(
                tags_t.insert().values(project=project, key=key, tag=tag, version_id=ids[number])
            )
            counts["tags"] += 1
    h = tag_history_t.c
    known = conn.execute(sa.select(h.id).where(h.project == project, h.key == key).limit(1)).first()
    if known is None and item.get("history"):  # only a key without any history gets it back
        conn.execute(
            tag_history_t.insert(),
            [{"project": project, "key": key, **period} for period in item["history"]],
        )
    latest = max(ids) if ids else None
    if item.get("selected") in ids and latest is not None and latest <= item["last_version"]:
        latest = item["selected"]  # a sweep's selected best (no newer version since)
    conn.execute(
        keys_t.update()
        .where(keys_t.c.id == key_row.id)
        .values(
            last_version=max(key_row.last_version, item["last_version"], latest or 0),
            latest_id=ids.get(latest) if latest else None,
            kind=next(
                (r["kind"] for r in item["versions"] if r["version"] == latest), key_row.kind
            ),
            updated_at=max(key_row.updated_at, item["updated_at"]),
            created_at=min(key_row.created_at, item["created_at"]),
            seq=max(key_row.seq, item["seq"]),
        )
    )
    return counts
