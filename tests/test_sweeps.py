"""Sweeps resolve to their best: pa.select_best and @artifact_task(selector=) make the key,
key:latest, key#0 and store://…/key name the best iteration (tagged 'best', journaled)."""

import pickle
from pathlib import Path

import pytest
from prefect import flow, task
from typer.testing import CliRunner

import prefect_artifacts as pa
from prefect_artifacts import Repository
from prefect_artifacts.cli import app
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Storage

AUC = [0.61, 0.83, 0.72, 0.83]


def _sweep(key="clf"):
    for i, auc in enumerate(AUC):
        pa.log_model(key, body=f"m{i}".encode(), metrics={"auc": auc, "loss": 1 - auc}, iteration=i)


def test_select_best_points_every_form_of_the_key_at_the_winner(env_repo):
    _sweep()
    assert pa.get_artifact("clf").version == 4  # without a selector: the newest, as before
    best = pa.select_best("clf", "max.auc")
    assert (best.version, best.iteration) == (2, 1)  # ties: the first iteration wins
    assert "best" in best.tags
    for ref in ("clf", "clf:latest", "clf#0", "store://models/default/clf", "clf@best"):
        assert pa.get_artifact(ref).version == 2, ref
    [listed] = pa.list_artifacts(key="clf")
    assert listed.version == 2 and "best" in listed.tags
    assert pa.select_best("clf", "min.loss").version == 2  # the same winner by its loss
    assert pa.select_best("clf", "min.auc").version == 1
    assert pa.get_artifact("clf").version == 1
    assert [h["version"] for h in pa.tag_history("clf", "best")] == [2, 1]  # 2 kept, then 1
    pa.log_model("clf", body=b"new")  # a later version is the key's latest again
    assert pa.get_artifact("clf").version == 5 and pa.get_artifact("clf@best").version == 1


def test_the_latest_sweep_or_a_named_run(env_repo):
    _sweep()
    pa.log_model("clf", body=b"plain", metrics={"auc": 0.99})  # no iteration: not a candidate
    assert pa.select_best("clf", "max.auc").version == 2
    with pytest.raises(pa.ArtifactNotFoundError, match="logged by run no-such-run"):
        pa.select_best("clf", "max.auc", run="no-such-run")


@pytest.mark.parametrize("selector", ["auc", "best.auc", "max.", "max.a b", None])
def test_bad_selectors_are_refused(env_repo, selector):
    _sweep()
    with pytest.raises(pa.InvalidArgumentError, match=r"'max\.<metric>'"):
        pa.select_best("clf", selector)
    with pytest.raises(pa.InvalidArgumentError, match=r"'max\.<metric>'"):
        pa.artifact_task(lambda: 1, selector=selector or "x")


def test_a_sweep_without_the_metric_says_so(env_repo):
    _sweep()
    with pytest.raises(pa.ArtifactNotFoundError, match="has the metric 'f1'"):
        pa.select_best("clf", "max.f1")
    assert pa.get_artifact("clf").version == 4 and "best" not in pa.get_artifact("clf").tags


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_selection_survives_reindex(tmp_path: Path, request, backend):
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    storage = Storage.from_url(str(tmp_path / "store"))
    repo = Repository(storage, Catalog(url or f"sqlite:///{tmp_path / 'a.db'}"))
    ctx = pa.ArtifactContext(repo)
    for i, auc in enumerate(AUC):
        ctx.log_model("clf", body=f"m{i}".encode(), metrics={"auc": auc}, iteration=i)
    from prefect_artifacts.core import sweeps

    sweeps.select_best(repo, "clf", "max.auc")
    fresh = Repository(storage, Catalog(f"sqlite:///{tmp_path / 'b.db'}"))
    pa.reindex(repository=fresh)
    assert fresh.get("clf").version == 2 and fresh.get("clf@best").version == 2


def test_cli_shows_the_link_and_selects(env_repo):
    _sweep()
    runner = CliRunner()
    result = runner.invoke(app, ["select-best", "clf", "max.auc"])
    assert result.exit_code == 0, result.output
    assert "clf:2" in result.output
    listing = runner.invoke(app, ["ls", "--key", "clf"]).output
    assert "best" in listing
    bad = runner.invoke(app, ["select-best", "clf", "top.auc"])
    assert bad.exit_code == 2 and "max.<metric>" in bad.output


def train_iter(context, p1=1):  # MLRun's hyperparameter handler, as written
    auc = 1 - abs(p1 - 3) / 10
    context.log_model("model", body=pickle.dumps({"p1": p1}), model_file="model.pkl",
                      metrics={"auc": auc}, parameters={"p1": p1})  # fmt: skip
    context.log_result("auc", auc)


def test_mlrun_hyperparameter_sweep_with_a_selector(env_repo, prefect_server):
    @task
    def trial(i: int, p1: int):
        train_iter(pa.get_context(iteration=i), p1=p1)  # the context: MLRun's iteration i

    @flow
    def sweep(hyperparams: dict):
        trial.map(range(len(hyperparams["p1"])), hyperparams["p1"]).result()
        return pa.select_best("model", "max.auc")

    best = sweep({"p1": [1, 5, 3, 4]})
    assert best.parameters == {"p1": 3} and best.iteration == 2
    assert pa.get_artifact("store://models/default/model").version == best.version
    assert pa.get_artifact("model#0").version == best.version
    assert sorted(pa.compare("model", all_versions=True)["iteration"]) == [0, 1, 2, 3]
    pa.flush_registrations()


def test_artifact_task_selector_selects_when_the_mapped_sweep_has_logged(env_repo, prefect_server):
    @pa.artifact_task(key="ranker", iteration="{parameters[depth]}", selector="max.auc")
    def fit(depth: int):
        return pa.Model({"depth": depth}, metrics={"auc": [0.7, 0.9, 0.8][depth]})

    @pa.artifact_task(key="plain", iteration="{parameters[depth]}")
    def fit_plain(depth: int):
        return pa.Model({"depth": depth}, metrics={"auc": [0.7, 0.9, 0.8][depth]})

    @flow
    def tune():
        fit.map([0, 1, 2]).result()
        fit_plain.map([0, 1, 2]).result()

    tune()
    chosen = pa.get_artifact("ranker")
    assert chosen.iteration == 1 and "best" in chosen.tags
    assert pa.get_artifact("plain").iteration == 2  # without a selector nothing changes
    assert "best" not in pa.get_artifact("plain").tags
    pa.flush_registrations()


def test_compare_the_last_n_versions(env_repo):
    _sweep()
    frame = pa.compare("clf", last=2)
    assert frame["version"].tolist() == [3, 4] and frame["auc"].tolist() == [0.72, 0.83]
    result = CliRunner().invoke(app, ["compare", "clf", "--last", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert [v["version"] for v in __import__("json").loads(result.output)["versions"]] == [2, 3, 4]
    with pytest.raises(pa.InvalidArgumentError, match="from 1 to 1000"):
        pa.compare("clf", last=0)
    with pytest.raises(pa.ArtifactNotFoundError, match="no versions of 'nope'"):
        pa.compare("nope", last=2)
