"""Browser UI server-side timings (issue 13): the artifact list, the list sorted by a column,
the list sorted by a label and by location, the detail page of a key with 1,000 versions (a
dataset, and a model whose 5 metrics are charted across them) and the comparison of 10 versions,
at 100k versions (``PA_BENCH_UI_VERSIONS`` overrides the scale). Each page is rendered in-process through
FastAPI's test client; the baseline is a bare route of the same app returning a fixed page, so
the figure is what our page costs beyond the framework."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from populate import populate

TARGET_MS = 100.0


def bench_ui(work: Path, args: argparse.Namespace) -> list:
    """On SQLite, and on PostgreSQL unless ``--quick`` (``PA_BENCH_UI_BACKENDS`` chooses)."""
    default = "sqlite" if args.quick else "sqlite,postgres"
    backends = os.environ.get("PA_BENCH_UI_BACKENDS", default).split(",")
    return [r for backend in backends for r in _bench_ui(work, args, backend.strip())]


def _bench_ui(work: Path, args: argparse.Namespace, backend: str) -> list:
    from fastapi.responses import HTMLResponse
    from fastapi.testclient import TestClient
    from run import Result, _fresh_pg, median_ms, repository  # run.py imports this module

    from prefect_artifacts import ArtifactContext
    from prefect_artifacts.core.access import new_token, token_hash
    from prefect_artifacts.web import create_app
    from prefect_artifacts.web.auth import Access

    scale = int(os.environ.get("PA_BENCH_UI_VERSIONS") or (10_000 if args.quick else 100_000))
    url = _fresh_pg("pa_bench_ui") if backend == "postgres" else None
    repo = repository(work / "ui", url)
    populate(repo.catalog, scale)  # 100 versions per key
    populate(repo.catalog, 1_000, project="deep", per_key=1_000)  # one key, 1,000 versions
    populate(repo.catalog, 1_000, project="models", per_key=1_000, metrics=5)  # 5 metrics each
    if backend == "postgres":  # populate wrote the ids itself: move the sequences past them
        import sqlalchemy as sa

        with repo.catalog.engine.begin() as conn:
            for table in ("artifact_keys", "artifact_versions"):
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    ctx = ArtifactContext(repo)
    for i in range(10):
        ctx.log_model(
            "churn",
            body=f"model-{i}".encode(),
            model_file="model.bin",
            metrics={"auc": 0.7 + i / 100, "logloss": 0.5 - i / 100},
            parameters={"depth": i},
        )
    app = create_app(repo)
    repo.catalog.add_user("bench", {"*": "admin"})
    token = new_token()
    repo.catalog.add_token("bench", "default", token_hash(token))
    for n in range(1, 11):
        repo.catalog.record_audit("bench", "tag", "default", "churn", n, {"tag": f"t{n}"})
    team = create_app(repo, access=Access(users=True))

    @app.get("/bare", include_in_schema=False)
    def bare() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>bare</title><p>bare</p>")

    client = TestClient(app)
    html = {"accept": "text/html"}

    def page(url: str):
        def fetch() -> None:
            response = client.get(url, headers=html)
            assert response.status_code == 200, (url, response.status_code, response.text[:300])

        return fetch

    team_client = TestClient(team)
    signed_in = {**html, "authorization": f"Bearer {token}"}

    def team_page(url: str):
        def fetch() -> None:
            response = team_client.get(url, headers=signed_in)
            assert response.status_code == 200, (url, response.status_code, response.text[:300])

        return fetch

    rounds = max(args.rounds, 5)
    baseline = median_ms(page("/bare"), rounds)
    refs = "&".join(f"ref=churn:{i}" for i in range(1, 11))
    pages = [
        ("list page (50 of the latest per key)", "/projects/default/artifacts"),
        ("list page sorted by size", "/projects/default/artifacts?sort=-size"),
        (
            "list page sorted by key, all versions",
            "/projects/default/artifacts?sort=key&all_versions=true",
        ),
        (
            "list page sorted by size, all versions",
            "/projects/default/artifacts?sort=-size&all_versions=true",
        ),
        (
            "list page sorted by created, all versions",
            "/projects/default/artifacts?sort=created&all_versions=true",
        ),
        (
            "list page sorted by a label, all versions",
            "/projects/default/artifacts?sort=label:team&all_versions=true",
        ),
        ("list page sorted by a label", "/projects/default/artifacts?sort=label:team"),
        ("list page sorted by location", "/projects/default/artifacts?sort=location"),
        (
            "list page sorted by location, all versions",
            "/projects/default/artifacts?sort=-location&all_versions=true",
        ),
        ("detail of a key with 1,000 versions", "/projects/deep/artifacts/dataset-0000000"),
        (
            "detail of a model with 1,000 versions, 5 metrics charted",
            "/projects/models/artifacts/model-0000000",
        ),
        ("compare page, 10 versions", f"/projects/default/compare?{refs}"),
        # issue 26: paging, search everywhere, chosen columns, the audit trail
        (
            "model page, last page of 1,000 versions (100 a page)",
            "/projects/models/artifacts/model-0000000?voffset=900&vlimit=100",
        ),
        (
            "JSON versions, first page of 1,000 (100)",
            "/api/projects/models/artifacts/model-0000000/versions",
        ),
        (
            "JSON versions, last page of 1,000 (100)",
            "/api/projects/models/artifacts/model-0000000/versions?offset=900",
        ),
        ("list page of every project (*)", "/projects/*/artifacts"),
        (
            "models tab, 3 chosen columns sorted by a metric",
            "/projects/models/artifacts?kind=models&col=metric:auc&col=metric:f1"
            "&col=param:depth&sort=-metric:f1",
        ),
        ("project audit page", "/projects/default/audit"),
        # round 3 follow-up: the bounded count, every project's versions, parameter sorts
        (
            "list page filtered by a label, all versions",
            "/projects/default/artifacts?labels=team%3Dml&all_versions=true",
        ),
        ("list page of every project (*), all versions", "/projects/*/artifacts?all_versions=true"),
        (
            "models tab sorted by a parameter, all versions",
            "/projects/models/artifacts?kind=models&all_versions=true&sort=param:depth",
        ),
    ]
    team_pages = [
        ("list page, signed in with a user token", "/projects/default/artifacts"),
        ("model page of 1,000 versions, signed in", "/projects/models/artifacts/model-0000000"),
    ]
    note = f"{scale:,} versions, {backend}, {os.cpu_count()} cores; bare route {baseline:.1f} ms"
    label = "" if backend == "sqlite" else f" [{backend}]"
    return [
        Result(f"13 UI {name}{label}", median_ms(page(url), rounds), None, TARGET_MS, note=note)
        for name, url in pages
    ] + [
        Result(f"26 UI {name}{label}", median_ms(team_page(u), rounds), None, TARGET_MS, note=note)
        for name, u in team_pages
    ]
