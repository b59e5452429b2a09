"""Lineage Prefect users expect, against a real Prefect server: a parent flow's task that
receives a subflow's output (directly, quoted, nested in lists and dicts, through futures)
records it as an input, and its asset materialization names it upstream; ``@materialize`` and
``@artifact_task`` see each other's assets upstream in both directions."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
from prefect.utilities.annotations import quote

import prefect_artifacts as pa
from prefect_artifacts.prefect import assets

pytestmark = pytest.mark.usefixtures("prefect_server")
MATERIALIZED = "prefect.asset.materialization.succeeded"


def materialization(asset_key: str, timeout: float = 90):
    """The (one) materialization event of ``asset_key``, once it has arrived."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_events(
                filter=EventFilter(
                    event=EventNameFilter(name=[MATERIALIZED]),
                    resource=EventResourceFilter(id=[asset_key]),
                ),
                limit=10,
            )
            if page.events or time.monotonic() > deadline:
                assert len(page.events) == 1, page.events
                return page.events[0]
            time.sleep(0.3)


def upstream_of(event) -> set[str]:
    return {r.id for r in event.related if r.role == "asset"}


def test_subflow_outputs_are_inputs_of_the_parent_flows_tasks(env_repo):
    @pa.artifact_task(key="sub-raw-{parameters[n]}")
    def make_raw(n: int) -> pd.DataFrame:
        return pd.DataFrame({"x": range(n)})

    @flow
    def prepare(n: int) -> pd.DataFrame:
        return make_raw(n)  # the subflow returns what its task logged

    @pa.artifact_task(key="sub-features")
    def featurize(df: pd.DataFrame) -> pd.DataFrame:
        return df.assign(y=df.x * 2)

    @pa.artifact_task(key="sub-summary")
    def summarize(quoted: pd.DataFrame, nested: dict) -> pd.DataFrame:
        return pd.DataFrame({"rows": [len(quoted), len(nested["frames"][0][0])]})

    @flow
    def parent():
        raw = prepare(5)
        featurize(raw)
        other = make_raw.submit(7)
        summarize(quote(prepare(3)), {"frames": [[other]]})

    state = parent(return_state=True)
    assert state.is_completed()
    pa.flush_registrations()
    features, summary = pa.get_artifact("sub-features"), pa.get_artifact("sub-summary")
    (consumer,) = pa.get_artifact("sub-raw-5").consumers()
    assert consumer.task_run_id == features.producer.task_run_id
    for key in ("sub-raw-3", "sub-raw-7"):  # quoted subflow output; a future in a nested dict
        assert [c.task_run_id for c in pa.get_artifact(key).consumers()] == [
            summary.producer.task_run_id
        ], key
    up = pa.lineage("sub-features", direction="up", depth=3)
    assert "default/sub-raw-5:1" in up.artifacts()
    event = materialization(assets.asset_key(env_repo, "default", "sub-features"))
    assert assets.asset_key(env_repo, "default", "sub-raw-5") in upstream_of(event)
    event = materialization(assets.asset_key(env_repo, "default", "sub-summary"))
    assert {
        assets.asset_key(env_repo, "default", "sub-raw-3"),
        assets.asset_key(env_repo, "default", "sub-raw-7"),
    } <= upstream_of(event)


def test_materialize_and_artifact_task_are_upstream_of_each_other(env_repo):
    from prefect.assets import Asset, materialize

    source = Asset(key="file:///warehouse/customers")
    report = Asset(key="file:///reports/churn-by-region")

    @materialize(source)
    def extract() -> pd.DataFrame:
        return pd.DataFrame({"region": ["n", "s"], "churn": [0.1, 0.2]})

    @pa.artifact_task(key="both-ways-features")
    def features(customers: pd.DataFrame) -> pd.DataFrame:
        return customers.assign(high=customers.churn > 0.15)

    @materialize(report)
    def publish(df: pd.DataFrame) -> int:
        return len(df)

    @flow
    def pipeline():
        publish(features(extract()))

    pipeline()
    pa.flush_registrations()
    ours = assets.asset_key(env_repo, "default", "both-ways-features")
    assert source.key in upstream_of(materialization(ours))  # @materialize → @artifact_task
    assert ours in upstream_of(materialization(report.key))  # @artifact_task → @materialize


def test_versions_of_a_failed_attempt_are_marked_once_the_retry_succeeds(env_repo):
    attempts = {"n": 0}

    @pa.artifact_task(key="retried-result", retries=1, retry_delay_seconds=0)
    def flaky() -> pd.DataFrame:
        attempts["n"] += 1
        pa.log_artifact("retried-checkpoint", f"attempt {attempts['n']}".encode())
        pa.log_artifact("retried-same", b"identical in both attempts")
        if attempts["n"] == 1:
            raise RuntimeError("the first attempt fails after logging")
        return pd.DataFrame({"x": [1, 2]})

    @flow
    def pipeline():
        return flaky()

    pipeline()
    first, second = pa.get_artifact("retried-checkpoint:1"), pa.get_artifact("retried-checkpoint:2")
    assert (first.producer.attempt, second.producer.attempt) == (1, 2)
    assert first.producer.task_run_id == second.producer.task_run_id
    assert first.labels == {"prefect-attempt-failed": "1"}
    assert second.labels == {} and pa.get_artifact("retried-result").labels == {}
    assert pa.get_artifact("retried-same").labels == {}  # the successful attempt logged it too
    assert [
        v.ref for v in pa.list_artifacts(labels={"prefect-attempt-failed": "1"}, all_versions=True)
    ] == [first.ref]
