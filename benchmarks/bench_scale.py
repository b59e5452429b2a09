"""Issue 27, target 5: a catalog of 10,000,000 versions (100,000 dataset keys of 100 versions,
two labels each, a year of times), on SQLite and on PostgreSQL, filled by the database itself
(``populate.generate``; the build time and the database's size are reported). Timed against
the 50 ms target: the label + time search (the latest version of each key, and every version),
a key's page in the browser UI (100 versions) and a model's page of 1,000 versions with 5
metrics charted (its own project in the same catalog).

    ./run.sh bench -k catalog_10m          (--quick: 1,000,000 versions)
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

VERSIONS = 10_000_000
TARGET_MS = 50.0


def bench_catalog_10m(work: Path, args: argparse.Namespace) -> list[Any]:
    import sqlalchemy as sa
    from fastapi.testclient import TestClient
    from populate import generate, populate
    from run import Result, _fresh_pg, median_ms, repository

    from prefect_artifacts.web import create_app

    n = 1_000_000 if args.quick else VERSIONS
    results = []
    for backend in ("sqlite", "postgres"):
        url = _fresh_pg("pa_bench_10m") if backend == "postgres" else None
        root = work / f"catalog-10m-{backend}"
        repo = repository(root, catalog_url=url)
        started = time.perf_counter()
        generate(repo.catalog, n)
        populate(repo.catalog, 1_000, project="models", per_key=1_000, metrics=5)
        built = time.perf_counter() - started
        if backend == "postgres":
            with repo.catalog.engine.connect() as conn:
                size = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
        else:
            size = sum(f.stat().st_size for f in root.rglob("*") if f.name.startswith("c.db"))
        since = datetime.now(UTC) - timedelta(days=7)
        search = {"labels": {"team": "ml"}, "since": since, "limit": 50}
        client = TestClient(create_app(repo))

        def page(path: str, client: Any = client) -> Any:
            return lambda: client.get(path).raise_for_status()

        timed = [
            ("label + time search, latest of each key", lambda r=repo, q=search: r.list(**q)),
            (
                "label + time search, every version",
                lambda r=repo, q=search: r.list(**q, all_versions=True),
            ),
            (
                "UI page of a key (100 versions)",
                page("/projects/default/artifacts/dataset-0001234"),
            ),
            (
                "UI model page, 1,000 versions, 5 metrics charted",
                page("/projects/models/artifacts/model-0000000"),
            ),
            (
                "UI model page, last page of 1,000 versions",
                page("/projects/models/artifacts/model-0000000?voffset=900&vlimit=100"),
            ),
        ]
        note = (
            f"{n:,} versions, {backend}, {os.cpu_count()} cores; built in {built:.0f} s, "
            f"{size / 1e9:.1f} GB"
        )
        for name, fn in timed:
            ms = median_ms(fn, args.rounds * 3)
            results.append(Result(f"27e {name} [{backend}]", ms, None, TARGET_MS, note=note))
        client.close()
        repo.catalog.dispose()
        shutil.rmtree(root, ignore_errors=True)  # gigabytes
        if url:
            _fresh_pg("pa_bench_10m")  # emptied: the next run starts from nothing anyway
    return results


BENCHMARKS = {"catalog_10m": bench_catalog_10m}
