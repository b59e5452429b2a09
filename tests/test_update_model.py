"""update_model: metadata revisions that keep the bytes, hash, number, tags and producer, record
who/when/which run/what, refuse bad input whole, and survive the loss of the catalog."""

import json

import pandas as pd
import pytest
from prefect import flow
from typer.testing import CliRunner

import prefect_artifacts as pa
from prefect_artifacts import ArtifactContext, ArtifactSettings, Repository
from prefect_artifacts.cli import app
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.maintenance import reindex
from prefect_artifacts.core.storage import Storage
from tests.conftest import drop_catalog, snapshot


def make_repo(tmp_path, url=None, **settings):
    return Repository(
        Storage.from_url(str(tmp_path / "store")),
        Catalog(url or f"sqlite:///{tmp_path / 'c.db'}"),
        owner="tester",
        settings=ArtifactSettings(owner="tester", **settings),
    )


def test_update_keeps_content_number_tags_and_producer(env_repo):
    logged = pa.log_model("churn", body=b"weights", model_file="m.pkl", metrics={"auc": 0.8})
    pa.tag_artifact("churn:1", "prod")
    updated = pa.update_model(
        "churn@prod",
        metrics={"f1": 0.7, "auc": 0.81},
        parameters={"threshold": 0.4},
        labels={"stage": "evaluated"},
        extra_data={"report": b"<html>report</html>"},
        description="evaluated on holdout",
    )
    assert (updated.hash, updated.version, updated.uid) == (logged.hash, 1, logged.uid)
    assert updated.tags == ["prod"] and updated.producer == logged.producer
    assert updated.metrics == {"auc": 0.81, "f1": 0.7}
    assert updated.parameters == {"threshold": 0.4}
    assert updated.labels == {"stage": "evaluated"}
    assert updated.description == "evaluated on holdout"
    assert updated.extra_data["report"].read() == b"<html>report</html>"
    assert len(pa.list_artifacts(key="churn", all_versions=True)) == 1
    [revision] = updated.revisions()
    assert revision.revision == 1 and revision.version == 1
    assert revision.changes["metrics"] == {
        "old": {"auc": 0.8, "f1": None},
        "new": {"auc": 0.81, "f1": 0.7},
    }
    assert revision.changes["labels"] == {"old": {"stage": None}, "new": {"stage": "evaluated"}}
    assert revision.updater.kind == "local" and revision.updater.user == "tester"
    again = pa.update_model(updated, metrics={"f1": 0.72}, key_prefix="holdout_")
    assert again.metrics["holdout_f1"] == 0.72 and [r.revision for r in again.revisions()] == [1, 2]
    same = pa.update_model("churn:1", metrics={"auc": 0.81})  # nothing changes: no revision
    assert len(same.revisions()) == 2
    assert pa.best("churn", metric="auc").version == 1


def test_bad_updates_are_refused_whole(env_repo):
    pa.log_model("m", body=b"w", metrics={"auc": 0.8})
    pa.log_artifact("notes", b"text")
    with pytest.raises(pa.InvalidArgumentError, match=r"'loss' is nan"):
        pa.update_model("m", metrics={"auc": 0.9, "loss": float("nan")})
    with pytest.raises(pa.InvalidArgumentError, match="not a model"):
        pa.update_model("notes", metrics={"auc": 1.0})
    with pytest.raises(pa.InvalidArgumentError, match="nothing to update"):
        pa.update_model("m")
    with pytest.raises(pa.InvalidKeyError, match="label"):
        pa.update_model("m", metrics={"auc": 0.9}, labels={"bad name!": 1})
    pa.update_model("m", extra_data={"cm": b"1"})
    with pytest.raises(pa.InvalidArgumentError, match="already has extra data 'cm'"):
        pa.update_model("m", extra_data={"cm": b"2"})
    version = pa.get_artifact("m")
    assert version.metrics == {"auc": 0.8} and version.extra_data["cm"].read() == b"1"
    assert len(version.revisions()) == 1
    with pytest.raises(pa.ArtifactNotFoundError):
        pa.update_model("missing", metrics={"auc": 1.0})


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_revisions_survive_reindex(tmp_path, request, backend):
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    repo = make_repo(tmp_path, url)
    ctx = ArtifactContext(repo)
    ctx.log_model("clf", body=b"v1", metrics={"auc": 0.7}, tag="prod")
    ctx.log_model("clf", body=b"v2", metrics={"auc": 0.75})
    repo.revise("clf:1", metrics={"f1": 0.6}, labels={"team": "ml"}, kind="model")
    repo.revise("clf:1", description="checked", extra_data={"plot": b"png"})
    repo.revise("clf:2", parameters={"depth": 3})
    repo.tag("clf:2", "prod")
    before = snapshot(repo.catalog)
    revisions = {n: repo.get(f"clf:{n}").revisions() for n in (1, 2)}
    drop_catalog(repo.catalog.engine)
    lost = make_repo(tmp_path, url)
    report = reindex(lost)
    assert report.versions_restored == 2 and report.skipped == {}
    assert snapshot(lost.catalog) == before
    assert {n: lost.get(f"clf:{n}").revisions() for n in (1, 2)} == revisions
    one = lost.get("clf:1")
    assert one.metrics == {"auc": 0.7, "f1": 0.6} and one.description == "checked"
    assert one.extra_data["plot"].read() == b"png" and one.labels == {"team": "ml"}
    assert lost.get("clf@prod").version == 2 and lost.get("clf:2").parameters == {"depth": 3}
    assert reindex(lost).versions_restored == 0 and snapshot(lost.catalog) == before


def test_signed_repository_re_signs_added_extra_data(tmp_path):
    repo = make_repo(tmp_path, signing_key="hmac:team-secret")
    ctx = ArtifactContext(repo)
    ctx.log_model("model", model={"w": [1]}, metrics={"auc": 0.9})
    updated = repo.revise("model", extra_data={"card": b"model card"}, kind="model")
    assert updated.load() == {"w": [1]}  # the signature covers the new extra data
    assert pa.verify(repository=repo).ok


def test_update_inside_a_flow_records_the_updating_run(env_repo, prefect_server):
    pa.log_model("ranker", body=b"w", metrics={"ndcg": 0.5})

    @flow(name="evaluate-ranker")
    def evaluate():
        return pa.update_model("ranker", metrics={"ndcg_holdout": 0.45})

    updated = evaluate()
    [revision] = updated.revisions()
    assert revision.updater.kind == "prefect" and revision.updater.flow_name == "evaluate-ranker"
    assert revision.updater.flow_run_id and updated.producer.kind == "local"
    pa.flush_registrations()


def test_cli_show_prints_the_history_and_json_api_lists_it(env_repo):
    from fastapi.testclient import TestClient

    from prefect_artifacts.web import create_app

    pa.log_model("churn", body=b"w", metrics={"auc": 0.8})
    pa.update_model("churn", metrics={"auc": 0.82}, description="recalibrated")
    result = CliRunner().invoke(app, ["show", "churn"])
    assert result.exit_code == 0, result.output
    assert "revision 1" in result.output and "metric auc: 0.8 → 0.82" in result.output
    shown = json.loads(CliRunner().invoke(app, ["show", "churn", "--json"]).stdout)
    assert shown["revisions"][0]["changes"]["description"]["new"] == "recalibrated"
    client = TestClient(create_app(env_repo))
    response = client.get("/api/projects/default/artifacts/churn/versions/1/revisions")
    assert response.status_code == 200 and response.json()[0]["revision"] == 1
    page = client.get("/projects/default/artifacts/churn?version=1")
    assert page.status_code == 200 and "recalibrated" in page.text and "revision 1" in page.text
    pa.flush_registrations()


def test_set_description_the_update_model_error_points_to(env_repo):
    pa.log_dataset("frame", pd.DataFrame({"a": [1]}))
    with pytest.raises(pa.InvalidArgumentError, match="set_description work on every kind"):
        pa.update_model("frame", description="x")
    assert pa.set_description("frame:1", "checked").description == "checked"
    assert pa.get_artifact("frame").description == "checked"
    assert pa.set_description("frame", None).description is None
