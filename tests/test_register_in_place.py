"""Registering bytes that already live in storage (MLRun's target_path + upload=False) on S3
(moto's server): referenced, hashed while streaming, pinned by ETag and size, never copied;
a changed object is refused on every read and reported by verify; reindex keeps the reference."""

import io
import pickle

import pandas as pd
import pytest
import s3fs

import prefect_artifacts as pa
from prefect_artifacts import ArtifactContext, IntegrityError, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.maintenance import reindex, verify
from prefect_artifacts.core.storage import Storage
from tests.conftest import drop_catalog


@pytest.fixture
def s3(s3_storage, tmp_path):
    url, options = s3_storage
    repo = Repository(
        Storage.from_url(url, options), Catalog(f"sqlite:///{tmp_path / 'c.db'}"), owner="t"
    )
    bucket = url.split("/")[2]
    return repo, s3fs.S3FileSystem(**options), bucket


def parquet_bytes(df):
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    return buffer.getvalue()


def blob_files(fs, repo):
    return [p for p in fs.find(repo.storage.root + "/blobs")]


def test_dataset_registered_in_place_is_read_not_copied(s3):
    repo, fs, bucket = s3
    df = pd.DataFrame({"user": [1, 2, 3], "amount": [9.5, 3.0, 7.25]})
    fs.pipe(f"{bucket}/raw/events.parquet", parquet_bytes(df))
    ctx = ArtifactContext(repo)
    url = f"s3://{bucket}/raw/events.parquet"
    v = ctx.log_dataset("events", target_path=url, upload=False, tag="raw")
    assert v.rows == 3 and [c["name"] for c in v.schema] == ["user", "amount"]
    assert v.preview[0] == {"user": 1, "amount": 9.5} and "amount" in v.stats
    assert v.target_path == url and v.url == url and v.source["etag"]
    assert v.source["size"] == v.size == fs.info(f"{bucket}/raw/events.parquet")["size"]
    assert not repo.storage.blob_exists(v.hash) and blob_files(fs, repo) == []  # no copy
    assert v.as_df().equals(df) and v.get() == fs.cat(f"{bucket}/raw/events.parquet")
    again = ctx.log_dataset("events", target_path=url, upload=False)
    assert again.version == 1  # the same object: the same version
    assert verify(repo).ok
    fs.pipe(f"{bucket}/models/m.pkl", pickle.dumps({"w": 2}))
    model = ctx.log_model("clf", target_path=f"s3://{bucket}/models/m.pkl", upload=False)
    assert model.format == "pkl" and model.load(trusted=True) == {"w": 2}
    repo.delete("clf")
    assert fs.exists(f"{bucket}/models/m.pkl")  # never ours to delete


def test_a_changed_object_is_refused_and_reported(s3):
    repo, fs, bucket = s3
    path = f"{bucket}/raw/data.csv"
    fs.pipe(path, b"a,b\n1,2\n")
    v = ArtifactContext(repo).log_dataset("data", target_path=f"s3://{path}", upload=False)
    assert v.format == "csv" and v.as_df()["b"].tolist() == [2]
    fs.pipe(path, b"a,b\n1,3\n")  # same size, other bytes: the ETag changes
    with pytest.raises(IntegrityError, match=r"changed since it was registered \(etag"):
        repo.get("data").as_df()
    with pytest.raises(IntegrityError, match="changed since it was registered"):
        repo.get("data").get()
    report = verify(repo)
    assert [(p.ref, p.what) for p in report.problems] == [("default/data:1", "changed at source")]
    assert report.problems[0].target_path == f"s3://{path}"  # where the bytes live, not blobs/
    fs.rm(path)
    with pytest.raises(IntegrityError, match="is gone"):
        repo.get("data").get()
    with pytest.raises(pa.InvalidArgumentError, match="does not exist"):
        ArtifactContext(repo).log_dataset("gone", target_path=f"s3://{path}", upload=False)


def test_reindex_keeps_the_reference(s3, tmp_path):
    repo, fs, bucket = s3
    fs.pipe(f"{bucket}/raw/notes.txt", b"registered notes")
    ctx = ArtifactContext(repo)
    ctx.log_artifact("notes", target_path=f"s3://{bucket}/raw/notes.txt", upload=False)
    ctx.log_artifact("copied", b"copied bytes")
    drop_catalog(repo.catalog.engine)
    lost = Repository(repo.storage, Catalog(f"sqlite:///{tmp_path / 'c.db'}"), owner="t")
    assert reindex(lost).versions_restored == 2
    v = lost.get("notes")
    assert v.source and v.get() == b"registered notes" and verify(lost).ok


def test_verify_names_a_local_registered_file_where_it_lives(env_repo, tmp_path):
    source = tmp_path / "notes.bin"
    source.write_bytes(b"registered")
    v = pa.log_artifact("notes", target_path=str(source), upload=False)
    assert v.get() == b"registered"
    source.write_bytes(b"REGISTERED")
    (problem,) = verify(env_repo).problems
    assert problem.ref == "default/notes:1" and problem.target_path == f"file://{source}"
