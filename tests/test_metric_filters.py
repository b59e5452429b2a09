"""Metric filters parsed once in the shared filter model: Python, CLI, JSON API and the UI's
search form give the same versions, and the same message for a malformed condition."""

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import prefect_artifacts as pa
from prefect_artifacts.cli import app
from prefect_artifacts.web import create_app

CASES = [
    "auc>0.75",
    "auc>0.75 and f1>=0.5",
    "auc >= .8 AND f1 < 1e1",
    "f1==0.4",
    "f1!=0.4",
    "auc<=0.7",
    "run.val_loss<0.3",
]


@pytest.fixture
def models(env_repo):
    for i, (auc, f1) in enumerate([(0.7, 0.9), (0.8, 0.4), (0.9, 0.6), (0.76, 0.5)]):
        pa.log_model(f"m{i}", body=str(i).encode(), metrics={"auc": auc, "f1": f1})
    pa.log_model("m-old", body=b"a", metrics={"auc": 0.95, "f1": 0.95})
    pa.log_model("m-old", body=b"b", metrics={"auc": 0.1})  # its latest lacks f1
    pa.log_model("nested", body=b"n", metrics={"run.val_loss": 0.25, "auc": 0.5})
    pa.log_artifact("raw", body=b"no metrics")
    return env_repo


def _python(where, all_versions=False):
    return sorted(v.ref for v in pa.list_artifacts(metrics=where, all_versions=all_versions))


def _cli(where, all_versions=False):
    args = ["ls", "--where", where, "--json"] + (["-a"] if all_versions else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return sorted(f"{v['project']}/{v['key']}:{v['version']}" for v in json.loads(result.output))


def _api(client, where, all_versions=False):
    params = {"metrics": where, "all_versions": str(all_versions).lower()}
    response = client.get("/api/projects/default/artifacts", params=params)
    assert response.status_code == 200, response.text
    return sorted(v["ref"] if "ref" in v else f"{v['project']}/{v['key']}:{v['version']}"
                  for v in response.json()["items"])  # fmt: skip


@pytest.mark.parametrize("where", CASES)
def test_python_cli_and_api_give_the_same_versions(models, where):
    client = TestClient(create_app(models))
    for every in (False, True):
        python = _python(where, every)
        assert python == _cli(where, every) == _api(client, where, every)


def test_the_answers_are_right(models):
    assert _python("auc>0.75 and f1>=0.5") == ["default/m2:1", "default/m3:1"]
    assert _python("f1>=0.9", all_versions=True) == ["default/m-old:1", "default/m0:1"]
    assert _python("f1>=0.9") == ["default/m0:1"]  # the latest of m-old has no f1
    assert _python("run.val_loss<0.3") == ["default/nested:1"]
    assert _python(["auc>0.75", "f1<0.55"]) == ["default/m1:1", "default/m3:1"]  # a list: and


def test_cli_repeated_where_and_metric_columns(models):
    result = CliRunner().invoke(
        app, ["ls", "--where", "auc>0.75", "--where", "f1<0.55", "--metric", "auc", "-m", "f1"]
    )
    assert result.exit_code == 0, result.output
    assert "m1" in result.output and "m3" in result.output and "m2 " not in result.output
    assert "0.76" in result.output and "0.4" in result.output


@pytest.mark.parametrize("bad", ["auc >> 0.5", "auc>", "0.5<auc", "auc>0.5 or f1>0.2", "auc>x"])
def test_malformed_filters_get_the_same_clear_error_everywhere(models, bad):
    with pytest.raises(pa.InvalidArgumentError, match="cannot read") as caught:
        pa.list_artifacts(metrics=bad)
    message = str(caught.value)
    cli = CliRunner().invoke(app, ["ls", "--where", bad])
    assert cli.exit_code == 2 and "cannot read" in cli.output
    client = TestClient(create_app(models))
    api = client.get("/api/projects/default/artifacts", params={"metrics": bad})
    assert api.status_code in (400, 422) and "cannot read" in api.text
    page = client.get("/projects/default/artifacts", params={"metrics": bad})
    assert page.status_code == 400 and "cannot read" in page.text
    assert "e.g. 'auc&gt;0.75 and f1&gt;=0.5'" in page.text or "auc>0.75" in message


def test_the_ui_search_form_has_the_field_and_filters(models):
    client = TestClient(create_app(models))
    page = client.get("/projects/default/artifacts", params={"metrics": "auc>0.85"}).text
    assert 'name="metrics"' in page and 'value="auc&gt;0.85"' in page
    assert "/artifacts/m2" in page and "/artifacts/m1" not in page
