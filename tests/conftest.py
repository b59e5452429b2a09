"""Shared fixtures: real services only (Prefect test server, PostgreSQL, moto S3 server)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Isolate Prefect and the default repository before anything imports Prefect.
_HOME = tempfile.mkdtemp(prefix="pa-tests-")
os.environ["PREFECT_HOME"] = _HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# The Prefect servers the tests start write events every half second, not every 5 s: a test
# waiting for an event waits for it to be delivered, not for the next flush.
os.environ.setdefault("PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL", "0.5")

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from prefect_artifacts import Repository  # noqa: E402
from prefect_artifacts.core.catalog import Catalog, schema  # noqa: E402
from prefect_artifacts.core.storage import Storage  # noqa: E402

PG_ADMIN_URL = os.environ.get("PA_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres")
# Property tests run a tenth of their examples (at least 20) by default;
# PA_HYPOTHESIS_PROFILE=thorough runs each at its full count (the nightly run).
HYPOTHESIS_PROFILE = os.environ.get("PA_HYPOTHESIS_PROFILE", "fast")
if HYPOTHESIS_PROFILE not in ("fast", "thorough"):
    raise ValueError(f"PA_HYPOTHESIS_PROFILE={HYPOTHESIS_PROFILE!r}: use 'fast' or 'thorough'")


def examples(thorough: int) -> int:
    """A property test's example count: ``thorough`` in the thorough profile, else a tenth."""
    return thorough if HYPOTHESIS_PROFILE == "thorough" else max(20, thorough // 10)


# The files that take minutes start first (run.sh keeps this order: --dist loadfile
# --no-loadscope-reorder), so that no worker ends the run alone on one of them; then the other
# files with slow tests, then the rest.
LONGEST_FIRST = (
    "test_distributed.py",
    "test_prefect_ui.py",
    "test_prefect_deployments.py",
    "test_bigdata_dask.py",
    "test_prefect_edge.py",
    "test_first_run.py",
)


@pytest.hookimpl(tryfirst=True)  # before -m selects on the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test on the Prefect test server is ``slow``; order the files longest first."""
    for item in items:
        if "prefect_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> int:
        if item.path.name in LONGEST_FIRST:
            return LONGEST_FIRST.index(item.path.name)
        return len(LONGEST_FIRST) + (item.path not in slow_files)

    items.sort(key=rank)  # stable: each file keeps its own order


SHARED_SERVER = "PA_TEST_PREFECT_API_URL"  # the run's one Prefect test server, for the workers
_SERVER = pytest.StashKey[object]()  # ...kept by the controller, which stops it


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist, the controller starts one Prefect test server (the harness's own
    ``SubprocessASGIServer``, on a temporary database) for every worker, without waiting for it:
    the workers wait until it answers when a test first needs it. The quick loop
    (``-m "not slow"``) needs none."""
    if hasattr(config, "workerinput") or SHARED_SERVER in os.environ:
        return
    if not config.getoption("numprocesses", None) or "not slow" in (config.option.markexpr or ""):
        return
    import socket
    import threading

    from prefect.server.api.server import SubprocessASGIServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = SubprocessASGIServer(port=port)
    threading.Thread(target=server.start, kwargs={"timeout": 300}, daemon=True).start()
    os.environ[SHARED_SERVER] = server.api_url
    config.stash[_SERVER] = server


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_SERVER, None)
    if server is not None:
        server.stop()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A real temporary Prefect server for the whole session: the run's shared one under xdist,
    else Prefect's test harness in this process."""
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    url = os.environ.get(SHARED_SERVER)
    if url is None:
        with prefect_test_harness(server_startup_timeout=120):
            yield
        return
    wait_until_healthy(url, 300)
    import prefect.context

    with contextlib.ExitStack() as stack:
        stack.enter_context(temporary_settings({PREFECT_API_URL: url}))
        # as the harness does, the global settings too: threads started without a settings
        # context (the process pool runner's event forwarder) would start a temporary server
        stack.enter_context(
            prefect.context._temporary_global_settings_context(
                prefect.context.get_settings_context()
            )
        )
        yield


def wait_until_healthy(api_url: str, seconds: float) -> None:
    """Wait for a Prefect server's ``/health`` to answer."""
    import time
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(f"{api_url}/health", timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the shared Prefect test server at {api_url} did not answer"
                ) from None
            time.sleep(0.25)


_TEMPLATE = Path(_HOME) / "template-catalog.db"


def fresh_sqlite(path: Path) -> str:
    """The URL of a new, empty SQLite catalog at ``path``: a copy of one migrated once per
    test process (a fresh catalog migrates every revision first)."""
    import shutil

    if not _TEMPLATE.exists():
        building = _TEMPLATE.with_suffix(".building")
        catalog = Catalog(f"sqlite:///{building}")
        catalog.versions_of("default", "nothing")  # migrated to the head revision
        catalog.dispose()
        building.rename(_TEMPLATE)
    shutil.copyfile(_TEMPLATE, path)
    return f"sqlite:///{path}"


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    """A fresh repository: local storage + SQLite catalog in a temporary folder (no Prefect
    UI registration: these tests run without a Prefect server)."""
    return Repository(
        Storage.from_url(str(tmp_path / "store")),
        Catalog(fresh_sqlite(tmp_path / "catalog.db")),
        owner="tester",
    )


@pytest.fixture
def env_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repository:
    """Point the settings (and so the module-level API) at a fresh repository."""
    monkeypatch.setenv("PREFECT_ARTIFACTS_STORAGE_URL", str(tmp_path / "store"))
    monkeypatch.setenv("PREFECT_ARTIFACTS_CATALOG_URL", fresh_sqlite(tmp_path / "catalog.db"))
    monkeypatch.setenv("PREFECT_ARTIFACTS_OWNER", "tester")
    from prefect_artifacts import get_repository

    return get_repository()


@pytest.fixture(params=["local+sqlite", "s3+postgres"])
def store(request, tmp_path: Path) -> Iterator[Repository]:
    """A repository on local storage + SQLite, then on moto S3 + PostgreSQL."""
    if request.param == "s3+postgres":
        url, options = request.getfixturevalue("s3_storage")
        storage = Storage.from_url(url, options)
        catalog = Catalog(request.getfixturevalue("pg_url"))
    else:
        storage = Storage.from_url(str(tmp_path / "store"))
        catalog = Catalog(fresh_sqlite(tmp_path / "catalog.db"))
    yield Repository(storage, catalog, owner="tester")
    catalog.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh database on this machine's PostgreSQL server, dropped at the end."""
    import sqlalchemy as sa

    name = f"pa_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """The session database, emptied for each test."""
    import sqlalchemy as sa

    engine = sa.create_engine(pg_database)
    if not empty_if_current(engine):
        drop_catalog(engine)
    engine.dispose()
    yield pg_database


def empty_if_current(engine) -> bool:
    """Delete every row of a catalog at the head revision with exactly the head's tables (as
    good as a fresh catalog, without migrating again); False for anything else."""
    import sqlalchemy as sa

    from prefect_artifacts.core.catalog import migrate

    tables = set(sa.inspect(engine).get_table_names())
    if tables != set(schema.metadata.tables) | {migrate.VERSION_TABLE}:
        return False
    with engine.begin() as conn:
        revision = conn.execute(sa.text(f"SELECT version_num FROM {migrate.VERSION_TABLE}"))
        if revision.all() != [(migrate.head(),)]:
            return False
        names = ", ".join(f'"{name}"' for name in schema.metadata.tables)
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return True


def drop_tables_after(engine, revision: str) -> None:
    """Drop the tables and indexes that migrations after ``revision`` created (to fake an
    older catalog)."""
    import tempfile

    import sqlalchemy as sa

    from prefect_artifacts.core.catalog import migrate
    from prefect_artifacts.core.catalog.database import Database

    with tempfile.TemporaryDirectory() as folder:  # what the migrations build up to revision
        db = Database(f"sqlite:///{folder}/catalog.db")
        migrate.upgrade(db, revision)
        inspector = sa.inspect(db.engine)
        then = set(inspector.get_table_names())
        indexes = {i["name"] for t in then for i in inspector.get_indexes(t)}
        db.engine.dispose()
    later = sa.MetaData()
    later.reflect(engine, only=sorted(set(sa.inspect(engine).get_table_names()) - then))
    later.drop_all(engine)
    inspector = sa.inspect(engine)
    newer = [  # named indexes only (SQLite and PostgreSQL name a constraint's index apart)
        i["name"]
        for t in then
        for i in inspector.get_indexes(t)
        if i["name"].startswith("ix_") and i["name"] not in indexes
    ]
    with engine.begin() as conn:
        for name in newer:
            conn.execute(sa.text(f'DROP INDEX "{name}"'))


def drop_catalog(engine) -> None:
    """Drop every table of a catalog (schema revision included): the catalog is gone."""
    import sqlalchemy as sa

    metadata = sa.MetaData()
    metadata.reflect(engine)
    metadata.drop_all(engine)


def snapshot(catalog: Catalog) -> dict[str, list[tuple]]:
    """Every catalog table, row by row, with row ids replaced by what they name."""
    with catalog.engine.connect() as conn:
        names = {
            r.id: (r.project, r.key, r.version)
            for r in conn.execute(
                sa.select(
                    schema.versions_t.c.id,
                    schema.versions_t.c.project,
                    schema.versions_t.c.key,
                    schema.versions_t.c.version,
                )
            )
        }

        def rows(table, drop=("id",)):
            out = []
            for row in conn.execute(sa.select(table)):
                record = dict(row._mapping)
                for name in drop:
                    record.pop(name, None)
                for ref in ("version_id", "latest_id"):
                    if ref in record:
                        record[ref] = names.get(record[ref])
                out.append(tuple(sorted((k, repr(v)) for k, v in record.items())))
            return sorted(out)

        return {
            "versions": rows(schema.versions_t),
            "tags": rows(schema.tags_t),
            "labels": rows(schema.labels_t),
            "extras": rows(schema.extras_t),
            "lineage": rows(schema.lineage_t),
            "revisions": rows(schema.revisions_t),
            "keys": rows(schema.keys_t, drop=("id", "created_at")),
            "blobs": rows(schema.blobs_t, drop=("created_at",)),
            "parts": rows(schema.parts_t),
        }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on loopback (real HTTP), as s3fs's own tests use."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_storage(s3_server: str) -> tuple[str, dict]:
    """A fresh bucket; returns (storage URL, storage options)."""
    import s3fs

    options = {"client_kwargs": {"endpoint_url": s3_server}, "key": "testing", "secret": "testing"}
    bucket = f"pa-{uuid.uuid4().hex[:12]}"
    fs = s3fs.S3FileSystem(**options)
    fs.call_s3("create_bucket", Bucket=bucket)
    s3fs.S3FileSystem.clear_instance_cache()
    return f"s3://{bucket}/artifacts", options


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright, one per test module (Playwright's sync
    API keeps an event loop set on the thread while it runs: not across other modules)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextlib.contextmanager
def browser_page(
    browser, url: str | None = None, *, width: int = 1280, height: int = 900, **options: Any
) -> Iterator[Any]:
    """A page ``width`` × ``height`` in a fresh browser context (``options``: ``viewport``,
    ``color_scheme``, …), opened at ``url`` when given; the context is closed afterwards."""
    context = browser.new_context(**{"viewport": {"width": width, "height": height}, **options})
    try:
        page = context.new_page()
        if url is not None:
            page.goto(url)
        yield page
    finally:
        context.close()


def local_repository(root: Path, **settings: Any) -> Repository:
    """A repository of local storage and a SQLite catalog under ``root``, owned by "tester",
    with these settings (``signing_key``, ``trust_pickles``, …)."""
    from prefect_artifacts.core.settings import ArtifactSettings

    return Repository(
        Storage.from_url(str(root / "store")),
        Catalog(f"sqlite:///{root / 'c.db'}"),
        owner="tester",
        settings=ArtifactSettings(owner="tester", **settings),
    )
