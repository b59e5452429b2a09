"""Fill a catalog with N synthetic versions fast (bulk SQL inserts), shaped like what the write
path produces: 100 versions per key, two labels each, a tag per key, times spread over a year."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.catalog.schema import keys_t, labels_t, tags_t, versions_t

TEAMS = ["ml", "bi", "ops", "risk", "growth", "search", "ads", "infra"]
BATCH = 20_000
DATASET_MATERIALIZER = "prefect_artifacts.core.materializers.dataset.DatasetMaterializer"


def populate(
    catalog: Catalog,
    versions: int,
    *,
    project: str = "default",
    per_key: int = 100,
    metrics: int = 0,
) -> None:
    """``metrics`` > 0 makes the keys models (``model-…``) with that many metrics a version."""
    kind = "model" if metrics else "dataset"
    keys, start = _keys(catalog, versions, project, per_key, kind)
    step = timedelta(days=365) / versions
    rows, labels = [], []
    next_id = _max_id(catalog) + 1
    for i in range(versions):
        k, v = i % keys, i // keys + 1  # version v of every key, then v + 1, ...
        when = start + step * i
        digest = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
        rows.append(
            {
                "id": next_id + i,
                "uid": uuid.uuid4().hex,
                "project": project,
                "key": f"{kind}-{k:07d}",
                "version": v,
                "kind": kind,
                "format": "bin" if metrics else "parquet",
                "materializer": "model-bytes" if metrics else DATASET_MATERIALIZER,
                "hash": digest,
                "size": 1000 + i % 5000,
                "fingerprint": None,
                "meta_digest": digest,
                "filename": f"{kind}-{k:07d}.{'bin' if metrics else 'parquet'}",
                "content_type": "application/octet-stream"
                if metrics
                else "application/vnd.apache.parquet",
                "description": None,
                "owner": "bench",
                "flow_name": f"flow-{k % 50}",
                "flow_run_id": None,
                "task_run_id": None,
                "producer": {"kind": "local"},
                "meta": _model_meta(v, metrics) if metrics else {"rows": 100, "columns": 3},
                "details": None,
                "created_at": when,
                "updated_at": when,
            }
        )
        labels += [
            {"version_id": next_id + i, "name": "team", "value": TEAMS[k % len(TEAMS)]},
            {"version_id": next_id + i, "name": "env", "value": "prod" if v % 2 else "dev"},
        ]
        if len(rows) >= BATCH:
            _flush(catalog, rows, labels)
    _flush(catalog, rows, labels)
    _finish_keys(catalog, project)


def _keys(
    catalog: Catalog, versions: int, project: str, per_key: int, kind: str
) -> tuple[int, datetime]:
    """The keys' rows (``<kind>-0000000``, …) in a migrated catalog; returns how many, and the
    start of the year their versions spread over."""
    catalog.db.ensure_schema()
    keys = max(1, versions // per_key)
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=365)
    with catalog.engine.connect() as conn, conn.begin():
        conn.execute(
            keys_t.insert(),
            [
                {"project": project, "key": f"{kind}-{k:07d}", "kind": kind,
                 "last_version": per_key, "latest_id": None, "created_at": start,
                 "updated_at": start}
                for k in range(keys)
            ],
        )  # fmt: skip
    return keys, start


def _finish_keys(catalog: Catalog, project: str) -> None:
    """Each key's latest version, last update and ``prod`` tag; statistics for the planner."""
    with catalog.engine.connect() as conn, conn.begin():
        latest = (
            sa.select(versions_t.c.id)
            .where(versions_t.c.project == keys_t.c.project, versions_t.c.key == keys_t.c.key)
            .order_by(versions_t.c.version.desc())
            .limit(1)
            .scalar_subquery()
        )
        conn.execute(keys_t.update().where(keys_t.c.project == project).values(latest_id=latest))
        updated = (  # a key's newest version is its last updated (times grow with the number)
            sa.select(versions_t.c.updated_at)
            .where(versions_t.c.id == keys_t.c.latest_id)
            .scalar_subquery()
        )
        conn.execute(keys_t.update().where(keys_t.c.project == project).values(updated_at=updated))
        conn.execute(
            tags_t.insert().from_select(
                ["project", "key", "tag", "version_id"],
                sa.select(
                    keys_t.c.project, keys_t.c.key, sa.literal("prod"), keys_t.c.latest_id
                ).where(keys_t.c.project == project),
            )
        )
        if catalog.dialect == "postgresql":
            conn.execute(sa.text("ANALYZE"))
        else:
            conn.exec_driver_sql("ANALYZE")


CHUNK = 1_000_000  # rows a transaction when the database makes them


def generate(
    catalog: Catalog, versions: int, *, project: str = "default", per_key: int = 100
) -> None:
    """``populate`` at tens of millions of dataset versions: the database makes the rows itself
    (a recursive CTE on SQLite, ``generate_series`` on PostgreSQL), a million a transaction, and
    the secondary indexes of the versions and labels are built once the rows are in. The same
    shape as ``populate`` (keys, labels, times, the ``prod`` tag); uids and hashes are the row
    ids in hex (unique, ascending) instead of random."""
    keys, start = _keys(catalog, versions, project, per_key, "dataset")
    base = _max_id(catalog) + 1
    indexes = [*versions_t.indexes, *labels_t.indexes]
    with catalog.engine.connect() as conn, conn.begin():
        for index in indexes:
            index.drop(conn)
    postgres = catalog.dialect == "postgresql"
    params = {
        "base": base, "per_key": per_key, "keys": keys, "project": project,
        "mat": DATASET_MATERIALIZER, "step": 365 * 86400 / versions,
        "start": start, "epoch": start.replace(tzinfo=UTC).timestamp(),
    }  # fmt: skip
    for lo in range(0, versions, CHUNK):
        hi = min(versions, lo + CHUNK)
        with catalog.engine.connect() as conn, conn.begin():
            for statement in _statements(catalog.dialect):
                conn.execute(sa.text(statement), {**params, "lo": lo, "hi": hi})
    with catalog.engine.connect() as conn, conn.begin():
        for index in indexes:
            index.create(conn)
        if postgres:
            conn.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence('artifact_versions', 'id'), "
                    "(SELECT max(id) FROM artifact_versions))"
                )
            )
    _finish_keys(catalog, project)


_TEAM = "CASE (j / :per_key) % 8 " + " ".join(f"WHEN {i} THEN '{t}'" for i, t in enumerate(TEAMS))
_COLUMNS = (
    "id, uid, project, key, version, kind, format, materializer, hash, size, meta_digest, "
    "filename, content_type, owner, flow_name, producer, meta, created_at, updated_at"
)
_ROW = """{id}, {hex32}, :project, 'dataset-' || {key7}, j % :per_key + 1, 'dataset',
    'parquet', :mat, {hex64}, 1000 + j % 5000, {hex64}, 'dataset-' || {key7} || '.parquet',
    'application/vnd.apache.parquet', 'bench', 'flow-' || ((j / :per_key) % 50),
    {producer}, {meta}, {when}, {when}"""
_SQLITE_SEQ = (
    "WITH RECURSIVE seq(j) AS (SELECT :lo UNION ALL SELECT j + 1 FROM seq WHERE j + 1 < :hi) "
)
_SQLITE_WHEN = (
    "strftime('%Y-%m-%d %H:%M:%S', :epoch + ((j % :per_key) * :keys + j / :per_key) * :step, "
    "'unixepoch') || '.000000'"
)
_PG_WHEN = (
    "CAST(:start AS timestamp) + ((j % :per_key) * :keys + j / :per_key) "
    "* CAST(:step AS double precision) * interval '1 second'"
)


def _statements(dialect: str) -> list[str]:
    """A chunk's three INSERTs (versions, ``team`` labels, ``env`` labels) in the dialect's SQL,
    rows ``j`` from ``:lo`` to ``:hi``."""
    if dialect == "postgresql":
        head, source = "", " FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint) - 1) j"
        hexed, key7 = "lpad(to_hex(:base + j), {}, '0')", "lpad((j / :per_key)::text, 7, '0')"
        document, when = "CAST('{}' AS json)", _PG_WHEN
    else:
        head, source = _SQLITE_SEQ, " FROM seq"
        hexed, key7 = "printf('%0{}x', :base + j)", "printf('%07d', j / :per_key)"
        document, when = "'{}'", _SQLITE_WHEN
    row = _ROW.format(
        id=":base + j", hex32=hexed.format(32), hex64=hexed.format(64), key7=key7,
        producer=document.format('{"kind": "local"}'),
        meta=document.format('{"rows": 100, "columns": 3}'), when=when,
    )  # fmt: skip
    labels = "INSERT INTO artifact_labels (version_id, name, value) SELECT :base + j, "
    env = "CASE (j % :per_key + 1) % 2 WHEN 1 THEN 'prod' ELSE 'dev' END"
    return [
        f"{head}INSERT INTO artifact_versions ({_COLUMNS}) SELECT {row}{source}",
        f"{head}{labels}'team', {_TEAM} END{source}",
        f"{head}{labels}'env', {env}{source}",
    ]


def _model_meta(v: int, metrics: int) -> dict:
    names = ["auc", "logloss", "accuracy", "rmse", "f1", "precision", "recall", "mae"]
    values = {n: round(0.5 + 0.4 * ((v * (j + 3)) % 97) / 97, 4) for j, n in enumerate(names)}
    return {
        "model_file": "model.bin",
        "metrics": dict(list(values.items())[:metrics]),
        "parameters": {"depth": 2 + v % 7, "lr": 0.01},
    }


def _flush(catalog: Catalog, rows: list, labels: list) -> None:
    if rows:
        with catalog.engine.connect() as conn, conn.begin():
            conn.execute(versions_t.insert(), rows)
            conn.execute(labels_t.insert(), labels)
        rows.clear()
        labels.clear()


def _max_id(catalog: Catalog) -> int:
    with catalog.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.coalesce(sa.func.max(versions_t.c.id), 0))).scalar()
