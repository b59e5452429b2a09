"""Every tag move is kept: pa.tag_history(key, tag), CLI `tags --history`, the key's page, and
reindex rebuilds it from the journal."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import prefect_artifacts as pa
from prefect_artifacts import ArtifactContext, Repository
from prefect_artifacts.cli import app
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Storage
from prefect_artifacts.web import create_app


def _moves():
    pa.log_model("churn", body=b"1", tag="prod")  # tagged when logged
    pa.log_model("churn", body=b"2")
    pa.log_model("churn", body=b"3")
    pa.tag_artifact("churn:2", "prod")
    pa.tag_artifact("churn:2", "prod")  # already there: no new period
    pa.untag_artifact("churn@prod")
    pa.tag_artifact("churn:3", "prod")
    pa.tag_artifact("churn:3", "staging")


def test_every_move_is_a_period_oldest_first(env_repo):
    _moves()
    history = pa.tag_history("churn", "prod")
    assert [h["version"] for h in history] == [1, 2, 3]
    assert set(history[0]) == {"version", "since", "until", "by", "run"}
    assert history[0]["until"] == history[1]["since"]  # moved from 1 to 2 at once
    assert history[1]["until"] < history[2]["since"]  # untagged in between
    assert history[2]["until"] is None and all(h["by"] == "tester" for h in history)
    assert [h["version"] for h in pa.tag_history("churn", "staging")] == [3]
    assert pa.tag_history("churn", "never") == []
    with pytest.raises(pa.InvalidKeyError):
        pa.tag_history("churn", "bad tag")


def test_deleting_the_tagged_version_ends_its_period(env_repo):
    _moves()
    pa.delete_artifact("churn:3")
    assert pa.tag_history("churn", "prod")[-1]["until"] is not None
    assert pa.tag_history("churn", "staging")[0]["until"] is not None


def test_cli_tags_and_history(env_repo):
    _moves()
    runner = CliRunner()
    tags = runner.invoke(app, ["tags", "churn", "--json"])
    assert json.loads(tags.output) == {"prod": 3, "staging": 3}
    history = runner.invoke(app, ["tags", "churn", "--history", "prod", "--json"])
    assert [h["version"] for h in json.loads(history.output)] == [1, 2, 3]
    table = runner.invoke(app, ["tags", "churn", "--history", "prod"]).output
    assert "now" in table and "tester" in table
    none = runner.invoke(app, ["tags", "churn", "--history", "gone"])
    assert none.exit_code == 0 and "never had the tag gone" in none.output


def test_the_key_page_shows_the_history(env_repo):
    _moves()
    page = TestClient(create_app(env_repo)).get("/projects/default/artifacts/churn").text
    assert 'id="tag-history"' in page
    table = page.split('id="tag-history"')[1].split("</table>")[0]
    assert table.count("<tr>") == 5 and "staging" in table  # header + 4 periods


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_reindex_rebuilds_the_history_from_the_journal(tmp_path: Path, request, backend):
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    storage = Storage.from_url(str(tmp_path / "store"))
    repo = Repository(storage, Catalog(url or f"sqlite:///{tmp_path / 'a.db'}"), owner="ops")
    ctx = ArtifactContext(repo)
    ctx.log_model("m", body=b"1", tag="prod")
    ctx.log_model("m", body=b"2")
    repo.tag("m:2", "prod")
    repo.untag("m@prod")
    repo.tag("m:1", "prod")
    before = repo.catalog.tag_history("default", "m", "prod")
    fresh = Repository(storage, Catalog(f"sqlite:///{tmp_path / 'b.db'}"))
    pa.reindex(repository=fresh)
    assert fresh.catalog.tag_history("default", "m", "prod") == before
    pa.reindex(repository=fresh)  # again: nothing doubled
    assert len(fresh.catalog.tag_history("default", "m", "prod")) == 3
