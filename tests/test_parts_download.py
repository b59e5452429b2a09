"""Downloading a multi-part dataset gives its data as one Parquet file (Python, CLI, HTTP with
HEAD / Range / ETag), or a folder of its part files — on local + SQLite and S3 + PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from prefect_artifacts import IntegrityError, Repository
from prefect_artifacts.cli import app
from prefect_artifacts.web import create_app
from tests.test_bigdata import PART, chunks

API = "/api/projects/default/artifacts"


def cli_env(repo: Repository) -> dict[str, str]:
    env = {
        "PREFECT_ARTIFACTS_STORAGE_URL": repo.storage.url,
        "PREFECT_ARTIFACTS_CATALOG_URL": repo.catalog.url,
    }
    options = getattr(repo.storage.fs, "storage_options", None)
    if not repo.storage.local and options:
        env["PREFECT_ARTIFACTS_STORAGE_OPTIONS"] = json.dumps(options)
    return env


def test_download_writes_one_parquet_file_equal_to_load(store, tmp_path):
    v = store.log("events", chunks(), options={"part_size": PART})
    assert v.part_count > 3
    expected = v.load()
    path = v.download(f"{tmp_path}/out/")
    assert path == tmp_path / "out" / "events-v1.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(path), expected)
    meta = pq.read_metadata(path)
    assert meta.num_rows == len(expected) and meta.num_row_groups >= v.part_count
    assert [p.name for p in path.parent.iterdir()] == ["events-v1.parquet"]  # no temp left
    # a named file, and the raw parts as a folder
    named = v.download(tmp_path / "named.parquet")
    assert named.read_bytes() == path.read_bytes()
    folder = v.download(tmp_path, parts=True)
    assert folder == tmp_path / "events-v1-parts"
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == [f"part-{i:05d}.parquet" for i in range(v.part_count)]
    assert [hashlib.sha256(f.read_bytes()).hexdigest() for f in files] == [p.hash for p in v.parts]
    pd.testing.assert_frame_equal(
        pd.concat([pd.read_parquet(f) for f in files], ignore_index=True), expected
    )


def test_cli_download_gives_the_parquet_file(store, tmp_path):
    v = store.log("events", chunks(6), options={"part_size": PART})
    result = CliRunner().invoke(app, ["download", "events", f"{tmp_path}/"], env=cli_env(store))
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "events-v1.parquet"), v.load())
    result = CliRunner().invoke(
        app, ["download", "events", f"{tmp_path}/", "--parts"], env=cli_env(store)
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "events-v1-parts").iterdir())) == v.part_count


def test_http_download_serves_the_parquet_file_with_ranges(store, tmp_path):
    v = store.log("events", chunks(), options={"part_size": PART})
    client = TestClient(create_app(store))
    url = f"{API}/events/versions/1/download"
    head = client.head(url)
    assert head.status_code == 200
    assert 'filename="events-v1.parquet"' in head.headers["content-disposition"]
    whole = client.get(url)
    assert whole.status_code == 200 and whole.headers["etag"] == head.headers["etag"]
    assert int(head.headers["content-length"]) == len(whole.content)
    digest = hashlib.sha256(whole.content).hexdigest()
    assert whole.headers["etag"] == f'"sha256-{digest}"'
    (tmp_path / "got.parquet").write_bytes(whole.content)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "got.parquet"), v.load())
    # resuming: a byte range of the same file, and If-None-Match
    ranged = client.get(url, headers={"Range": "bytes=100-199", "If-Range": whole.headers["etag"]})
    assert ranged.status_code == 206 and ranged.content == whole.content[100:200]
    tail = client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == whole.content[-50:]
    again = client.get(url, headers={"If-None-Match": whole.headers["etag"]})
    assert again.status_code == 304


def test_download_of_a_corrupt_part_fails_and_leaves_no_file(repo, tmp_path):
    v = repo.log("events", chunks(), options={"part_size": PART})
    path = Path(repo.storage.blob_path(v.parts[2].hash))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="corrupt"):
        v.download(f"{tmp_path}/out/")
    assert list((tmp_path / "out").iterdir()) == []  # no partial or final file


def test_download_hashes_every_part_whatever_the_record_says(repo, tmp_path):
    v = repo.log("events", chunks(), options={"part_size": PART})
    v.load()  # the parts are trusted: a load hashes nothing
    before = repo.storage.verified.hashes
    v.download(tmp_path)
    assert repo.storage.verified.hashes - before == v.part_count
