"""Experiment tracking in SQL: step metrics and results of runs (each batch journaled to storage
for ``reindex``), and the history of tag moves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .. import layout
from . import outbox
from .records import from_db_time, to_db_time
from .schema import run_metrics_t, run_results_t, tag_history_t

METRICS_FORMAT = 1


def add_batch(
    db: Any,
    conn: Connection,
    project: str,
    run_id: str,
    batch: str,
    points: list[tuple[str, int, float, datetime]],
    results: dict[str, Any],
    at: datetime,
    *,
    journal: bool = True,
) -> None:
    """Insert a batch of metric points ``(key, step, value, timestamp)`` and results of one run;
    with ``journal`` its record is queued for storage in the same transaction."""
    if points:  # the driver's executemany: per-row statement processing costs more than SQLite
        sqlite = db.dialect == "sqlite"
        mark = "?" if sqlite else "%s"
        stored = _times({t for _, _, _, t in points}, sqlite)  # points share times: once each
        rows = [(project, run_id, k, s, v, stored[t], batch) for k, s, v, t in points]
        conn.exec_driver_sql(
            "INSERT INTO run_metrics (project, run_id, key, step, value, timestamp, batch) "
            f"VALUES ({', '.join([mark] * 7)})",
            rows,
        )
    for key, value in results.items():
        where = (run_results_t.c.run_id == run_id, run_results_t.c.key == key)
        conn.execute(run_results_t.delete().where(*where))
        conn.execute(
            run_results_t.insert().values(
                project=project, run_id=run_id, key=key, value=value, at=to_db_time(at)
            )
        )
    if journal:
        iso = {t: t.isoformat() for t in {t for _, _, _, t in points}}
        document = {
            "metrics": METRICS_FORMAT,
            "project": project,
            "run_id": run_id,
            "batch": batch,
            "at": at.isoformat(),
            "points": [[k, s, v, iso[t]] for k, s, v, t in points],
            "results": results,
        }
        outbox.enqueue(conn, layout.metrics(project, run_id, at, batch), document)


def _times(times: set[datetime], sqlite: bool) -> dict[datetime, Any]:
    """Each point time as the catalog keeps times: naive UTC (SQLite: SQLAlchemy's text)."""
    out: dict[datetime, Any] = {}
    for t in times:
        naive = t.replace(tzinfo=None) if t.tzinfo is UTC else to_db_time(t)
        out[t] = naive.isoformat(" ", "microseconds") if sqlite else naive
    return out


def known_batches(conn: Connection, batches: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(batches), 500):
        chunk = batches[start : start + 500]
        found |= set(
            conn.execute(
                sa.select(run_metrics_t.c.batch).where(run_metrics_t.c.batch.in_(chunk)).distinct()
            ).scalars()
        )
    return found


def metrics(conn: Connection, run_ids: list[str]) -> list[tuple[str, str, int, float, datetime]]:
    """``(run_id, key, step, value, timestamp)`` of the runs, by key, step and time."""
    m = run_metrics_t.c
    rows = conn.execute(
        sa.select(m.run_id, m.key, m.step, m.value, m.timestamp)
        .where(m.run_id.in_(run_ids))
        .order_by(m.run_id, m.key, m.step, m.timestamp, m.id)
    )
    return [(r, k, s, v, from_db_time(t)) for r, k, s, v, t in rows]


def results(conn: Connection, run_id: str) -> dict[str, Any]:
    r = run_results_t.c
    rows = conn.execute(sa.select(r.key, r.value).where(r.run_id == run_id).order_by(r.key))
    return {k: v for k, v in rows}


def missing_results(conn: Connection, run_id: str, keys: list[str]) -> list[str]:
    have = set(results(conn, run_id))
    return [k for k in keys if k not in have]


# -- tag history --------------------------------------------------------------------------------
def tag_moved(
    conn: Connection,
    project: str,
    key: str,
    tag: str,
    version: int | None,
    at: datetime,
    who: dict[str, Any] | None,
) -> None:
    """Close the tag's open period and (unless it was removed: ``version`` None) open one."""
    h = tag_history_t.c
    conn.execute(
        tag_history_t.update()
        .where(h.project == project, h.key == key, h.tag == tag, h.until.is_(None))
        .values(until=to_db_time(at))
    )
    if version is not None:
        who = who or {}
        conn.execute(
            tag_history_t.insert().values(
                project=project, key=key, tag=tag, version=version, since=to_db_time(at),
                by=who.get("by"), run=who.get("run"),
            )
        )  # fmt: skip


def tag_history(conn: Connection, project: str, key: str, tag: str | None) -> list[dict[str, Any]]:
    """Each period a tag spent on a version, oldest first (``tag`` None: every tag's, each row
    naming its tag)."""
    h = tag_history_t.c
    where = [h.project == project, h.key == key] + ([h.tag == tag] if tag is not None else [])
    rows = conn.execute(
        sa.select(h.tag, h.version, h.since, h.until, h.by, h.run).where(*where).order_by(h.id)
    )
    return [
        {
            **({"tag": r.tag} if tag is None else {}),
            "version": r.version,
            "since": from_db_time(r.since),
            "until": from_db_time(r.until) if r.until is not None else None,
            "by": r.by,
            "run": r.run,
        }
        for r in rows
    ]
