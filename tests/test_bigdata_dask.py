"""Dask DataFrames logged from the workers of a real ``distributed.LocalCluster`` (processes):
each partition written by its worker straight to storage, merged stats, nothing collected; a
partition failing mid-log leaves no version and its siblings as orphans for ``gc``. On local
storage + SQLite and on moto S3 + PostgreSQL."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster, get_task_stream
from distributed.scheduler import KilledWorker

from prefect_artifacts.core.maintenance import gc
from prefect_artifacts.core.storage import Storage

pytestmark = pytest.mark.slow  # local Dask clusters of worker processes


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def events(rows: int = 40_000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "amount": rng.normal(50, 5, rows),
            "kind": rng.choice(["click", "view", "buy"], rows),
        }
    )


def test_partitions_are_written_by_the_workers(client, store):
    df = events()
    ddf = dd.from_pandas(df, npartitions=6)
    with get_task_stream(client) as stream:
        v = store.log("clicks", ddf)
    assert v.part_count == 6 and v.rows == len(df)
    assert [p.rows for p in v.parts] == [len(p) for p in ddf.partitions]
    assert v.stats["id"]["min"] == 0 and v.stats["id"]["max"] == len(df) - 1
    assert v.stats["amount"]["mean"] == pytest.approx(df.amount.mean(), rel=1e-12)
    assert v.stats["amount"]["std"] == pytest.approx(df.amount.std(), rel=1e-9)
    assert v.stats["kind"]["unique"] == 3
    assert v.preview[0]["id"] == 0
    # the parts were written by tasks on the worker processes (the client only committed)
    writes = [t for t in stream.data if "write_partition" in str(t["key"])]
    assert len(writes) == 6
    assert {t["worker"] for t in writes} <= set(client.scheduler_info()["workers"])
    # strings come back as the Dask frame held them (its Arrow-backed string dtype)
    pd.testing.assert_frame_equal(v.load(), df, check_dtype=False)
    # read back lazily, one partition per part, on the workers
    lazy = v.to_dask()
    assert lazy.npartitions == 6
    got = lazy[lazy.kind == "buy"].amount.sum().compute()
    assert got == pytest.approx(df.loc[df.kind == "buy", "amount"].sum())
    # an appended partition shares the earlier parts
    more = dd.concat([ddf, dd.from_pandas(events(45_000).iloc[40_000:], npartitions=1)])
    v2 = store.log("clicks", more)
    assert v2.part_count == 7
    assert [p.hash for p in v2.parts[:6]] == [p.hash for p in v.parts]


def wait_for_parts(storage: Storage, count: int = 1) -> None:
    """Block until ``count`` parts of other partitions are in storage (a guard of 60 s
    against a hang, not a timing assumption)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        storage.fs.invalidate_cache()
        if len(list(storage.iter_blobs())) >= count:
            return
        time.sleep(0.05)


def _busy(dask_worker) -> int:
    return dask_worker.state.executing_count + len(dask_worker.state.ready)


def wait_until_idle(client: Client) -> None:
    """Block until no worker runs or holds a ready task (a guard of 60 s against a hang)."""
    deadline = time.monotonic() + 60
    while any(client.run(_busy).values()) and time.monotonic() < deadline:
        time.sleep(0.05)


def fail_last(frame: pd.DataFrame, storage: Storage) -> pd.DataFrame:
    if len(frame) and frame["id"].iloc[0] >= 30_000:
        # a sibling's part lands first; not all three: with one thread per worker, a sibling
        # queued behind this partition on its worker cannot run until this one ends
        wait_for_parts(storage, 1)
        raise RuntimeError("worker failed mid-write")
    return frame


def test_a_failing_partition_leaves_no_version_and_orphans_for_gc(client, store):
    ddf = dd.from_pandas(events(), npartitions=4).map_partitions(fail_last, store.storage)
    with pytest.raises(RuntimeError, match="mid-write"):
        store.log("clicks", ddf)
    assert store.list() == []
    wait_until_idle(client)  # siblings still writing when the log failed have finished
    store.storage.fs.invalidate_cache()  # the workers wrote them: no stale listing (s3fs)
    written = {digest for digest, _ in store.storage.iter_blobs()}
    assert written  # a sibling finished before the failure
    report = gc(store, grace=timedelta(0))
    assert set(report.orphans) >= written  # every one of them is an orphan gc removes
    store.storage.fs.invalidate_cache()
    assert list(store.storage.iter_blobs()) == []


def test_an_artifact_task_returning_a_dask_frame_logs_it_in_parts(client, env_repo, prefect_server):
    from prefect import flow

    import prefect_artifacts as pa

    @pa.artifact_task(key="ddf-out")
    def make() -> dd.DataFrame:
        return dd.from_pandas(events(3_000), npartitions=3)

    @flow
    def build() -> int:
        return make().npartitions

    assert build() == 3
    v = env_repo.get("ddf-out")
    assert v.part_count == 3 and v.rows == 3_000
    assert v.producer.kind == "prefect" and v.producer.task_name
    pd.testing.assert_frame_equal(v.load(), events(3_000), check_dtype=False)


def kill_last(frame: pd.DataFrame, storage: Storage) -> pd.DataFrame:
    if len(frame) and frame["id"].iloc[0] >= 30_000:
        wait_for_parts(storage)
        os._exit(1)  # the worker process dies mid-log, no exception, no clean-up
    return frame


def test_a_killed_worker_leaves_no_version_and_orphans_for_gc(store):
    """A worker process killed while the version is being written: the scheduler gives up on
    the partition (KilledWorker), nothing is committed, and gc finds what the others wrote."""
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        ddf = dd.from_pandas(events(), npartitions=4).map_partitions(kill_last, store.storage)
        with pytest.raises(KilledWorker):
            store.log("clicks", ddf)
    assert store.list() == []
    written = {digest for digest, _ in store.storage.iter_blobs()}
    assert written  # the other partitions were written before the kill
    report = gc(store, grace=timedelta(0))
    assert set(report.orphans) == written
    assert list(store.storage.iter_blobs()) == []
