"""The same behaviour on every storage × catalog pairing: S3 (moto server over HTTP, through
s3fs) and local files; PostgreSQL (this machine's server) and SQLite."""

import hashlib
import pickle
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from prefect_artifacts import ArtifactContext, IntegrityError, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Storage


@pytest.fixture(params=["s3+sqlite", "local+postgres", "s3+postgres"])
def backend(request, tmp_path) -> Repository:
    storage_kind, catalog_kind = request.param.split("+")
    if storage_kind == "s3":
        url, options = request.getfixturevalue("s3_storage")
        storage = Storage.from_url(url, options)
    else:
        storage = Storage.from_url(str(tmp_path / "store"))
    if catalog_kind == "postgres":
        catalog = Catalog(request.getfixturevalue("pg_url"))
    else:
        catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield Repository(storage, catalog, owner="tester")
    catalog.dispose()


def test_dataset_round_trip(backend):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=5000), "s": rng.choice(["a", "b"], 5000)})
    v = ArtifactContext(backend).log_dataset("events", df, labels={"team": "ml"})
    assert v.version == 1 and v.rows == 5000
    assert v.target_path.startswith(backend.storage.fs.unstrip_protocol(backend.storage.root))
    raw = backend.storage.fs.cat_file(backend.storage.blob_path(v.hash))
    assert hashlib.sha256(raw).hexdigest() == v.hash and len(raw) == v.size
    pd.testing.assert_frame_equal(backend.get("events").load(), df)
    manifest = backend.storage.read_json(backend.storage.manifest_path("default", "events", 1))
    assert manifest["hash"] == v.hash and manifest["labels"] == {"team": "ml"}


def test_versions_tags_dedup_and_delete(backend):
    ctx = ArtifactContext(backend)
    assert ctx.log_artifact("k", b"one").version == 1
    assert ctx.log_artifact("k", b"two").version == 2
    assert ctx.log_artifact("k", b"two").version == 2
    assert ctx.log_artifact("other", b"two").hash == backend.get("k").hash
    backend.tag("k:1", "prod")
    backend.tag("k:2", "prod")
    assert backend.get("k@prod").version == 2 and backend.get("k:1").tags == []
    backend.delete("k:1")
    assert not backend.storage.blob_exists(hashlib.sha256(b"one").hexdigest())
    backend.delete("k")
    assert backend.storage.blob_exists(hashlib.sha256(b"two").hexdigest())  # "other" uses it
    assert ctx.log_artifact("k", b"three").version == 3


def test_model_with_extra_data(backend, tmp_path):
    ctx = ArtifactContext(backend)
    plot = ctx.log_plot("confusion", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    m = ctx.log_model(
        "my_model",
        body=pickle.dumps([1, 2]),
        model_file="my_model.pkl",
        metrics={"accuracy": 0.9},
        extra_data={"confusion": plot.target_path, "notes": b"n"},
    )
    loaded = backend.get("my_model")
    assert loaded.load() == [1, 2] and loaded.metrics == {"accuracy": 0.9}
    assert loaded.extra_data["confusion"].artifact == "default/confusion:1"
    assert loaded.extra_data["notes"].read() == b"n"
    out = m.download(tmp_path / "m.pkl")
    assert pickle.loads(out.read_bytes()) == [1, 2]


def test_list_filters(backend):
    ctx = ArtifactContext(backend)
    ctx.log_artifact("a", b"1", labels={"team": "ml"})
    ctx.log_artifact("b", b"2", labels={"team": "bi"})
    ctx.log_dataset("c", pd.DataFrame({"x": [1]}), labels={"team": "ml"})
    assert [v.key for v in backend.list(labels={"team": "ml"})] == ["c", "a"]
    assert [v.key for v in backend.list(kind="dataset")] == ["c"]
    assert [v.key for v in backend.list(key="[ab]")] == ["b", "a"]
    future = datetime.now(UTC) + timedelta(minutes=5)
    assert backend.list(since=future) == []
    assert len(backend.list(until=future)) == 3
    assert backend.count(labels={"team": "ml"}) == 2


def test_tampered_bytes_are_refused(backend):
    v = ArtifactContext(backend).log_model("m", body=pickle.dumps("ok"), model_file="m.pkl")
    backend.storage.fs.pipe_file(backend.storage.blob_path(v.hash), pickle.dumps("evil"))
    with pytest.raises(IntegrityError):
        v.load()
