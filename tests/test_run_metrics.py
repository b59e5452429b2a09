"""Step metrics of runs: log_metric/log_metrics, run ids, batches in the catalog and the
journal (restored by reindex), curves in the browser UI, the summary on Prefect cards."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prefect import flow, task

import prefect_artifacts as pa
from prefect_artifacts import ArtifactContext, Repository
from prefect_artifacts.core import events, tracking
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Storage
from prefect_artifacts.prefect import cards, registration
from prefect_artifacts.web import create_app


def test_points_steps_and_the_frame(env_repo):
    ctx = pa.get_context()
    for i in range(5):
        ctx.log_metric("loss", 1.0 / (i + 1))  # steps 0..4 when not given
    ctx.log_metrics({"acc": 0.5, "f1": 0.25}, step=10)
    ctx.log_metric("acc", 0.75, step=11, timestamp=1_700_000_000_000)  # MLflow's epoch ms
    frame = pa.run_metrics(ctx.run_id)
    assert list(frame.columns) == ["key", "step", "value", "timestamp"]
    assert frame["key"].tolist() == ["acc", "acc", "f1"] + ["loss"] * 5
    assert frame[frame.key == "loss"]["step"].tolist() == [0, 1, 2, 3, 4]
    assert frame[frame.key == "acc"]["value"].tolist() == [0.5, 0.75]
    stamp = frame[(frame.key == "acc") & (frame.step == 11)]["timestamp"].iloc[0]
    assert stamp.to_pydatetime() == datetime.fromtimestamp(1_700_000_000, UTC)
    both = pa.run_metrics([ctx.run_id, "other-run"])
    assert set(both["run_id"]) == {ctx.run_id} and len(both) == 8


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.log_metric("loss", float("nan")), "not a finite number"),
        (lambda c: c.log_metric("loss", "0.3"), "must be finite numbers"),
        (lambda c: c.log_metric("loss", True), "boolean"),
        (lambda c: c.log_metric("", 1.0), "1-128 characters"),
        (lambda c: c.log_metric("loss", 1.0, step=-1), "whole number from 0"),
        (lambda c: c.log_metric("loss", 1.0, step=1.5), "whole number from 0"),
        (lambda c: c.log_metric("loss", 1.0, timestamp="yesterday"), "milliseconds"),
        (lambda c: c.log_metrics([("loss", 1.0)]), "takes a dict"),
    ],
)
def test_bad_points_are_refused_clearly(env_repo, call, message):
    ctx = pa.get_context()
    with pytest.raises(pa.InvalidArgumentError, match=message):
        call(ctx)
    assert pa.run_metrics(ctx.run_id).empty


def test_points_are_written_in_batches_each_journaled(repo: Repository):
    ctx = ArtifactContext(repo)
    for i in range(2500):
        ctx.log_metric("loss", float(i), step=i)
    files = [p for p in repo.storage.find("metrics") if p.endswith(".json")]
    assert len(files) == 2  # two full batches written; 500 points wait
    ctx.commit()
    files = [p for p in repo.storage.find("metrics") if p.endswith(".json")]
    assert len(files) == 3
    assert sum(len(repo.storage.read_json(p)["points"]) for p in files) == 2500


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_reindex_restores_points_and_results_once(tmp_path: Path, request, backend):
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    storage = Storage.from_url(str(tmp_path / "store"))
    repo = Repository(storage, Catalog(url or f"sqlite:///{tmp_path / 'a.db'}"))
    ctx = ArtifactContext(repo)
    ctx.log_metrics({"loss": 0.5, "acc": 0.7}, step=0)
    ctx.log_metrics({"loss": 0.25, "acc": 0.8}, step=1)
    ctx.log_result("best_epoch", 1)
    ctx.commit()
    before = pa.run_metrics(ctx.run_id, repository=repo)
    fresh = Repository(storage, Catalog(f"sqlite:///{tmp_path / 'b.db'}"))
    report = fresh.reindex() if hasattr(fresh, "reindex") else pa.reindex(repository=fresh)
    assert report.metric_batches_restored == 2
    after = pa.run_metrics(ctx.run_id, repository=fresh)
    assert after.equals(before)
    assert pa.run_results(ctx.run_id, repository=fresh) == {"best_epoch": 1}
    assert pa.reindex(repository=fresh).metric_batches_restored == 0
    assert len(pa.run_metrics(ctx.run_id, repository=fresh)) == 4


def test_run_ids_inside_prefect_and_the_task_end_writes_and_summarises(env_repo, prefect_server):
    heard: list[events.RunTracked] = []
    listener = events.subscribe(
        lambda e: heard.append(e) if isinstance(e, events.RunTracked) else None
    )

    @pa.artifact_task(key="trained")
    def fit(epochs: int):
        ctx = pa.get_context()
        for i in range(epochs):
            ctx.log_metric("loss", 1.0 / (i + 1))
        ctx.log_result("epochs", epochs)
        return pa.Model({"weights": [1, 2]}, metrics={"loss": 1 / epochs})

    @task
    def task_run_id():
        return pa.get_context().run_id

    @flow
    def training():
        return pa.get_context().run_id, fit(3), task_run_id()

    try:
        flow_run, _, task_run = training()
    finally:
        events.unsubscribe(listener)
    assert flow_run != task_run and not flow_run.startswith("local-")
    [event] = heard
    run_id = event.run.task_run_id
    trained = pa.get_artifact("trained")
    assert trained.producer.task_run_id == run_id and trained.kind == "model"
    assert event.metrics["loss"] == {"last": 1 / 3, "min": 1 / 3, "max": 1.0, "points": 3}
    assert event.results == {"epochs": 3}
    assert pa.run_metrics(run_id)["value"].tolist() == [1.0, 0.5, 1 / 3]
    card = cards.run_card(event.metrics, event.results, "http://ui/projects/default/runs/x")
    assert "| `loss` | 0.333333 | 0.333333 | 1 | 3 |" in card and "| `epochs` | `3` |" in card
    model_page = TestClient(create_app(env_repo)).get("/projects/default/artifacts/trained").text
    assert 'id="run-curves"' in model_page and f"/runs/{run_id}" in model_page
    model_card = registration.render(env_repo, trained)
    assert "Step metrics of the run that logged it" in model_card and "| `loss` |" in model_card
    # the registrar reads a batch's summaries and inputs at once: the same card
    job = registration.Job("card", "lane", lambda _: None, reads=(env_repo, [run_id, flow_run]))
    batch = registration._Reads([job])
    assert batch.metrics[id(env_repo), run_id] == event.metrics
    assert batch.metrics[id(env_repo), flow_run] == {} and batch.inputs[id(env_repo), run_id] == []
    token = registration._reads.set(batch)
    try:
        assert registration.render(env_repo, trained) == model_card
    finally:
        registration._reads.reset(token)
    pa.flush_registrations()


def test_the_metrics_table_of_cards():
    table = cards.metrics_table({"loss": {"last": 0.1, "min": 0.1, "max": 0.9, "points": 40}})
    assert table[2] == "| `loss` | 0.1 | 0.1 | 0.9 | 40 |"


def test_run_page_and_model_page_draw_the_curves(repo: Repository):
    ctx = ArtifactContext(repo)
    for i in range(3000):
        ctx.log_metrics({"loss": 1.0 / (i + 1), "auc": i / 3000})
    ctx.log_result("note", "converged")
    ctx.log_model("clf", body=b"w", metrics={"auc": 0.9})
    client = TestClient(create_app(repo))
    page = client.get(f"/projects/default/runs/{ctx.run_id}")
    assert page.status_code == 200
    assert page.text.count('class="chart line"') == 2 and "3000 points" in page.text
    assert 'aria-label="loss across 1001 steps"' in page.text  # long curves are thinned
    assert "converged" in page.text
    api = client.get(f"/api/projects/default/runs/{ctx.run_id}/metrics").json()
    assert len(api["points"]) == 6000 and api["results"] == {"note": "converged"}
    assert api["points"][0] == {**api["points"][0], "key": "auc", "step": 0, "value": 0.0}
    other = client.get("/projects/default/runs/no-such-run").text
    assert 'id="no-curves"' in other


def test_buffer_keeps_points_when_a_write_fails(repo: Repository, monkeypatch):
    ctx = ArtifactContext(repo)
    ctx.log_metric("loss", 0.5)

    def broken(*args, **kwargs):
        raise RuntimeError("catalog down")

    monkeypatch.setattr(repo.catalog, "add_metrics", broken)
    with pytest.raises(RuntimeError, match="catalog down"):
        ctx.commit()
    monkeypatch.undo()
    ctx.commit()
    assert pa.run_metrics(ctx.run_id, repository=repo)["value"].tolist() == [0.5]
    assert tracking.buffer_of(repo).flush() == 0
