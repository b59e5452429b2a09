"""Several processes logging one key at once: no lost, duplicate or skipped versions."""

import pytest

from prefect_artifacts import Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Storage

from . import children

pytestmark = pytest.mark.slow  # pools of forked processes

WORKERS, LOGS = 4, 8  # 32 logs of one key from 4 processes at once: enough to race


def _worker(args):
    storage_url, options, catalog_url, worker = args
    repo = Repository(Storage.from_url(storage_url, options), Catalog(catalog_url))
    from prefect_artifacts import ArtifactContext

    ctx = ArtifactContext(repo)
    made = []
    for i in range(LOGS):
        shared = ctx.log_artifact("shared", f"worker {worker} log {i}".encode())
        ctx.log_artifact(f"own-{worker}", f"{worker}/{i}".encode())
        ctx.log_artifact("same-bytes", b"identical for everyone")
        made.append(shared.version)
    repo.catalog.dispose()
    return made


def _run(storage_url, options, catalog_url):
    with children.context().Pool(WORKERS) as pool:
        results = pool.map(
            _worker, [(storage_url, options, catalog_url, w) for w in range(WORKERS)]
        )
    repo = Repository(Storage.from_url(storage_url, options), Catalog(catalog_url))
    versions = repo.versions("shared")
    numbers = sorted(v.version for v in versions)
    assert numbers == list(range(1, WORKERS * LOGS + 1))  # no gaps, no duplicates
    assert sorted(n for r in results for n in r) == numbers  # every log got its own version
    contents = sorted(v.load() for v in versions)  # every one loads, hash verified
    expected = sorted(f"worker {w} log {i}".encode() for w in range(WORKERS) for i in range(LOGS))
    assert contents == expected
    for w in range(WORKERS):
        assert [v.version for v in repo.versions(f"own-{w}")] == list(range(LOGS, 0, -1))
    assert [v.version for v in repo.versions("same-bytes")] == [1]  # identical content: one
    repo.catalog.dispose()


@pytest.mark.timeout(300)
def test_processes_on_sqlite(tmp_path):
    _run(str(tmp_path / "store"), {}, f"sqlite:///{tmp_path / 'catalog.db'}")


@pytest.mark.timeout(300)
def test_processes_on_postgres_and_s3(pg_url, s3_storage):
    url, options = s3_storage
    _run(url, options, pg_url)
