"""One filter model: the same inputs give the same results — and the same error messages —
from Python, the CLI, the JSON API and the web pages."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import prefect_artifacts as pa
from prefect_artifacts import ArtifactContext, ArtifactFilter, InvalidArgumentError
from prefect_artifacts.cli import app
from prefect_artifacts.web import create_app

API = "/api/projects/default/artifacts"


@pytest.fixture
def surfaces(env_repo):
    ctx = ArtifactContext(env_repo)
    ctx.log_artifact("notes", "n", labels={"team": "bi"})
    ctx.log_model("churn", body=b"m", metrics={"auc": 0.9}, labels={"team": "ml"})
    ctx.log_model("churn", body=b"m2", metrics={"auc": 0.95}, labels={"team": "ml"}, tag="prod")
    ctx.log_plot("hist", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    ArtifactContext(env_repo, project="research").log_artifact("draft", b"d")
    client = TestClient(create_app(env_repo))
    runner = CliRunner()

    def python(**filters):
        try:
            return sorted(v.key for v in pa.list_artifacts(**filters))
        except InvalidArgumentError as exc:
            return str(exc)
        except LookupError as exc:
            return str(exc).strip("'\"")

    def cli(**filters):
        args = ["ls", "--json", "--limit", "1000"]
        for name, value in filters.items():
            option = "--" + name.replace("_", "-").removesuffix("s" if name == "labels" else "")
            if value is True:
                args.append(option)
            else:
                for item in value if isinstance(value, list) else [value]:
                    args += [option, str(item)]
        result = runner.invoke(app, args)
        if result.exit_code:
            return result.output.split("error:", 1)[1].strip().replace("\n", " ")
        return sorted(v["key"] for v in json.loads(result.stdout))

    def api(**filters):
        project = filters.pop("project", "default")
        response = client.get(f"/api/projects/{project}/artifacts", params=filters)
        if response.status_code != 200:
            return response.json()["detail"].removeprefix("invalid request: ")
        return sorted(v["key"] for v in response.json()["items"])

    def page(**filters):
        project = filters.pop("project", "default")
        response = client.get(f"/projects/{project}/artifacts", params=filters)
        text = response.text
        if response.status_code != 200:
            start = (
                text.index('id="filter-error"')
                if 'id="filter-error"' in text
                else text.index("<p>")
            )
            body = text[start:].split(">", 1)[1].split("<", 1)[0]
            return html.unescape(body)
        return sorted(part.split('"', 1)[0] for part in text.split('<tr data-key="')[1:])

    return {"python": python, "cli": cli, "api": api, "page": page}


CASES = [
    ({}, ["churn", "hist", "notes"]),
    ({"kind": "models"}, ["churn"]),
    ({"kind": "model"}, ["churn"]),
    ({"kind": "other"}, ["notes"]),
    ({"key": "ch*"}, ["churn"]),
    ({"key": "chu"}, []),  # a name without wildcards matches exactly
    ({"search": "hu"}, ["churn"]),
    ({"labels": ["team=ml"]}, ["churn"]),
    ({"labels": ["team"]}, ["churn", "notes"]),
    ({"since": "24h"}, ["churn", "hist", "notes"]),
    ({"until": "24h"}, []),
    ({"tag": "prod"}, ["churn"]),
    ({"project": "research"}, ["draft"]),
    ({"all_versions": True, "key": "churn"}, ["churn", "churn"]),
]
ERRORS = [
    ({"kind": "foo"}, "kind: unknown kind 'foo'; use dataset, model, plot, artifact or other"),
    ({"since": "3 days"}, "since: '3 days' is not a time"),
    ({"sort": "colour"}, "sort: cannot sort by 'colour'"),
    ({"sort": "-label:a b"}, "sort: cannot sort by '-label:a b'; label:<name> takes a label"),
    ({"limit": 0}, "limit: must be between 1 and 1000, got 0"),
    ({"labels": ["bad label"]}, "labels: invalid label name 'bad label'"),
    ({"tag": "latest"}, "tag: tag 'latest' is reserved"),
    ({"project": "nowhere"}, "project 'nowhere' not found; projects: default, research"),
]


@pytest.mark.parametrize(("filters", "keys"), CASES, ids=[str(c[0]) for c in CASES])
def test_every_surface_finds_the_same(surfaces, filters, keys):
    for name, search in surfaces.items():
        assert search(**filters) == keys, name


@pytest.mark.parametrize(("filters", "message"), ERRORS, ids=[str(e[0]) for e in ERRORS])
def test_every_surface_refuses_the_same_way(surfaces, filters, message):
    for name, search in surfaces.items():
        if name == "cli" and "limit" in filters:
            continue  # the CLI's own --limit is checked the same way below
        got = search(**filters)
        assert isinstance(got, str) and got.startswith(message), (name, got)


def test_python_takes_datetimes_spans_and_timedeltas(surfaces):
    python = surfaces["python"]
    now = datetime.now(UTC)
    assert (
        python(since=now - timedelta(hours=1))
        == python(since=timedelta(hours=1))
        == python(since="1h")
    )
    assert python(since=now.date()) == ["churn", "hist", "notes"]
    assert python(until=now - timedelta(days=1)) == []


def test_the_filter_model_explains_itself():
    with pytest.raises(InvalidArgumentError, match="bogus: is not a filter; filters are project"):
        ArtifactFilter.of(bogus=1)
    f = ArtifactFilter.of(labels={"team": "ml", "x": 1}, kind="Datasets", sort="key")
    assert f.label_values == {"team": "ml", "x": "1"} and f.kind == "dataset"
    assert not f.descending and f.sort_key == "key"
    assert ArtifactFilter.of(labels=["a=b=c", "d"]).label_values == {"a": "b=c"}
    assert "ISO date" in ArtifactFilter.help("since")


def test_every_surface_sorts_by_label_and_location_the_same(surfaces, env_repo):
    by_team = [v.key for v in env_repo.list(sort="-label:team")]
    assert by_team == ["churn", "notes", "hist"]  # ml, bi, then the unlabelled
    by_place = [v.key for v in env_repo.list(sort="location")]
    assert (
        by_place == [v.key for v in sorted(env_repo.list(), key=lambda v: v.target_path)]
        and len(by_place) == 3
    )
    client = TestClient(create_app(env_repo))
    for sort, keys in (("-label:team", by_team), ("location", by_place)):
        api = client.get(API, params={"sort": sort}).json()["items"]
        assert [v["key"] for v in api] == keys
        result = CliRunner().invoke(app, ["ls", "--json", "--sort", sort])
        assert [v["key"] for v in json.loads(result.stdout)] == keys, result.output
