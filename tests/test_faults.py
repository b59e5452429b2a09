"""Faults: storage stopping mid-write, the catalog refusing or dropping connections, a process
killed between writing bytes and committing, a lost catalog. Nothing is lost and nothing is
half-visible."""

import hashlib
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from prefect_artifacts import (
    ArtifactContext,
    CatalogError,
    Repository,
    StorageError,
)
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.maintenance import gc, verify
from prefect_artifacts.core.storage import Storage

from . import children
from .tcp_proxy import TcpProxy

MB = 1 << 20


@pytest.mark.slow
def test_s3_stopping_mid_upload(tmp_path):
    import logging

    import s3fs
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    options = {
        "client_kwargs": {"endpoint_url": f"http://{host}:{port}"},
        "key": "k",
        "secret": "s",
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }
    s3fs.S3FileSystem(**options).call_s3("create_bucket", Bucket="faults")
    s3fs.S3FileSystem.clear_instance_cache()
    repo = Repository(
        Storage.from_url("s3://faults/store", options), Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    )
    source = tmp_path / "big.bin"  # 110 MiB: a multipart upload of three 50 MiB-or-less parts
    with source.open("wb") as fh:
        for i in range(110):
            fh.write(bytes([i]) * MB)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()

    class PullThePlug(logging.Handler):
        """Stops the S3 server as soon as the first part of the upload has arrived."""

        def emit(self, record: logging.LogRecord) -> None:
            if "partNumber=1&" in record.getMessage() and not stopped.is_set():
                stopped.set()
                threading.Thread(target=server.stop).start()

    stopped = threading.Event()
    plug = PullThePlug()
    logging.getLogger("werkzeug").addHandler(plug)
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    try:
        with pytest.raises(StorageError) as err:
            ArtifactContext(repo).log_artifact("big", local_path=source)
    finally:
        logging.getLogger("werkzeug").removeHandler(plug)
    assert stopped.is_set()
    assert f"s3://faults/store/blobs/sha256/{digest[:2]}/" in str(err.value)
    assert "retry" in str(err.value)
    assert repo.list() == []  # no catalog row
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)  # storage is back
    server.start()
    try:
        assert not repo.storage.blob_exists(digest)  # nothing half-written at the address
        version = ArtifactContext(repo).log_artifact("big", local_path=source)
        assert version.version == 1 and version.hash == digest and version.size == 110 * MB
        assert verify(repo).ok
    finally:
        server.stop()


@pytest.fixture
def proxied_pg(pg_url):
    url = sa.engine.make_url(pg_url)
    proxy = TcpProxy((url.host, url.port or 5432))
    proxy.start()
    yield proxy, url.set(port=proxy.port).render_as_string(hide_password=False), pg_url
    proxy.stop()


def context_on(root: Path, catalog_url: str, retry_seconds: float) -> ArtifactContext:
    """Logging into local storage under ``root`` and the catalog at ``catalog_url``."""
    return ArtifactContext(
        Repository(
            Storage.from_url(str(root / "store")),
            Catalog(catalog_url, retry_seconds=retry_seconds),
        )
    )


def visible_versions(pg_url: str) -> int:
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM artifact_versions")).scalar()
    engine.dispose()
    return count


def test_catalog_refused_then_back(proxied_pg, tmp_path):
    proxy, via_proxy, direct = proxied_pg
    ctx = context_on(tmp_path, via_proxy, retry_seconds=1.0)
    ctx.log_artifact("k", b"first")
    proxy.stop()  # refused
    with pytest.raises(CatalogError) as err:
        ctx.log_artifact("k", b"second")
    assert "PREFECT_ARTIFACTS_CATALOG_URL" in str(err.value) and "***" not in via_proxy
    assert visible_versions(direct) == 1  # no orphan version
    proxy.start()
    assert ctx.log_artifact("k", b"second").version == 2  # the next attempt succeeds
    orphans = gc(ctx.repository, grace=timedelta(0), dry_run=True).orphans
    assert orphans == []  # the failed attempt's bytes were reused by the successful one


def test_catalog_connections_dropped_and_retried(proxied_pg, tmp_path):
    proxy, via_proxy, direct = proxied_pg
    ctx = context_on(tmp_path, via_proxy, retry_seconds=20.0)
    ctx.log_artifact("k", b"warm the pool")
    proxy.drop()  # every pooled connection is now dead
    assert ctx.log_artifact("k", b"after a drop").version == 2
    proxy.stop()
    result: dict = {}

    def log_while_down() -> None:
        try:
            result["version"] = ctx.log_artifact("k", b"during the outage").version
        except Exception as exc:  # pragma: no cover - reported below
            result["error"] = exc

    writer = threading.Thread(target=log_while_down)
    writer.start()
    time.sleep(1.5)  # the writer is retrying against a refusing catalog
    proxy.start()
    writer.join(30)
    assert result == {"version": 3}
    assert visible_versions(direct) == 3
    assert [v.version for v in ctx.repository.versions("k")] == [3, 2, 1]


def test_process_killed_between_bytes_and_commit(tmp_path):
    store, db = tmp_path / "store", tmp_path / "catalog.db"
    payload = b"bytes whose version never commits"
    script = textwrap.dedent(f"""
        import os, signal
        from prefect_artifacts import ArtifactContext, Repository
        from prefect_artifacts.core.catalog import Catalog
        from prefect_artifacts.core.storage import Storage

        def die(*args, **kwargs):  # the process dies right before the catalog commit
            os.kill(os.getpid(), signal.SIGKILL)

        Catalog.commit = die
        repo = Repository(Storage.from_url({str(store)!r}), Catalog("sqlite:///{db}"))
        ArtifactContext(repo).log_artifact("crash", {payload!r})
    """)
    code, stderr = children.run(script)
    assert code == -9, stderr
    repo = Repository(Storage.from_url(str(store)), Catalog(f"sqlite:///{db}"))
    assert repo.list() == []  # no visible version
    digest = hashlib.sha256(payload).hexdigest()
    assert repo.storage.blob_exists(digest)  # the orphan bytes...
    assert gc(repo, grace=timedelta(0), dry_run=True).orphans == [digest]  # ...found by gc
    assert gc(repo, grace=timedelta(0)).removed == 1
    assert not repo.storage.blob_exists(digest)
    assert ArtifactContext(repo).log_artifact("crash", payload).version == 1


def test_tampered_bytes_are_refused_and_reported(repo):
    v = ArtifactContext(repo).log_model("m", body=b"weights", model_file="m.bin")
    repo.storage.fs.pipe_file(repo.storage.blob_path(v.hash), b"tampered")
    from prefect_artifacts import IntegrityError

    with pytest.raises(IntegrityError):
        v.load()
    problems = verify(repo).problems
    assert [(p.ref, p.what) for p in problems] == [("default/m:1", "corrupt")]
