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
    catalog.db.ensure_schema()
    kind, name = ("model", "model") if metrics else ("dataset", "dataset")
    keys = max(1, versions // per_key)
    now = datetime.now(UTC).replace(tzinfo=None)
    start = now - timedelta(days=365)
    step = timedelta(days=365) / versions
    with catalog.engine.connect() as conn, conn.begin():
        conn.execute(
            keys_t.insert(),
            [
                {
                    "project": project,
                    "key": f"{name}-{k:07d}",
                    "kind": kind,
                    "last_version": per_key,
                    "latest_id": None,
                    "created_at": start,
                    "updated_at": start,
                }
                for k in range(keys)
            ],
        )
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
                "key": f"{name}-{k:07d}",
                "version": v,
                "kind": kind,
                "format": "bin" if metrics else "parquet",
                "materializer": "model-bytes" if metrics else DATASET_MATERIALIZER,
                "hash": digest,
                "size": 1000 + i % 5000,
                "fingerprint": None,
                "meta_digest": digest,
                "filename": f"{name}-{k:07d}.{'bin' if metrics else 'parquet'}",
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
    with catalog.engine.connect() as conn, conn.begin():
        latest = (
            sa.select(versions_t.c.id)
            .where(versions_t.c.project == keys_t.c.project, versions_t.c.key == keys_t.c.key)
            .order_by(versions_t.c.version.desc())
            .limit(1)
            .scalar_subquery()
        )
        updated = (
            sa.select(sa.func.max(versions_t.c.updated_at))
            .where(versions_t.c.project == keys_t.c.project, versions_t.c.key == keys_t.c.key)
            .scalar_subquery()
        )
        conn.execute(
            keys_t.update()
            .where(keys_t.c.project == project)
            .values(latest_id=latest, updated_at=updated)
        )
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
