"""A repository has an identity: ``repository.json`` in storage and the same id in the catalog.

Two catalogs on one storage are refused (local files, moto S3, PostgreSQL vs SQLite) until one
adopts the storage on purpose; manifests and journal entries are never overwritten, and
reindex reports conflicting ones; an unpickled version goes back to its own repository; a
deleted SQLite catalog is rebuilt and running processes reopen it; catalogs of the previous
release adopt an id on their own.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from prefect_artifacts import ArtifactContext, Repository, RepositoryMismatchError
from prefect_artifacts.cli import app
from prefect_artifacts.core import layout
from prefect_artifacts.core.catalog import Catalog, migrate
from prefect_artifacts.core.maintenance import reindex
from prefect_artifacts.core.settings import ArtifactSettings
from prefect_artifacts.core.storage import Storage
from tests.conftest import drop_tables_after
from tests.test_migrations import legacy, legacy_pg  # noqa: F401 - fixtures

ROOT = Path(__file__).parent.parent
MESSAGE = [
    "writing would mix two repositories",
    "PREFECT_ARTIFACTS_CATALOG_URL",
    "prefect-artifacts reindex --adopt",
    "another storage prefix",
]


def machine(tmp_path: Path, name: str, storage: tuple[str, dict], catalog: str | None) -> dict:
    """The environment of another machine: its own PREFECT_HOME; ``catalog=None`` leaves the
    catalog URL unset (the default SQLite file in that home)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_ARTIFACTS_")}
    env["PREFECT_HOME"] = str(tmp_path / name)
    env["PREFECT_ARTIFACTS_STORAGE_URL"] = storage[0]
    env["PREFECT_ARTIFACTS_STORAGE_OPTIONS"] = json.dumps(storage[1])
    env["PREFECT_ARTIFACTS_OWNER"] = name
    if catalog is not None:
        env["PREFECT_ARTIFACTS_CATALOG_URL"] = catalog
    return env


def python(env: dict, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "prefect_artifacts.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


@pytest.fixture(params=["local", "s3", "s3+postgres"])
def shared(request, tmp_path):
    """(machine A's repository, the storage (URL, options) machine B points at too)."""
    if request.param == "local":
        storage = (str(tmp_path / "store"), {})
    else:
        storage = request.getfixturevalue("s3_storage")
    catalog = (
        request.getfixturevalue("pg_url")
        if request.param == "s3+postgres"
        else f"sqlite:///{tmp_path / 'a.db'}"
    )
    repo = Repository(Storage.from_url(*storage), Catalog(catalog), owner="a")
    yield repo, storage
    repo.catalog.dispose()


@pytest.mark.slow
def test_a_second_catalog_on_the_storage_is_refused_until_it_adopts(shared, tmp_path):
    repo, storage = shared
    ctx = ArtifactContext(repo)
    assert ctx.log_artifact("shared", b"from A").version == 1
    assert ctx.log_artifact("shared", b"from A again").version == 2
    ctx.log_artifact("other", b"x", tag="prod")
    env = machine(tmp_path, "b", storage, catalog=None)  # forgot the catalog URL

    refused = python(env, "import prefect_artifacts as pa; pa.log_artifact('shared', b'from B')")
    assert refused.returncode != 0
    assert "RepositoryMismatchError" in refused.stderr
    assert f"already holds repository {repo.repository_id}" in refused.stderr
    assert all(part in refused.stderr for part in MESSAGE), refused.stderr
    if storage[0].startswith("s3://"):  # an object store with this machine's own SQLite file
        assert "is an object store that other machines can share" in refused.stderr
    assert repo.get("shared").load() == b"from A again"  # nothing of B's reached storage
    assert len(repo.storage.find(layout.MANIFESTS)) == 3

    adopted = cli(env, "reindex", "--adopt")
    assert adopted.returncode == 0, adopted.stderr
    assert f"took the storage's repository id {repo.repository_id}" in adopted.stdout
    assert "restored 3 versions" in adopted.stdout
    b = Catalog(f"sqlite:///{tmp_path / 'b' / 'artifacts' / 'catalog.db'}")
    assert [r.version for r in b.versions_of("default", "shared")] == [2, 1]
    assert b.find("default", "other", tag="prod") is not None
    assert b.identity() == (repo.repository_id, True)
    b.dispose()
    logged = python(env, "import prefect_artifacts as pa; print(pa.log_artifact('b', b'B').ref)")
    assert logged.returncode == 0 and "default/b:1" in logged.stdout, logged.stderr


def test_a_catalog_of_another_repository_names_both_ids_and_reads_with_a_warning(tmp_path, caplog):
    store = str(tmp_path / "store")
    a = Repository(Storage.from_url(store), Catalog(f"sqlite:///{tmp_path / 'a.db'}"))
    ArtifactContext(a).log_artifact("k", b"a")
    other = Repository(Storage.from_url(str(tmp_path / "other")), Catalog(f"sqlite:///{tmp_path / 'b.db'}"))  # fmt: skip
    ArtifactContext(other).log_artifact("k", b"b")
    b = Repository(Storage.from_url(store), Catalog(f"sqlite:///{tmp_path / 'b.db'}"))
    with caplog.at_level(logging.WARNING, logger="prefect_artifacts"):
        assert b.get("k").version == 1  # reads proceed...
        b.list()
    assert caplog.text.count("reading only") == 1  # ...with one warning
    for write in (
        lambda: ArtifactContext(b).log_artifact("k", b"c"),
        lambda: b.tag("k:1", "prod"),
        lambda: b.set_labels("k:1", {"x": "1"}),
        lambda: b.delete("k"),
        lambda: reindex(b),
    ):
        with pytest.raises(RepositoryMismatchError) as refused:
            write()
        text = str(refused.value)
        assert a.repository_id in text and other.repository_id in text
        assert str(tmp_path / "b.db") in text and store in text
        assert all(part in text for part in MESSAGE)
    assert a.versions("k")[0].version == 1 and len(a.storage.find(layout.MANIFESTS)) == 1


def test_the_binding_is_checked_once_per_process(tmp_path):
    repo = Repository(Storage.from_url(str(tmp_path / "s")), Catalog(f"sqlite:///{tmp_path / 'c.db'}"))  # fmt: skip
    reads = []
    real = repo.storage.read_json
    repo.storage.read_json = lambda path: reads.append(path) or real(path)
    ctx = ArtifactContext(repo)
    for n in range(5):
        ctx.log_artifact("k", f"v{n}".encode(), tag="t")
        repo.set_labels("k", {"n": str(n)})
    document = repo.storage.path(layout.REPOSITORY)
    assert 1 <= reads.count(document) <= 3  # the first use and the first write, never again
    assert len(repo.storage.find(layout.WRITERS)) == 1


def test_manifests_and_journal_entries_are_never_overwritten(tmp_path, request):
    """Two catalogs that both took one id (an adoption while the other kept writing) log the
    same key:version: both manifests stay, and reindex reports them instead of picking one."""
    store = str(tmp_path / "store")
    a = Repository(Storage.from_url(store), Catalog(f"sqlite:///{tmp_path / 'a.db'}"))
    ArtifactContext(a).log_artifact("shared", b"1")
    b = Repository(Storage.from_url(store), Catalog(f"sqlite:///{tmp_path / 'b.db'}"))
    assert reindex(b).adopted_from == ""  # an empty catalog takes the storage's id
    va = ArtifactContext(a).log_artifact("shared", b"A2")
    vb = ArtifactContext(b).log_artifact("shared", b"B2")
    assert va.version == vb.version == 2 and va.uid != vb.uid
    paths = a.storage.manifests_of("default", "shared", 2)
    assert sorted(json.loads(Path(p).read_text())["hash"] for p in paths) == sorted(
        [va.hash, vb.hash]
    )
    fresh = Repository(Storage.from_url(store), Catalog(f"sqlite:///{tmp_path / 'c.db'}"))
    report = reindex(fresh)
    assert report.conflicting == {"default/shared:2": paths}
    assert [v.version for v in fresh.versions("shared")] == [1]  # neither v2 is picked
    result = CliRunner().invoke(
        app,
        ["reindex"],
        env={
            "PREFECT_ARTIFACTS_STORAGE_URL": store,
            "PREFECT_ARTIFACTS_CATALOG_URL": f"sqlite:///{tmp_path / 'c.db'}",
        },
    )
    assert "conflict default/shared:2: 2 manifests" in result.output, result.output
    with pytest.raises(FileExistsError):  # the storage itself refuses to replace one
        a.storage.create_json(paths[0], {"manifest": 1, "uid": "forged"})
    assert a.storage.create_json(paths[0], json.loads(Path(paths[0]).read_text())) is False


@pytest.mark.parametrize("conditional", [True, False])
def test_object_store_documents_are_created_once(s3_storage, conditional):
    storage = Storage.from_url(*s3_storage)
    if not conditional:  # an endpoint without If-None-Match: write, then read back
        storage.conditional_puts = False
    path = storage.path("journal/default/x.json")
    assert storage.create_json(path, {"op": "tag", "n": 1}) is True
    assert storage.conditional_puts is conditional
    assert storage.create_json(path, {"op": "tag", "n": 1}) is False
    with pytest.raises(FileExistsError):
        storage.create_json(path, {"op": "tag", "n": 2})
    assert storage.read_json(path) == {"op": "tag", "n": 1}


def test_reindex_reads_manifests_of_the_old_layout(tmp_path):
    """Storage written before manifests were named by uid (release 0.1's) is rebuilt."""
    import shutil

    shutil.copytree(ROOT / "tests" / "fixtures" / "release-0.1" / "store", tmp_path / "store")
    old = sorted(p.name for p in (tmp_path / "store" / "manifests").rglob("*.json"))
    assert old and all(layout.manifest_number(n) is not None and "-" not in n for n in old)
    repo = Repository(Storage.from_url(str(tmp_path / "store")), Catalog(f"sqlite:///{tmp_path / 'c.db'}"))  # fmt: skip
    report = reindex(repo)
    assert report.versions_restored == 7 and report.conflicting == {} and not report.skipped
    assert repo.get("events@prod").version == 1
    assert ArtifactContext(repo).log_artifact("events", b"new").version == 3
    assert (tmp_path / "store" / layout.REPOSITORY).is_file()


SCRIPT_UNPICKLE = """
import pickle, sys
import prefect_artifacts as pa
from prefect_artifacts.core.models import RunInfo
from prefect_artifacts.core.runs import set_run_provider

set_run_provider(lambda: RunInfo(flow_run_id="run-on-b", flow_name="worker"))
print("default", pa.get_repository().repository_id)
try:
    print("loaded", pickle.load(open(sys.argv[1], "rb")).load())
except pa.RepositoryMismatchError as exc:
    print("refused", exc)
"""


@pytest.mark.slow
def test_an_unpickled_version_goes_back_to_its_own_repository(tmp_path):
    a = Repository(Storage.from_url(str(tmp_path / "a")), Catalog(f"sqlite:///{tmp_path / 'a.db'}"))  # fmt: skip
    b = Repository(Storage.from_url(str(tmp_path / "b")), Catalog(f"sqlite:///{tmp_path / 'b.db'}"))  # fmt: skip
    version = ArtifactContext(a).log_artifact("same", b"A's bytes")
    ArtifactContext(b).log_artifact("same", b"B's bytes")  # same key and number in B
    assert version.repository_id == a.repository_id != b.repository_id
    (tmp_path / "v.pkl").write_bytes(pickle.dumps(version))
    lost = pickle.loads(pickle.dumps(version))
    lost._home = {**lost._home, "storage_url": str(tmp_path / "gone"),
                  "catalog_url": f"sqlite:///{tmp_path / 'gone.db'}"}  # fmt: skip
    (tmp_path / "lost.pkl").write_bytes(pickle.dumps(lost))
    assert "secret" not in json.dumps(version._repository().home())
    env = machine(tmp_path, "worker", (str(tmp_path / "b"), {}), f"sqlite:///{tmp_path / 'b.db'}")
    env["PREFECT_ARTIFACTS_REGISTRATION"] = "off"  # its run is made up: no Prefect server to tell
    children = [  # the two other processes side by side
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT_UNPICKLE, str(tmp_path / name)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("v.pkl", "lost.pkl")
    ]
    outputs = [c.communicate(timeout=300) for c in children]
    done, lost = (
        subprocess.CompletedProcess(c.args, c.returncode, *out)
        for c, out in zip(children, outputs, strict=True)
    )
    assert done.returncode == 0, done.stderr
    assert f"default {b.repository_id}" in done.stdout
    assert 'loaded b"A\'s bytes"' in done.stdout
    assert [r.flow_run_id for r in a.get("same:1").consumers()] == ["run-on-b"]  # A's catalog
    assert b.get("same:1").consumers() == []
    assert lost.returncode == 0, lost.stderr  # neither its own nor the default: refused
    refused = lost.stdout.split("refused ", 1)[1]
    assert f"belongs to repository {a.repository_id}" in refused
    assert f"{tmp_path / 'b'} is repository {b.repository_id}" in refused


@pytest.mark.slow
def test_a_deleted_sqlite_catalog_is_rebuilt_and_running_processes_reopen_it(tmp_path):
    """Delete only catalog.db (its -wal and -shm stay) while this process holds connections;
    `prefect-artifacts reindex` in another process rebuilds it; this process reads it."""
    db = tmp_path / "catalog.db"
    repo = Repository(Storage.from_url(str(tmp_path / "store")), Catalog(f"sqlite:///{db}"))
    ctx = ArtifactContext(repo)
    ctx.log_artifact("k", b"1")
    ctx.log_artifact("k", b"2", tag="prod")
    assert repo.get("k@prod").version == 2  # connections open, the WAL in use
    assert Path(f"{db}-wal").exists() and Path(f"{db}-shm").exists()
    db.unlink()
    env = machine(tmp_path, "ops", (str(tmp_path / "store"), {}), f"sqlite:///{db}")
    rebuilt = cli(env, "reindex")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "restored 2 versions, 1 tags" in rebuilt.stdout
    assert "catalog.db-wal and catalog.db-shm" in rebuilt.stderr  # removed, and said so
    assert repo.get("k@prod").load() == b"2"  # the running process reads the rebuilt catalog
    assert [v.version for v in repo.versions("k")] == [2, 1]
    assert ctx.log_artifact("k", b"3").version == 3
    assert cli(env, "verify", "--all").returncode == 0


def _previous_release(repo: Repository) -> None:
    """Turn a repository into one the previous release (schema 0006) made: no id anywhere."""
    drop_tables_after(repo.catalog.engine, "0006")
    with repo.catalog.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '0006'"))
    Path(repo.storage.path(layout.REPOSITORY)).unlink()
    for path in repo.storage.find(layout.WRITERS):
        Path(path).unlink()
    repo.catalog.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_previous_release_catalog_adopts_an_id_on_upgrade(dialect, tmp_path, request):
    url = request.getfixturevalue("pg_url") if dialect == "postgresql" else f"sqlite:///{tmp_path / 'c.db'}"  # fmt: skip
    store = str(tmp_path / "store")
    old = Repository(Storage.from_url(store), Catalog(url))
    ArtifactContext(old).log_artifact("k", b"old")
    _previous_release(old)
    repo = Repository(Storage.from_url(store), Catalog(url))
    assert repo.catalog.revision()[0] == "0006"
    version = repo.get("k")  # opening upgrades: migration 0007 stamps an id
    stamped = repo.catalog.identity()[0]
    assert stamped and uuid.UUID(stamped) and version.repository_id == stamped
    assert ArtifactContext(repo).log_artifact("k", b"new").version == 2  # no manual step
    document = json.loads(Path(store, layout.REPOSITORY).read_text())
    assert document["id"] == stamped == repo.repository_id
    repo.catalog.dispose()


def test_a_release_0_1_catalog_adopts_an_id(legacy):  # noqa: F811
    url, store = legacy
    repo = Repository(Storage.from_url(store), Catalog(url))
    assert repo.get("events@prod").version == 1
    assert ArtifactContext(repo).log_artifact("temp", b"t").version == 3
    assert repo.repository_id == repo.catalog.identity()[0]
    assert json.loads(Path(store, layout.REPOSITORY).read_text())["id"] == repo.repository_id
    repo.catalog.dispose()


def test_an_object_store_with_the_default_sqlite_catalog_warns_once(
    s3_storage, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PREFECT_ARTIFACTS_CATALOG_URL", raising=False)
    settings = ArtifactSettings(storage_url=s3_storage[0], storage_options=s3_storage[1])
    repo = Repository.from_settings(settings)
    with caplog.at_level(logging.WARNING, logger="prefect_artifacts"):
        ArtifactContext(repo).log_artifact("k", b"x")
        repo.list()
        Repository.from_settings(settings).list()
    assert caplog.text.count("is an object store that other machines can share") == 1
    assert "PREFECT_ARTIFACTS_CATALOG_URL" in caplog.text
    pg = Repository.from_settings(settings.model_copy(update={"catalog_url": f"sqlite:///{tmp_path / 'x.db'}"}))  # fmt: skip
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="prefect_artifacts"):
        pg.list()
    assert "object store" not in caplog.text  # a catalog chosen on purpose


@pytest.mark.slow
def test_init_info_and_the_ui_footer_show_the_id(tmp_path):
    env = {
        "PREFECT_ARTIFACTS_STORAGE_URL": str(tmp_path / "store"),
        "PREFECT_ARTIFACTS_CATALOG_URL": f"sqlite:///{tmp_path / 'c.db'}",
    }
    runner = CliRunner()
    before = runner.invoke(app, ["info"], env=env)
    assert before.exit_code == 0 and "none yet" in before.output
    init = runner.invoke(app, ["init", "--json"], env=env)
    assert init.exit_code == 0, init.output
    rid = json.loads(init.output)["repository_id"]
    assert runner.invoke(app, ["init"], env=env).output.startswith(f"repository {rid}")
    info = runner.invoke(app, ["info"], env=env)
    assert info.exit_code == 0, info.output
    assert f"repository {rid}" in info.output and "schema     revision" in info.output
    assert "writers    1 machines, 1 catalogs" in info.output
    report = json.loads(runner.invoke(app, ["info", "--json"], env=env).output)
    assert report["schema_revision"] == migrate.head() and report["catalogs"] == 1
    other = {**env, "PREFECT_ARTIFACTS_CATALOG_URL": f"sqlite:///{tmp_path / 'other.db'}"}
    runner.invoke(app, ["init"], env={**other, "PREFECT_ARTIFACTS_STORAGE_URL": str(tmp_path / "s2")})  # fmt: skip
    mismatch = runner.invoke(app, ["info"], env=other)
    assert mismatch.exit_code == 5 and rid in mismatch.output and "--adopt" in mismatch.output
    from prefect_artifacts.web.app import create_app

    repo = Repository(Storage.from_url(str(tmp_path / "store")), Catalog(env["PREFECT_ARTIFACTS_CATALOG_URL"]))  # fmt: skip
    page = TestClient(create_app(repo)).get("/projects")
    assert page.status_code == 200 and f"repository <code>{rid}</code>" in page.text
