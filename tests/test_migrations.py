"""Schema revisions: catalogs made by release 0.1 (no revision recorded) open and upgrade with
every row intact, on SQLite and PostgreSQL; concurrent openers upgrade once; auto-upgrade off
fails with the command to run; the migrations build exactly the current schema.

The fixtures under ``fixtures/release-0.1`` were made by release 0.1's own code (a dump of its
catalog on each database, and its storage)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from prefect_artifacts import ArtifactContext, MigrationRequiredError, Repository
from prefect_artifacts.cli import app
from prefect_artifacts.core.catalog import Catalog, migrate
from prefect_artifacts.core.catalog.schema import metadata
from prefect_artifacts.core.maintenance import verify
from prefect_artifacts.core.storage import Storage
from tests import children
from tests.conftest import PG_ADMIN_URL

FIXTURE = Path(__file__).parent / "fixtures" / "release-0.1"
TABLES = [
    "artifact_keys",
    "artifact_versions",
    "artifact_tags",
    "artifact_labels",
    "artifact_extras",
    "artifact_lineage",
    "artifact_blobs",
]


def legacy_sqlite(tmp_path: Path) -> str:
    path = tmp_path / "catalog.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURE / "catalog.sqlite.sql").read_text())
    return f"sqlite:///{path}"


@pytest.fixture
def legacy_pg():
    name = f"pa_legacy_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name)
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", url.host, "-p", str(url.port or 5432),
         "-U", url.username, "-d", name, "-f", str(FIXTURE / "catalog.postgresql.sql")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def legacy(request, tmp_path):
    """(catalog URL, storage folder) of a release-0.1 repository."""
    if request.param == "sqlite":
        url, store = legacy_sqlite(tmp_path), "store"
    else:
        url, store = request.getfixturevalue("legacy_pg"), "store-pg"
    shutil.copytree(FIXTURE / store, tmp_path / "store")
    return url, str(tmp_path / "store")


def rows(url: str, like: dict | None = None) -> dict[str, list[tuple]]:
    """Every row of TABLES, with its columns' names (``like``: only the columns an earlier
    ``rows()`` saw, so columns that migrations add do not count as changed rows)."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        out: dict = {}
        for table in TABLES:
            columns = [c["name"] for c in sa.inspect(conn).get_columns(table) if c["name"] != "seq"]
            if like is not None:
                columns = [c for c in columns if c in like[f"{table} columns"]]
            out[f"{table} columns"] = columns
            query = sa.text(f"SELECT {', '.join(columns)} FROM {table}")
            out[table] = sorted(tuple(map(repr, row)) for row in conn.execute(query))
    engine.dispose()
    return out


def test_a_release_0_1_catalog_upgrades_with_every_row_intact(legacy):
    url, store = legacy
    before = rows(url)
    assert len(before["artifact_versions"]) == 7 and before["artifact_lineage"]
    repo = Repository(Storage.from_url(store), Catalog(url))
    assert repo.catalog.revision() == (migrate.FIRST, migrate.head())
    events = repo.get("events@prod")  # opening upgrades
    assert repo.catalog.revision() == (migrate.head(), migrate.head())
    assert rows(url, before) == before  # every version, tag, label, extra, lineage, blob row
    assert events.version == 1 and events.load()["x"].tolist() == [1, 2, 3]
    assert repo.get("events@golden").version == 1 and repo.get("events:2").labels == {
        "team": "ml",
        "reviewed": "yes",
    }
    model = repo.get("churn-model:1")
    assert model.metrics == {"auc": 0.81} and model.extra_data["notes"].read() == b"n"
    assert [r.flow_run_name for r in events.consumers()] == ["calm-fox"]
    assert [r.task_run_name for r in events.producers()] == ["clean-0"]
    assert repo.get("research/notes@v1").load() == "hello"
    assert verify(repo).ok
    assert ArtifactContext(repo).log_artifact("temp", b"t3").version == 3  # numbers go on
    repo.catalog.dispose()


def test_auto_upgrade_off_names_the_command_and_the_cli_upgrades(tmp_path, monkeypatch):
    url = legacy_sqlite(tmp_path)
    with pytest.raises(MigrationRequiredError, match="prefect-artifacts db upgrade"):
        Catalog(url, auto_upgrade=False).find("default", "events")
    monkeypatch.setenv("PREFECT_ARTIFACTS_CATALOG_URL", url)
    monkeypatch.setenv("PREFECT_ARTIFACTS_STORAGE_URL", str(tmp_path / "store"))
    monkeypatch.setenv("PREFECT_ARTIFACTS_CATALOG_AUTO_UPGRADE", "false")
    runner = CliRunner()
    ls = runner.invoke(app, ["ls"])
    assert ls.exit_code == 5 and "prefect-artifacts db upgrade" in ls.output
    current = runner.invoke(app, ["db", "current"])
    assert current.exit_code == 0 and f"revision {migrate.FIRST}" in current.output
    assert "needs `prefect-artifacts db upgrade`" in current.output
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"from revision {migrate.FIRST} to {migrate.head()}" in upgraded.output
    assert (
        runner.invoke(app, ["db", "upgrade"])
        .output.strip()
        .endswith(f"already at revision {migrate.head()}")
    )
    assert "events" in runner.invoke(app, ["ls"]).output


def test_a_catalog_from_a_newer_release_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    catalog = Catalog(url)
    catalog.projects()  # creates it at the head revision
    with catalog.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = 'f00d'"))
    with pytest.raises(MigrationRequiredError, match="newer release"):
        Catalog(url).projects()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_migrations_build_exactly_the_current_schema(dialect, tmp_path, request):
    url = (
        request.getfixturevalue("pg_url")
        if dialect == "postgresql"
        else f"sqlite:///{tmp_path}/c.db"
    )
    catalog = Catalog(url)
    catalog.projects()  # a new catalog: every migration from the first
    with catalog.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if d[0] != "remove_table"] == []  # the revision table is extra
    assert {d[1].name for d in diff} <= {migrate.VERSION_TABLE}
    catalog.dispose()


def _open_and_count(url: str, results, barrier) -> None:
    catalog = Catalog(url)
    barrier.wait(60)  # every process imported and ready: open at the same moment
    try:
        results.put(len(catalog.versions_of("default", "events")))
    except Exception as exc:  # reported to the parent
        results.put(repr(exc))
    finally:
        catalog.dispose()


@pytest.mark.slow
def test_concurrent_openers_of_an_old_catalog_upgrade_it_once(legacy):
    url, _ = legacy
    before = rows(url)
    context = children.context()
    results, barrier = context.Queue(), context.Barrier(4)
    workers = [
        context.Process(target=_open_and_count, args=(url, results, barrier)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [results.get(timeout=5) for _ in workers] == [2, 2, 2, 2]
    assert rows(url, before) == before
    assert Catalog(url).revision() == (migrate.head(), migrate.head())
