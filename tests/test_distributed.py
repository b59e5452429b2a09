"""One shared repository used by many worker processes at once, through Prefect's task
runners: Dask (a local cluster of worker processes) and Prefect's process pool. Every version
lands exactly once, numbered without gaps or duplicates, and loads with its hash verified."""

import os

import pytest
from prefect import flow
from prefect.task_runners import ProcessPoolTaskRunner

import prefect_artifacts as pa

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(600)]
TASKS = 8  # per key kind: 16 futures on 2 processes, enough to race every write


@pa.artifact_task(key="shared-key")
def to_shared(i: int) -> bytes:
    return f"payload {i} from pid {os.getpid()}".encode()


@pa.artifact_task(key="own-{parameters[i]}")
def to_own(i: int) -> dict:
    return {"i": i, "pid": os.getpid()}


def run_on(runner) -> set[int]:
    @flow(task_runner=runner)
    def fan_out() -> None:
        futures = [*to_shared.map(range(TASKS)), *to_own.map(range(TASKS))]
        for future in futures:
            future.result()

    fan_out()
    assert temporary_servers() == set()  # everything went to the test's own Prefect server
    repo = pa.get_repository()
    versions = repo.versions("shared-key")
    assert sorted(v.version for v in versions) == list(range(1, TASKS + 1))  # no gap, no dup
    payloads = sorted(v.load() for v in versions)  # every one loads, sha256 verified
    assert len(set(payloads)) == TASKS
    assert sorted(int(p.split()[1]) for p in payloads) == list(range(TASKS))
    for i in range(TASKS):
        assert [v.version for v in repo.versions(f"own-{i}")] == [1]
        assert repo.get(f"own-{i}").load()["i"] == i
    return {int(p.split()[-1]) for p in payloads}  # the worker processes that logged


def temporary_servers() -> set[str]:
    """The Prefect servers this process started other than the one the test uses (the process
    pool's event forwarder starts one when only the test's own context knows the API URL)."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    running = {s.api_url for s in SubprocessASGIServer._instances.values() if s.running}
    return running - {PREFECT_API_URL.value()}


@pytest.fixture
def shared_repo(pg_url, s3_storage, monkeypatch):
    """S3 (moto over HTTP, custom endpoint_url) + PostgreSQL, configured through the
    environment so worker processes pick it up."""
    import json

    url, options = s3_storage
    monkeypatch.setenv("PREFECT_ARTIFACTS_STORAGE_URL", url)
    monkeypatch.setenv("PREFECT_ARTIFACTS_STORAGE_OPTIONS", json.dumps(options))
    monkeypatch.setenv("PREFECT_ARTIFACTS_CATALOG_URL", pg_url)
    monkeypatch.setenv("PREFECT_ARTIFACTS_REGISTRATION", "off")
    _export_prefect_api(monkeypatch)


def _export_prefect_api(monkeypatch):
    from prefect.settings import PREFECT_API_URL

    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())


def test_dask_cluster_on_s3_and_postgres(shared_repo):
    from prefect_dask import DaskTaskRunner  # here: the process pool's children import this module

    runner = DaskTaskRunner(
        cluster_kwargs={
            "n_workers": 2,
            "threads_per_worker": 2,
            "processes": True,
            "dashboard_address": None,
        }
    )
    pids = run_on(runner)
    assert os.getpid() not in pids and len(pids) >= 2  # really several worker processes


def test_process_pool_on_s3_and_postgres(shared_repo):
    pids = run_on(ProcessPoolTaskRunner(max_workers=2))
    assert os.getpid() not in pids and len(pids) >= 2


def test_process_pool_on_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_ARTIFACTS_STORAGE_URL", str(tmp_path / "store"))
    monkeypatch.setenv("PREFECT_ARTIFACTS_CATALOG_URL", f"sqlite:///{tmp_path / 'catalog.db'}")
    monkeypatch.setenv("PREFECT_ARTIFACTS_REGISTRATION", "off")
    _export_prefect_api(monkeypatch)
    pids = run_on(ProcessPoolTaskRunner(max_workers=2))
    assert len(pids) >= 2
