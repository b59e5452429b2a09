"""Every CLI command through typer's test runner against a real repository."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefect_artifacts.cli import app

from .web_data import populate

runner = CliRunner()


@pytest.fixture
def data(env_repo):
    return populate(env_repo, pause=0.6)


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def test_every_command_has_help():
    for command in ("ls", "show", "download", "tag", "untag", "rm", "lineage", "diff", "ui"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output, command
    assert run("--help").exit_code == 0


def test_ls_table_json_and_filters(data):
    table = run("ls")
    assert table.exit_code == 0 and "events" in table.output and "churn" in table.output
    rows = json.loads(run("ls", "--json").stdout)
    assert [r["key"] for r in rows] == ["config", "churn", "histogram", "events", "evil", "notes"]
    only = lambda *a: [r["key"] for r in json.loads(run("ls", "--json", *a).stdout)]  # noqa: E731
    assert only("--kind", "dataset") == ["events"]
    assert only("--label", "team=bi") == ["notes"]
    assert only("--label", "team=ml", "--label", "source") == ["events"]
    assert only("--key", "c*") == ["config", "churn"]
    assert only("--since", data["mark"].isoformat()) == ["config", "churn", "histogram", "events"]
    assert only("--until", data["mark"].isoformat()) == ["evil", "notes"]
    assert only("--tag", "prod") == ["events"]
    assert len(only("--all-versions")) == 8
    assert len(only("--limit", "2")) == 2
    assert only("--project", "*") and only("--since", "1h")


def test_show(data):
    text = run("show", "churn")
    assert text.exit_code == 0
    for expected in ("default/churn:2", "metric auc", "0.75", "extra", "confusion", "location"):
        assert expected in text.output
    record = json.loads(run("show", "events:1", "--json").stdout)
    assert record["version"] == 1 and record["rows"] == 500 and record["tags"] == ["prod"]


def test_download_file_folder_and_extra(data, tmp_path):
    out = run("download", "events:2", str(tmp_path / "e.parquet"))
    assert out.exit_code == 0
    saved = Path(out.stdout.strip())
    assert saved == tmp_path / "e.parquet"
    assert (
        saved.read_bytes()
        == Path(data["events_v2"].target_path.removeprefix("file://")).read_bytes()
    )
    into = run("download", "events@prod", str(tmp_path))
    assert Path(into.stdout.strip()) == tmp_path / "events-v1.parquet"
    extra = run("download", "churn", str(tmp_path), "--extra", "readme")
    assert Path(extra.stdout.strip()).read_bytes() == b"read me"
    assert Path(extra.stdout.strip()).name == "churn-v2-readme"  # key-vN-name, as the UI
    missing = run("download", "churn", str(tmp_path), "--extra", "nope")
    assert missing.exit_code == 3 and "no extra data 'nope'" in missing.stderr


def test_tag_untag_and_rm(data, env_repo):
    assert run("tag", "events:2", "prod").exit_code == 0
    assert env_repo.get("events@prod").version == 2
    assert run("untag", "events@prod").exit_code == 0
    assert run("untag", "events", "prod").exit_code == 3
    no_tag = run("untag", "events")
    assert no_tag.exit_code == 2 and "prefect-artifacts untag events prod" in no_tag.stderr
    declined = run("rm", "notes", input="n\n")
    assert declined.exit_code == 1 and env_repo.get("notes").version == 1
    accepted = run("rm", "notes", input="y\n")
    assert accepted.exit_code == 0 and "deleted notes" in accepted.stdout
    assert run("rm", "config:1", "--yes").exit_code == 0
    assert run("show", "config").exit_code == 3


def test_lineage_and_diff(data):
    assert run("lineage", "events").exit_code == 0
    graph = json.loads(run("lineage", "events", "--direction", "down", "--json").stdout)
    assert graph["root"] == "default/events:2"
    text = run("diff", "events:1", "events:2")
    assert text.exit_code == 0 and "visits: added" in text.stdout and "mean" in text.stdout
    body = json.loads(run("diff", "churn:1", "churn:2", "--json").stdout)
    assert {m["name"] for m in body["metrics"]} == {"auc", "accuracy"}


def test_exit_codes_scripts_can_rely_on(data, env_repo, monkeypatch):
    not_found = run("show", "missing")
    assert not_found.exit_code == 3 and "not found" in not_found.stderr
    invalid = run("show", "../etc")
    assert invalid.exit_code == 2 and "invalid artifact reference" in invalid.stderr
    assert run("ls", "--since", "someday").exit_code == 2
    assert run("lineage", "events", "--direction", "sideways").exit_code == 2
    path = Path(data["plot"].target_path.removeprefix("file://"))
    path.write_bytes(b"tampered")
    corrupt = run("download", "histogram", str(path.parent.parent / "out.png"))
    assert corrupt.exit_code == 4 and "corrupt" in corrupt.stderr
    monkeypatch.setenv("PREFECT_ARTIFACTS_CATALOG_URL", "postgresql://x@127.0.0.1:1/none")
    monkeypatch.setenv("PREFECT_ARTIFACTS_CATALOG_RETRY_SECONDS", "0.2")
    down = run("ls")
    assert down.exit_code == 5 and "PREFECT_ARTIFACTS_CATALOG_URL" in down.stderr
