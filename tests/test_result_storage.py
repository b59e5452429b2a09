"""Persisted Prefect results of an @artifact_task refer to the artifact version instead of
storing a second (pickled) copy of the frame; a cached run loads it through the read path."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.filesystems import LocalFileSystem

import prefect_artifacts as pa
from prefect_artifacts import IntegrityError
from prefect_artifacts.prefect.results import ArtifactResultSerializer, remember

pytestmark = pytest.mark.usefixtures("prefect_server")


def frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(n)
    return pd.DataFrame({"x": rng.normal(size=n), "s": rng.choice(["a", "b", "c"], n)})


def stored(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_cached_result_is_a_reference_and_loads_verified(env_repo, tmp_path: Path) -> None:
    ours_dir, plain_dir = tmp_path / "ours", tmp_path / "plain"
    calls: list[int] = []
    suffix = uuid.uuid4().hex[:8]
    ours_store = LocalFileSystem(basepath=str(ours_dir))
    ours_store.save(f"ours-{suffix}")
    plain_store = LocalFileSystem(basepath=str(plain_dir))
    plain_store.save(f"plain-{suffix}")

    @pa.artifact_task(
        key="cached-frame",
        cache_policy=INPUTS,
        persist_result=True,
        cache_result_in_memory=False,  # a cached run reads the record back from storage
        result_storage=ours_store,
    )
    def make(n: int) -> pd.DataFrame:
        calls.append(n)
        return frame(n)

    @task(
        cache_policy=INPUTS,
        persist_result=True,
        result_storage=plain_store,
    )
    def plain(n: int) -> pd.DataFrame:
        return frame(n)

    @flow
    def run(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        return make(n), plain(n)

    first, _ = run(50_000)
    second, _ = run(50_000)  # from the cache: the task does not run again
    assert calls == [50_000]
    pd.testing.assert_frame_equal(first, frame(50_000))
    pd.testing.assert_frame_equal(second, frame(50_000))
    assert len(env_repo.versions("cached-frame")) == 1
    version = env_repo.get("cached-frame")
    # the result record holds a reference, the plain task a pickle of the frame
    assert stored(ours_dir) < 4_000 < version.size < stored(plain_dir)
    (record_file,) = [p for p in ours_dir.rglob("*") if p.is_file()]
    record = json.loads(record_file.read_bytes())
    assert record["metadata"]["serializer"]["type"] == "prefect-artifacts"
    pickled = base64.b64decode(record["result"])
    assert version.hash.encode() in pickled and b"cached-frame" in pickled

    # a damaged blob is found when the cached result is read back...
    path = Path(env_repo.storage.blob_path(version.hash))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        ArtifactResultSerializer().loads(record["result"].encode())
    # so a cached run does not return it: Prefect counts the failed read as a cache miss
    third, _ = run(50_000)
    assert calls == [50_000, 50_000]
    pd.testing.assert_frame_equal(third, frame(50_000))
    # ...and the rerun's log of identical content replaced the damaged bytes
    pd.testing.assert_frame_equal(env_repo.get("cached-frame").load(verify=True), frame(50_000))
    assert len(env_repo.versions("cached-frame")) == 1


def test_serializer_round_trips_containers_and_plain_values(env_repo) -> None:
    df = frame(1_000)
    version = env_repo.log("k", df)
    remember(df, version)
    serializer = ArtifactResultSerializer()
    blob = serializer.dumps({"frame": df, "n": 3, "same": (df, df)})
    assert len(blob) < 1_000
    back = serializer.loads(blob)
    pd.testing.assert_frame_equal(back["frame"], df)
    assert back["n"] == 3 and back["same"][0] is back["same"][1]
    other = frame(10)  # not logged: pickled as usual
    pd.testing.assert_frame_equal(serializer.loads(serializer.dumps(other)), other)


def test_only_persisting_tasks_get_the_serializer(env_repo) -> None:
    @pa.artifact_task(key="plain")
    def plain() -> pd.DataFrame:
        return frame(10)

    @pa.artifact_task(key="persisted", persist_result=True)
    def persisted() -> pd.DataFrame:
        return frame(10)

    @pa.artifact_task(key="cached", cache_policy=INPUTS)
    def cached() -> pd.DataFrame:
        return frame(10)

    @pa.artifact_task(key="off", persist_result=False)
    def off() -> pd.DataFrame:
        return frame(10)

    assert plain.result_serializer is None and plain.persist_result is None  # untouched
    assert off.result_serializer is None
    assert isinstance(persisted.result_serializer, ArtifactResultSerializer)
    assert isinstance(cached.result_serializer, ArtifactResultSerializer)


@dataclass
class Weights:
    """A model object of the user's own class (pickled)."""

    values: np.ndarray

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Weights) and np.array_equal(self.values, other.values)


def records(folder: Path) -> list[bytes]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return [base64.b64decode(json.loads(p.read_bytes())["result"]) for p in files]


def test_cached_models_bytes_and_text_are_references(env_repo, tmp_path: Path, monkeypatch) -> None:
    """Not only datasets: a pickled model, bytes and text load back equal, so their cached
    results are references too — loaded without trust_pickles (the record pins the sha256)."""
    monkeypatch.setenv("PREFECT_ARTIFACTS_TRUST_PICKLES", "false")
    assert not pa.get_repository().settings.trust_pickles
    suffix = uuid.uuid4().hex[:8]
    store = LocalFileSystem(basepath=str(tmp_path / "records"))
    store.save(f"records-{suffix}")
    calls: list[str] = []
    cached = {
        "cache_policy": INPUTS + TASK_SOURCE,  # INPUTS alone: one key for all three tasks
        "persist_result": True,
        "cache_result_in_memory": False,
        "result_storage": store,
    }

    @pa.artifact_task(key="cached-model", **cached)
    def train(n: int) -> pa.Model:
        calls.append("model")
        return pa.Model(model=Weights(np.arange(float(n))), metrics={"accuracy": 0.9})

    @pa.artifact_task(key="cached-bytes", **cached)
    def blob(n: int) -> bytes:
        calls.append("bytes")
        return np.random.default_rng(n).bytes(n)

    @pa.artifact_task(key="cached-text", **cached)
    def report(n: int) -> str:
        calls.append("text")
        return "row\n" * n

    @flow
    def run(n: int) -> tuple[Weights, bytes, str]:
        return train(n), blob(n), report(n)

    first = run(50_000)
    second = run(50_000)  # from the cache
    assert calls == ["model", "bytes", "text"]
    assert second == first
    assert second == (
        Weights(np.arange(50_000.0)),
        np.random.default_rng(50_000).bytes(50_000),
        "row\n" * 50_000,
    )
    assert env_repo.get("cached-model").size > 100_000
    written = records(tmp_path / "records")
    assert len(written) == 3 and all(len(r) < 1_000 for r in written)
    for key in ("cached-model", "cached-bytes", "cached-text"):
        digest = env_repo.get(key).hash.encode()
        assert any(digest in r for r in written), key


def test_values_that_do_not_load_back_equal_stay_pickled(env_repo, tmp_path: Path) -> None:
    """JSON turns tuples into lists (refused unless lossy='allow'): such a result keeps its
    own pickle, and a cached run returns exactly what the task returned."""
    suffix = uuid.uuid4().hex[:8]
    store = LocalFileSystem(basepath=str(tmp_path / "records"))
    store.save(f"json-{suffix}")
    calls: list[int] = []

    @pa.artifact_task(
        key="cached-json",
        lossy="allow",
        cache_policy=INPUTS,
        persist_result=True,
        cache_result_in_memory=False,
        result_storage=store,
    )
    def summary(n: int) -> dict:
        calls.append(n)
        return {"pairs": [(i, i * i) for i in range(n)]}

    @flow
    def run(n: int) -> dict:
        return summary(n)

    first, second = run(500), run(500)
    assert calls == [500]
    assert second == first == {"pairs": [(i, i * i) for i in range(500)]}
    assert isinstance(second["pairs"][0], tuple)
    (record,) = records(tmp_path / "records")
    assert env_repo.get("cached-json").hash.encode() not in record
