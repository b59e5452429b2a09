"""Reads: one version, lists by the shared filter, lineage runs, projects."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..filters import ArtifactFilter
from ..materializers.base import TYPED_KINDS
from .records import (
    ExtraRecord,
    LatestRecord,
    PartRecord,
    ProjectRecord,
    RevisionRecord,
    RunRecord,
    VersionRecord,
    from_db_time,
    to_db_time,
)
from .schema import (
    VERSION_COLUMNS,
    extras_t,
    keys_t,
    labels_t,
    lineage_t,
    parts_t,
    revisions_t,
    tags_t,
    versions_t,
)


def latest(conn: Connection, project: str, key: str) -> LatestRecord | None:
    row = conn.execute(_LATEST, {"project": project, "key": key}).first()
    return LatestRecord(*row) if row else None


# Statements built once: every load looks a version up, and building and keying a statement
# costs more than SQLite running it (a lookup took 0.5 ms built per call, 0.2 ms prebuilt).
_P: sa.BindParameter[str] = sa.bindparam("project")
_K: sa.BindParameter[str] = sa.bindparam("key")
_IDS: sa.BindParameter[list[int]] = sa.bindparam("ids", expanding=True)
# Lookups of one version (by tag, by number, the latest) returning its stamp: (row id, uid,
# updated_at, the key's change sequence).
# Every change to a version's record bumps its key's sequence (the journal needs it), so an
# unchanged stamp means an unchanged record.
_LATEST = (
    sa.select(
        versions_t.c.id, versions_t.c.version, versions_t.c.hash, versions_t.c.fingerprint,
        versions_t.c.meta_digest,
    )
    .select_from(keys_t.join(versions_t, versions_t.c.id == keys_t.c.latest_id))
    .where(keys_t.c.project == _P, keys_t.c.key == _K)
)  # fmt: skip
_STAMP = (versions_t.c.id, versions_t.c.uid, versions_t.c.updated_at, keys_t.c.seq)
_KEY_OF_VERSION = sa.and_(
    keys_t.c.project == versions_t.c.project, keys_t.c.key == versions_t.c.key
)
_STAMP_BY_TAG = (
    sa.select(*_STAMP)
    .select_from(
        tags_t.join(versions_t, versions_t.c.id == tags_t.c.version_id).join(
            keys_t, _KEY_OF_VERSION
        )
    )
    .where(tags_t.c.project == _P, tags_t.c.key == _K, tags_t.c.tag == sa.bindparam("tag"))
)
_STAMP_BY_NUMBER = (
    sa.select(*_STAMP)
    .select_from(versions_t.join(keys_t, _KEY_OF_VERSION))
    .where(
        versions_t.c.project == _P,
        versions_t.c.key == _K,
        versions_t.c.version == sa.bindparam("n"),
    )
)
_STAMP_LATEST = (
    sa.select(*_STAMP)
    .select_from(keys_t.join(versions_t, versions_t.c.id == keys_t.c.latest_id))
    .where(keys_t.c.project == _P, keys_t.c.key == _K)
)
_ROWS = {
    False: sa.select(*VERSION_COLUMNS).where(versions_t.c.id.in_(_IDS)),
    True: sa.select(*VERSION_COLUMNS, versions_t.c.details).where(versions_t.c.id.in_(_IDS)),
}
_LABELS = sa.select(labels_t.c.version_id, labels_t.c.name, labels_t.c.value).where(
    labels_t.c.version_id.in_(_IDS)
)
_TAGS = sa.select(tags_t.c.version_id, tags_t.c.tag).where(tags_t.c.version_id.in_(_IDS))
_EXTRAS = sa.select(extras_t).where(extras_t.c.version_id.in_(_IDS))


def find_stamp(
    conn: Connection, project: str, key: str, *, version: int | None, tag: str | None
) -> tuple[Any, ...] | None:
    """One version's stamp — (row id, uid, updated_at, key sequence) — by number, by tag, or
    the latest; equal stamps mean an equal record."""
    where = {"project": project, "key": key}
    if tag is not None:
        row = conn.execute(_STAMP_BY_TAG, {**where, "tag": tag}).first()
    elif version is not None:
        row = conn.execute(_STAMP_BY_NUMBER, {**where, "n": version}).first()
    else:
        row = conn.execute(_STAMP_LATEST, where).first()
    return tuple(row) if row is not None and row[0] is not None else None


def records(conn: Connection, vids: list[int], *, details: bool) -> list[VersionRecord]:
    """Full records for version ids (in the given order), labels, tags and extras included;
    ``details`` adds the large per-version metadata (previews, statistics)."""
    if not vids:
        return []
    rows: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(vids, 500):
        ids = {"ids": list(chunk)}
        for row in conn.execute(_ROWS[details], ids):
            record = dict(row._mapping)
            record.setdefault("details", None)
            record.update(
                labels={},
                tags=[],
                extras=[],
                parts=[],
                created_at=from_db_time(record["created_at"]),
                updated_at=from_db_time(record["updated_at"]),
            )
            rows[record["id"]] = record
        for vid, name, value in conn.execute(_LABELS, ids):
            rows[vid]["labels"][name] = value
        for vid, tag in conn.execute(_TAGS, ids):
            rows[vid]["tags"].append(tag)
        for extra in conn.execute(_EXTRAS, ids):
            fields = dict(extra._mapping)
            rows[fields.pop("version_id")]["extras"].append(ExtraRecord(**fields))
        if details:
            for part in conn.execute(
                sa.select(parts_t)
                .where(parts_t.c.version_id.in_(chunk))
                .order_by(parts_t.c.version_id, parts_t.c.position)
            ):
                fields = dict(part._mapping)
                rows[fields.pop("version_id")]["parts"].append(PartRecord(**fields))
    for record in rows.values():
        record["tags"].sort()
    return [VersionRecord(**rows[vid]) for vid in vids if vid in rows]


def versions_of(conn: Connection, project: str, key: str) -> list[int]:
    """Row ids of every version of a key, newest first."""
    return list(
        conn.execute(
            sa.select(versions_t.c.id)
            .where(versions_t.c.project == project, versions_t.c.key == key)
            .order_by(versions_t.c.version.desc())
        ).scalars()
    )


def metric_history(conn: Connection, project: str, key: str) -> list[tuple[int, dict[str, Any]]]:
    """``(version, metrics)`` of every version of a key, oldest first: only the metrics are
    read, so charting 1,000 versions does not build 1,000 full records."""
    v = versions_t.c
    rows = conn.execute(
        sa.select(v.version, v.meta["metrics"].as_string())  # JSON text: parsed in one go
        .where(v.project == project, v.key == key)
        .order_by(v.version)
    ).all()
    parsed = json.loads("[" + ",".join(text or "null" for _, text in rows) + "]")
    return [(n, m if isinstance(m, dict) else {}) for (n, _), m in zip(rows, parsed, strict=True)]


DISTINCT_LABEL_NAMES = """
    WITH RECURSIVE names(name, probe) AS (
        SELECT (SELECT MIN(name) FROM artifact_labels), 0
        UNION ALL
        SELECT (SELECT MIN(l.name) FROM artifact_labels l WHERE l.name > names.name), probe + 1
        FROM names WHERE names.name IS NOT NULL AND probe < :probes
    )
    SELECT name FROM names WHERE name IS NOT NULL
"""  # a skip scan: one index seek per distinct name, at most :probes
LABEL_NAMES = sa.text(
    DISTINCT_LABEL_NAMES
    + """
    AND (
        SELECT 1 FROM artifact_labels l JOIN artifact_versions v ON v.id = l.version_id
        WHERE l.name = names.name AND v.project = :project LIMIT 1
    ) IS NOT NULL
    ORDER BY name LIMIT :limit
    """
)
LABEL_NAMES_ANYWHERE = sa.text(DISTINCT_LABEL_NAMES + " ORDER BY name LIMIT :limit")


def label_names(conn: Connection, project: str | None, limit: int = 100) -> list[str]:
    """The label names used in ``project``, sorted (at most ``limit``): a skip scan of the
    labels' name index (one seek per distinct name, at most 500), not a pass over every label.
    The project check is a scalar subquery that stops at the first match: PostgreSQL turns an
    EXISTS into a join over every label of every version (600 ms at 100k versions)."""
    if project is None:  # every project
        rows = conn.execute(LABEL_NAMES_ANYWHERE, {"probes": 500, "limit": limit})
        return [name for (name,) in rows]
    rows = conn.execute(LABEL_NAMES, {"probes": 500, "project": project, "limit": limit})
    return [name for (name,) in rows]


# -- search ---------------------------------------------------------------------------------------
def search(
    conn: Connection, f: ArtifactFilter, *, dialect: str, blob_prefix: str = ""
) -> list[int]:
    """Row ids of the versions ``f`` selects, in its order, within its limit and offset
    (``blob_prefix``: the URL that content paths start with, for the location sort)."""
    if f.sort_label is not None and not f.latest_only:
        return _by_label(conn, f, dialect)
    if f.sort_key == "location":
        return _by_location(conn, f, dialect, blob_prefix)
    stmt = _where(sa.select(versions_t.c.id), f, dialect).order_by(*_order(f, dialect))
    return list(conn.execute(_page(stmt, f.offset, f.limit)).scalars())


def _page(stmt: sa.Select[Any], offset: int, limit: int | None) -> sa.Select[Any]:
    stmt = stmt.limit(limit) if limit is not None else stmt
    return stmt.offset(offset) if offset else stmt


def _ordered(f: ArtifactFilter, *columns: Any) -> list[Any]:
    return [c.desc() if f.descending else c.asc() for c in columns]


def _by_label(conn: Connection, f: ArtifactFilter, dialect: str) -> list[int]:
    """Every version (``all_versions``) with the label, by its value, then those without it.
    The first query walks the labels' (name, value, version_id) index in order and checks each
    version against the filter (stopping after a page), instead of sorting every version of the
    project. (The latest of each key are few: :func:`_order` sorts them directly, as walking
    the index would pass every older version's label first.)"""
    v, lab = versions_t.c, labels_t.alias("sort_label").c
    ids = list(
        conn.execute(
            _page(
                sa.select(lab.version_id)
                .where(lab.name == f.sort_label, _matches(f, dialect, lab.version_id))
                .order_by(*_ordered(f, lab.value, lab.version_id)),
                f.offset,
                f.limit,
            )
        ).scalars()
    )
    if f.limit is not None and len(ids) == f.limit:
        return ids
    has = sa.exists().where(labels_t.c.version_id == v.id, labels_t.c.name == f.sort_label)
    labelled = _where(sa.select(sa.func.count()), f, dialect).where(has)
    skip = max(0, f.offset - conn.execute(labelled).scalar_one())
    rest = _where(sa.select(v.id), f, dialect).where(~has).order_by(*_ordered(f, v.id))
    limit = None if f.limit is None else f.limit - len(ids)
    return ids + list(conn.execute(_page(rest, skip, limit)).scalars())


def _by_location(conn: Connection, f: ArtifactFilter, dialect: str, prefix: str) -> list[int]:
    """Where the bytes are, as the reader shows it: the content path ``<prefix>ab/cdef…``
    (walked in hash order along its index, each version checked against the filter) merged
    with the URLs of bytes registered in place (few). Reads offset + limit rows of each, so a
    deep page costs its depth."""
    v, o = versions_t.c, versions_t.alias("by_location").c
    url = v.source_url
    need = None if f.limit is None else f.offset + f.limit
    content: sa.Select[Any]
    if f.latest_only:  # the latest of each key are few: sorted directly, not walked
        latest = _where(sa.select(v.id, v.hash), f, dialect).where(url.is_(None))
        content = latest.order_by(*_ordered(f, v.hash, v.id))
    else:
        walked: sa.Select[Any] = sa.select(o.id, o.hash)
        content = walked.where(o.source_url.is_(None), _matches(f, dialect, o.id)).order_by(
            *_ordered(f, o.hash, o.id)
        )
    page = conn.execute(_page(content, 0, need)).all()
    rows: list[Any] = [(f"{prefix}{r.hash[:2]}/{r.hash[2:]}", r.id) for r in page]
    place_order = url.collate("C") if dialect == "postgresql" else url  # byte order, as SQLite
    placed = _where(sa.select(url, v.id), f, dialect).where(url.is_not(None))
    rows += conn.execute(_page(placed.order_by(*_ordered(f, place_order, v.id)), 0, need)).all()
    ordered = sorted(((where.encode(), vid) for where, vid in rows), reverse=f.descending)
    return [vid for _, vid in ordered[f.offset : need]]


def _matches(f: ArtifactFilter, dialect: str, vid: Any) -> Any:
    """Whether the version whose row id is ``vid`` (a column of an outer query) passes ``f``."""
    return sa.exists(_where(sa.select(sa.literal(1)), f, dialect).where(versions_t.c.id == vid))


def count(conn: Connection, f: ArtifactFilter, *, dialect: str, at_most: int | None = None) -> int:
    """How many versions ``f`` selects; counting stops at ``at_most`` (a page that says
    "2,000+" need not count 100,000 rows)."""
    if at_most is None:
        total: int = conn.execute(_where(sa.select(sa.func.count()), f, dialect)).scalar_one()
        return total
    some = _where(sa.select(sa.literal(1).label("one")), f, dialect).limit(at_most).subquery()
    counted: int = conn.execute(sa.select(sa.func.count()).select_from(some)).scalar_one()
    return counted


def _order(f: ArtifactFilter, dialect: str) -> list[Any]:
    v = versions_t.c
    latest = f.latest_only
    if f.sort_metric is not None:  # a model metric from the stored metadata; no value sorts last
        name = f.sort_metric
        if dialect == "sqlite":  # SQLite matches a path's key against the stored text, whose
            name = json.dumps(name)[1:-1]  # non-ASCII letters are escaped (\u00e9)
        value = v.meta[("metrics", name)].as_float()
        ordered = value.desc() if f.descending else value.asc()
        by_id = v.id.desc() if f.descending else v.id.asc()
        return [value.is_(None), ordered, by_id]
    if f.sort_param is not None:
        return _by_param(f, f.sort_param, dialect)
    if f.sort_label is not None:  # the latest of each key: each one's value, looked up
        label = (
            sa.select(labels_t.c.value)
            .where(labels_t.c.version_id == v.id, labels_t.c.name == f.sort_label)
            .scalar_subquery()
        )
        return [label.is_(None), *_ordered(f, label, v.id)]
    column = {
        "updated": keys_t.c.updated_at if latest else v.updated_at,
        "created": v.created_at,
        "key": v.key,
        "version": v.version,
        "kind": keys_t.c.kind if latest else v.kind,
        "size": v.size,
        "owner": v.owner,
        "producer": v.flow_name,
    }[f.sort_key]
    tiebreak = keys_t.c.id if latest and f.sort_key == "updated" else v.id
    if f.descending:
        return [column.desc(), tiebreak.desc()]
    return [column.asc(), tiebreak.asc()]


def _by_param(f: ArtifactFilter, name: str, dialect: str) -> list[Any]:
    """A model parameter from the stored metadata: numbers by value, then any other value as
    text, then versions without it (in either direction)."""
    v = versions_t.c
    is_number: sa.ColumnElement[bool]
    if dialect == "sqlite":  # the stored text escapes non-ASCII letters (see the metric sort)
        path = '$."parameters"."' + json.dumps(name)[1:-1] + '"'
        kind = sa.func.json_type(v.meta, path)
        raw = sa.func.json_extract(v.meta, path)
        is_number = kind.in_(("integer", "real"))
        number = sa.case((is_number, sa.cast(raw, sa.Float)))
        text = sa.case((sa.and_(~is_number, kind != "null"), sa.cast(raw, sa.Text)))
    else:
        element = v.meta[("parameters", name)]
        is_number = sa.func.json_typeof(element) == "number"
        number = sa.case((is_number, element.as_float()))
        text = sa.case((~is_number, element.as_string()))
    return [
        sa.and_(number.is_(None), text.is_(None)),
        number.is_(None),
        *_ordered(f, number, text, v.id),
    ]


def _where(stmt: sa.Select[Any], f: ArtifactFilter, dialect: str) -> sa.Select[Any]:
    v = versions_t.c
    latest = f.latest_only
    if f.tag:
        stmt = stmt.select_from(versions_t.join(tags_t, tags_t.c.version_id == v.id)).where(
            tags_t.c.tag == f.tag
        )
    elif latest:
        stmt = stmt.select_from(keys_t.join(versions_t, v.id == keys_t.c.latest_id))
    else:
        stmt = stmt.select_from(versions_t)
    updated = keys_t.c.updated_at if latest else v.updated_at
    if f.project not in (None, "*"):
        stmt = stmt.where((keys_t.c.project if latest else v.project) == f.project)
    if f.key:
        stmt = stmt.where(_key_match(f.key, dialect))
    if f.search:
        stmt = stmt.where(v.key.ilike(f"%{_like_escape(f.search)}%", escape="\\"))
    kind = keys_t.c.kind if latest else v.kind
    if f.kind == "other":
        stmt = stmt.where(kind.not_in(TYPED_KINDS))
    elif f.kind:
        stmt = stmt.where(kind == f.kind)
    for name, value in f.label_values.items():
        stmt = stmt.where(
            sa.exists().where(
                labels_t.c.version_id == v.id, labels_t.c.name == name, labels_t.c.value == value
            )
        )
    for name in f.label_names:
        stmt = stmt.where(sa.exists().where(labels_t.c.version_id == v.id, labels_t.c.name == name))
    if f.since is not None:
        stmt = stmt.where(updated >= to_db_time(f.since))
    if f.until is not None:
        stmt = stmt.where(updated <= to_db_time(f.until))
    for name, op, number in f.metric_conditions:
        value = v.meta[("metrics", name)].as_float()
        stmt = stmt.where(value.is_not(None), value.op(op if op != "==" else "=")(number))
    if f.producer:
        stmt = stmt.where(
            sa.or_(
                v.flow_name == f.producer, v.flow_run_id == f.producer, v.task_run_id == f.producer
            )
        )
    return stmt


def _key_match(pattern: str, dialect: str) -> Any:
    """A key name matches exactly; a glob (``*``, ``?``, ``[ab]``) case-insensitively."""
    key = versions_t.c.key
    if "[" in pattern and dialect == "sqlite":  # SQLite's own GLOB: no backtracking
        return sa.func.lower(key).op("GLOB")(pattern.lower().replace("[!", "[^"))
    if "[" in pattern:
        return key.regexp_match(_glob_to_regex(pattern), flags="i")
    if "*" in pattern or "?" in pattern:
        return key.ilike(_like_escape(pattern).replace("*", "%").replace("?", "_"), escape="\\")
    return key == pattern


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _glob_to_regex(pattern: str) -> str:
    """A glob with ``[...]`` classes as an anchored regular expression."""
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


# -- lineage, blobs, projects ----------------------------------------------------------------------
def runs(conn: Connection, vid: int, role: str) -> list[RunRecord]:
    """The runs that produced or consumed a version, oldest first."""
    query = (
        sa.select(
            lineage_t.c.role,
            versions_t.c.project,
            versions_t.c.key,
            versions_t.c.version,
            lineage_t.c.flow_name,
            lineage_t.c.flow_run_id,
            lineage_t.c.flow_run_name,
            lineage_t.c.task_run_id,
            lineage_t.c.task_run_name,
            lineage_t.c.at,
        )
        .join(versions_t, versions_t.c.id == lineage_t.c.version_id)
        .where(lineage_t.c.version_id == vid, lineage_t.c.role == role)
        .order_by(lineage_t.c.at, lineage_t.c.id)
    )
    return [RunRecord(**{**r._mapping, "at": from_db_time(r.at)}) for r in conn.execute(query)]


def run_versions(conn: Connection, run_ids: list[str], role: str) -> list[int]:
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
    return sorted(conn.execute(query).scalars())


def versions_by_run(conn: Connection, run_ids: list[str], role: str) -> dict[str, list[int]]:
    """:func:`run_versions` of each run, in one query."""
    out: dict[str, list[int]] = {run_id: [] for run_id in run_ids}
    if not run_ids:
        return out
    c = lineage_t.c
    rows = conn.execute(
        sa.select(c.task_run_id, c.flow_run_id, c.version_id)
        .where(c.role == role, sa.or_(c.task_run_id.in_(run_ids), c.flow_run_id.in_(run_ids)))
        .distinct()
    )
    for task_run_id, flow_run_id, vid in rows:
        run_id = task_run_id if task_run_id is not None else flow_run_id
        if run_id in out and vid not in out[run_id]:
            out[run_id].append(vid)
    return {run_id: sorted(vids) for run_id, vids in out.items()}


def versions_with_hash(conn: Connection, digest: str, limit: int = 50) -> list[int]:
    return list(
        conn.execute(
            sa.select(versions_t.c.id)
            .where(versions_t.c.hash == digest)
            .order_by(versions_t.c.id)
            .limit(limit)
        ).scalars()
    )


def version_with_hash(conn: Connection, digest: str) -> int | None:
    return conn.execute(
        sa.select(versions_t.c.id)
        .where(versions_t.c.hash == digest)
        .order_by(versions_t.c.id)
        .limit(1)
    ).scalar()


def parts(conn: Connection, vids: list[int]) -> dict[int, list[PartRecord]]:
    out: dict[int, list[PartRecord]] = {}
    for chunk in _chunks(vids, 500):
        for part in conn.execute(
            sa.select(parts_t)
            .where(parts_t.c.version_id.in_(chunk))
            .order_by(parts_t.c.version_id, parts_t.c.position)
        ):
            fields = dict(part._mapping)
            out.setdefault(fields.pop("version_id"), []).append(PartRecord(**fields))
    return out


def referenced_hashes(conn: Connection) -> set[str]:
    """Every blob a version, an extra-data item or a dataset part references."""
    found: set[str] = set()
    for table in (versions_t, extras_t, parts_t):
        found |= set(conn.execute(sa.select(table.c.hash).distinct()).scalars())
    return found


def projects(conn: Connection) -> list[ProjectRecord]:
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
    return [
        ProjectRecord(r.project, r.keys, from_db_time(r.updated_at)) for r in conn.execute(query)
    ]


def project_exists(conn: Connection, project: str) -> bool:
    query = sa.select(keys_t.c.id).where(keys_t.c.project == project).limit(1)
    return conn.execute(query).first() is not None


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def revisions(conn: Connection, vid: int) -> list[RevisionRecord]:
    """A version's metadata revisions, oldest first."""
    query = (
        sa.select(
            versions_t.c.project,
            versions_t.c.key,
            versions_t.c.version,
            revisions_t.c.revision,
            revisions_t.c.at,
            revisions_t.c.updater,
            revisions_t.c.changes,
        )
        .join(versions_t, versions_t.c.id == revisions_t.c.version_id)
        .where(revisions_t.c.version_id == vid)
        .order_by(revisions_t.c.revision)
    )
    return [RevisionRecord(**{**r._mapping, "at": from_db_time(r.at)}) for r in conn.execute(query)]
