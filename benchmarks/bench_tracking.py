"""Benchmarks of issue 25 (experiment tracking): ``log_metric`` throughput, batched, on SQLite
and PostgreSQL, against a bare executemany of the same rows into the same table."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

POINTS = 10_000


def bench_log_metric(work: Path, args: argparse.Namespace) -> list[Any]:
    """10,000 ``ctx.log_metric`` calls then ``ctx.commit()`` (every point written and
    journaled) vs inserting the same 10,000 rows with one executemany. Target: 10,000 points/s
    (≤ 1,000 ms for 10,000)."""
    from run import Result, _fresh_pg, interleaved, repository

    from prefect_artifacts import ArtifactContext
    from prefect_artifacts.core.catalog.schema import run_metrics_t

    results = []
    for backend in ("sqlite", "postgres"):
        url = _fresh_pg("pa_bench_tracking") if backend == "postgres" else None
        repo = repository(work / f"tracking-{backend}", catalog_url=url)
        ctx = ArtifactContext(repo)
        counter = iter(range(10**9))

        def ours(ctx: Any = ctx, counter: Any = counter) -> None:
            for i in range(POINTS):
                ctx.log_metric("loss", 1.0 / (i + 1), step=next(counter))
            ctx.commit()

        def bare(repo: Any = repo, counter: Any = counter) -> None:
            now = datetime.now(UTC).replace(tzinfo=None)
            rows = [
                {"project": "default", "run_id": "bare", "key": "loss", "step": next(counter),
                 "value": 1.0 / (i + 1), "timestamp": now, "batch": "b"}
                for i in range(POINTS)
            ]  # fmt: skip
            with repo.catalog.engine.begin() as conn:
                conn.execute(run_metrics_t.insert(), rows)

        mine, base = interleaved(ours, bare, max(3, args.rounds // 2))
        results.append(
            Result(
                f"25a log_metric x10,000 + commit ({backend}) vs bare executemany",
                mine,
                base,
                4.0,
                note=f"{POINTS / mine * 1000:,.0f} points/s",
            )
        )
        results.append(
            Result(
                f"25b ms per 10,000 logged points ({backend}; target 10,000 points/s)",
                mine,
                None,
                1000.0 if backend == "sqlite" else None,
            )
        )
        repo.catalog.dispose()
    return results


BENCHMARKS = {"tracking_log_metric": bench_log_metric}
