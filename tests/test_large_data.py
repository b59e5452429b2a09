"""Large data streams: memory stays near the frame's own size, S3 uploads are multipart, and
long transfers report progress."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from prefect_artifacts import ArtifactContext, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Progress, Storage

pytestmark = pytest.mark.slow  # a 250 MB frame in a subprocess, a 120 MiB upload

ROOT = Path(__file__).resolve().parent.parent
ROWS = 6_000_000  # ~250 MB in memory: big enough to see copies, quick enough for CI


def probe(mode: str, store: Path) -> dict:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "memory_probe.py"), mode, str(ROWS), str(store)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(900)
def test_peak_memory_logging_and_loading_a_large_frame(tmp_path):
    logged = probe("log", tmp_path)
    frame_rss = logged["before"] - logged["base"]  # what the frame itself occupies
    assert frame_rss > 150e6
    ratio = (logged["peak"] - logged["base"]) / frame_rss
    assert ratio <= 1.5, f"logging peaked at {ratio:.2f}x the frame"
    loaded, bare = probe("load", tmp_path), probe("bare", tmp_path)
    ours, theirs = loaded["peak"] - loaded["base"], bare["peak"] - bare["base"]
    assert ours <= theirs * 1.1 + 20e6, (
        f"load {ours / 1e6:.0f} MB vs read_parquet {theirs / 1e6:.0f} MB"
    )


def test_s3_uploads_are_multipart(s3_storage, tmp_path, caplog):
    url, options = s3_storage
    repo = Repository(Storage.from_url(url, options), Catalog(f"sqlite:///{tmp_path / 'c.db'}"))
    source = tmp_path / "big.bin"
    with source.open("wb") as fh:  # 120 MiB: spooled to a local file, then a multipart upload
        for i in range(120):
            fh.write(bytes([i]) * (1 << 20))
    caplog.set_level(logging.INFO, logger="werkzeug")
    version = ArtifactContext(repo).log_artifact("big", local_path=source)
    requests = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    final = f"blobs/sha256/{version.hash[:2]}/{version.hash[2:]}"
    assert any("POST" in m and final in m and "uploads" in m for m in requests)  # initiated
    assert sum("PUT" in m and final in m and "partNumber=" in m for m in requests) >= 2
    assert not any("/tmp/" in m for m in requests)  # straight to the content address, no copy
    with version.open() as fh:
        assert fh.read(1 << 20) == bytes([0]) * (1 << 20)
    assert version.download(tmp_path / "back.bin").read_bytes() == source.read_bytes()


def test_long_transfers_report_progress(caplog, repo):
    caplog.set_level(logging.INFO, logger="prefect_artifacts.storage")
    progress = Progress("writing something", 100 << 20, every=0.0)
    progress.advance(50 << 20)
    assert "writing something: 52 MB of 105 MB" in caplog.text
    version = ArtifactContext(repo).log_artifact("k", b"x" * (3 << 20))
    target = version.download(repo.storage.root + "/../out.bin")
    assert target.stat().st_size == 3 << 20


def test_spooled_uploads_store_every_byte(s3_storage, tmp_path, monkeypatch):
    """Past the in-memory limit the spool is a local file; all of it must reach S3."""
    import numpy as np
    import pandas as pd

    from prefect_artifacts.core import storage as storage_module
    from prefect_artifacts.core.maintenance import verify

    monkeypatch.setattr(storage_module, "SPOOL_IN_MEMORY", 1000)
    url, options = s3_storage
    repo = Repository(Storage.from_url(url, options), Catalog(f"sqlite:///{tmp_path / 'c.db'}"))
    df = pd.DataFrame({"x": np.arange(5000.0), "s": [f"row {i}" for i in range(5000)]})
    version = ArtifactContext(repo).log_dataset("spooled", df)  # many small Parquet writes
    assert repo.storage.fs.size(repo.storage.blob_path(version.hash)) == version.size
    pd.testing.assert_frame_equal(version.load(), df)
    assert verify(repo).ok
