"""Large local files reach S3 from where they are: hashed once, uploaded in concurrent multipart
parts without a spooled copy, and remembered by the ETag S3 answers, so the writer's first load
does not hash them again. A file that changes while it is uploaded is refused."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from prefect_artifacts import ArtifactContext, Repository, StorageError
from prefect_artifacts.core import storage as storage_module
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.settings import ArtifactSettings
from prefect_artifacts.core.storage import Storage

MiB = 1 << 20


class NoSpool:
    """Stands in for the spool: any use fails the test."""

    def __init__(self, *args, **kwargs) -> None:
        raise AssertionError("a large local file was copied into a spool")


@pytest.fixture
def small_parts(monkeypatch):
    """Files over 1 MiB count as large, and S3 multipart parts are 5 MiB (S3's minimum), so a
    12 MiB file is a real 3-part upload without hundreds of megabytes."""
    import s3fs.core

    monkeypatch.setattr(storage_module, "SPOOL_IN_MEMORY", MiB)
    monkeypatch.setattr(storage_module, "Spool", NoSpool)
    monkeypatch.setattr(s3fs.core, "calculate_chunksize", lambda size, chunksize=None: 5 * MiB)


def s3_repo(s3_storage, tmp_path: Path, state: str = "state.db") -> Repository:
    url, options = s3_storage
    return Repository(
        Storage.from_url(url, options, verified_state=tmp_path / state),
        Catalog(f"sqlite:///{tmp_path / 'catalog.db'}"),
        settings=ArtifactSettings(owner="tester"),
    )


def big_file(tmp_path: Path, size: int = 12 * MiB) -> Path:
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(size))
    return path


def test_large_file_is_uploaded_in_parts_from_where_it_is(s3_storage, tmp_path, small_parts):
    repo = s3_repo(s3_storage, tmp_path)
    source = big_file(tmp_path)
    data = source.read_bytes()
    version = ArtifactContext(repo).log_artifact("weights", local_path=source)
    assert version.hash == hashlib.sha256(data).hexdigest()
    assert version.size == len(data)
    path = repo.storage.blob_path(version.hash)
    etag = repo.storage.fs.info(path)["ETag"]
    assert etag.strip('"').endswith("-3"), etag  # a multipart upload of three parts
    assert repo.storage.fs.cat_file(path) == data
    assert repo.get("weights").load() == data
    assert repo.storage.verified.hashes == 0  # remembered by the ETag its upload answered
    fresh = s3_repo(s3_storage, tmp_path, "fresh.db")  # another machine's record
    assert fresh.get("weights").load() == data
    assert fresh.storage.verified.hashes == 1


def test_model_file_is_uploaded_from_where_it_is(s3_storage, tmp_path, small_parts):
    repo = s3_repo(s3_storage, tmp_path)
    source = big_file(tmp_path, 3 * MiB)
    model = ArtifactContext(repo).log_model(
        "m", model_file=str(source), metrics={"accuracy": 0.9}, extra_data={"weights": source}
    )
    assert repo.storage.fs.cat_file(repo.storage.blob_path(model.hash)) == source.read_bytes()
    assert model.extra_data["weights"].read() == source.read_bytes()
    assert model.model_file == "weights.bin"


def test_file_changed_during_its_upload_is_refused_and_removed(s3_storage, tmp_path, small_parts):
    repo = s3_repo(s3_storage, tmp_path)
    source = big_file(tmp_path, 2 * MiB)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    fs = repo.storage.fs
    put_file = fs.put_file

    def put_then_append(lpath, rpath, **kwargs):  # the producer was still writing it
        put_file(lpath, rpath, **kwargs)
        with open(lpath, "ab") as handle:
            handle.write(b"more")

    fs.put_file = put_then_append
    try:
        with pytest.raises(StorageError, match="changed while it was being logged"):
            ArtifactContext(repo).log_artifact("growing", local_path=source)
    finally:
        del fs.put_file
    assert not fs.exists(repo.storage.blob_path(digest))
    assert repo.list() == []
    version = ArtifactContext(repo).log_artifact("growing", local_path=source)  # complete now
    assert version.load() == source.read_bytes()
