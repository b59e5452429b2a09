"""Comparing model versions (3 keys × several versions) through the API, the CLI and the JSON
API, and picking and promoting the best."""

import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import prefect_artifacts as pa
from prefect_artifacts.cli import app
from prefect_artifacts.web import create_app

AUC = {  # key → auc of versions 1, 2, 3 (None: the version has no auc)
    "churn-a": [0.71, 0.74, 0.73],
    "churn-b": [0.80, None, 0.78],
    "churn-c": [0.65, 0.90, 0.69],
}


@pytest.fixture
def models(env_repo):
    for key, aucs in AUC.items():
        for i, auc in enumerate(aucs):
            metrics = {"logloss": round(1 - (auc or 0.5), 3)}
            if auc is not None:
                metrics["auc"] = auc
            pa.log_model(
                key,
                body=f"{key}-{i}".encode(),
                model_file="m.pkl",
                metrics=metrics,
                parameters={"depth": i + 2, "key": key},
            )
    pa.log_model("other", body=b"x", metrics={"auc": 0.99})
    pa.tag_artifact("churn-a:2", "prod")
    return env_repo


def test_compare_latest_of_each_key_as_a_dataframe(models):
    frame = pa.compare("churn-*")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["key"]) == ["churn-a", "churn-b", "churn-c"]
    assert list(frame["version"]) == [3, 3, 3]
    assert list(frame["auc"]) == [0.73, 0.78, 0.69]
    assert frame["logloss"].tolist() == [0.27, 0.22, 0.31]
    assert frame["param.depth"].tolist() == [4, 4, 4]
    assert {"ref", "tags", "created", "producer_run", "iteration"} <= set(frame.columns)


def test_compare_every_version_missing_metric_is_an_empty_cell(models):
    frame = pa.compare("churn-*", all_versions=True, metrics=["auc"], parameters=False)
    assert len(frame) == 9
    assert [c for c in frame.columns if c.startswith("param.")] == []
    b2 = frame[(frame.key == "churn-b") & (frame.version == 2)]
    assert b2["auc"].isna().all()
    assert frame.loc[frame.key == "churn-a", "tags"].tolist() == ["", "prod", ""]


def test_compare_refs_tags_lists_and_versions(models):
    frame = pa.compare("churn-a@prod", "churn-c:1", ["churn-b:3"])
    assert frame["ref"].tolist() == [
        "default/churn-a:2",
        "default/churn-c:1",
        "default/churn-b:3",
    ]
    versions = pa.list_artifacts(key="churn-c", all_versions=True)
    assert sorted(pa.compare(versions)["version"]) == [1, 2, 3]


def test_best_by_metric_and_mode_and_promotion(models):
    assert pa.best("churn-*", metric="auc").ref == "default/churn-c:2"
    assert pa.best("churn-*", metric="auc", mode="min").ref == "default/churn-c:1"
    assert pa.best("churn-*", metric="logloss").ref == "default/churn-c:2"  # lower is better
    assert pa.best("churn-*", metric="auc", all_versions=False).ref == "default/churn-b:3"
    promoted = pa.best("churn-a", metric="auc", tag="prod")
    assert promoted.version == 2 and "prod" in promoted.tags
    promoted = pa.best("churn-b", metric="auc", tag="prod")
    assert pa.get_artifact("churn-b@prod").version == 1
    with pytest.raises(pa.ArtifactNotFoundError, match=r"metric 'f1'.*auc, logloss"):
        pa.best("churn-*", metric="f1")
    with pytest.raises(pa.InvalidArgumentError, match="'max' or 'min'"):
        pa.best("churn-*", metric="auc", mode="highest")
    with pytest.raises(pa.ArtifactNotFoundError, match="no artifact key matches"):
        pa.compare("nothing-*")


def test_cli_compare_table_and_json(models):
    runner = CliRunner()
    result = runner.invoke(app, ["compare", "churn-*", "--metric", "auc", "-a"])
    assert result.exit_code == 0, result.output
    assert "churn-a" in result.output and "churn-c" in result.output
    assert "best auc: default/churn-c:2" in result.output
    result = runner.invoke(app, ["compare", "churn-*", "--metric", "auc", "--json"])
    data = json.loads(result.stdout)
    assert [v["key"] for v in data["versions"]] == ["churn-a", "churn-b", "churn-c"]
    assert data["metrics"] == ["auc"] and data["best"] == {"auc": "default/churn-b:3"}
    assert data["versions"][0]["parameters"] == {"depth": 4, "key": "churn-a"}
    one_key = runner.invoke(app, ["compare", "churn-a", "-a"])
    header = [c.strip() for c in one_key.stdout.splitlines()[0].split("┃")]
    assert header[-1] == "depth" and header.count("key") == 1  # the param 'key' is equal
    assert "1 parameter(s) equal in every row not shown" in one_key.stderr
    every = runner.invoke(app, ["compare", "churn-a", "-a", "--all-params"]).stdout
    assert [c.strip() for c in every.splitlines()[0].split("┃")][-2:] == ["depth", "key"]
    missing = runner.invoke(app, ["compare", "nothing-*"])
    assert missing.exit_code == 3 and "no artifact key matches" in missing.output


def test_json_api_compare(models):
    client = TestClient(create_app(models))
    response = client.get(
        "/api/projects/default/compare",
        params={"ref": ["churn-*"], "metric": "auc", "all_versions": "true"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["versions"]) == 9 and body["best"] == {"auc": "default/churn-c:2"}
    assert body["lower_is_better"] == {"auc": False}
    one = client.get("/api/projects/default/compare", params={"ref": ["churn-a:1", "churn-b:1"]})
    assert [v["metrics"]["auc"] for v in one.json()["versions"]] == [0.71, 0.80]
    assert client.get("/api/projects/default/compare", params={"ref": "nope-*"}).status_code == 404


def test_compare_page_takes_all_versions_and_run(models):
    client = TestClient(create_app(models))
    assert client.get("/projects/default/compare").status_code == 200
    page = client.get("/projects/default/compare", params={"ref": "churn-a"})
    assert page.status_code == 200 and "Compare 1 versions" in page.text
    every = client.get(
        "/projects/default/compare", params={"ref": "churn-a", "all_versions": "true"}
    )
    assert every.status_code == 200 and "Compare 3 versions" in every.text
    assert 'name="all_versions" value="true" checked' in every.text
    other_run = client.get("/projects/default/compare", params={"ref": "churn-a", "run": "no-run"})
    assert other_run.status_code == 404 and "no-run" in other_run.text
