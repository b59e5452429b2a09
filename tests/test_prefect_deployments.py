"""The example flows of docs/how-to/prefect-deployments.md, run: subflows on a thread-pool task
runner and ``.deploy`` to a work pool with the tag trigger, against the test server. (The
``flow.serve`` deployment that the CLI's ``tag`` starts runs in test_prefect_ui.py, on its real
``prefect server start``.)"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

import prefect_artifacts as pa

FLOWS = Path(__file__).resolve().parent.parent / "flows"
CLI = str(Path(sys.executable).with_name("prefect-artifacts"))
PREFECT = str(Path(sys.executable).with_name("prefect"))


@pytest.fixture
def flows_module(monkeypatch):
    monkeypatch.syspath_prepend(str(FLOWS))
    return importlib.import_module


def test_subflows_on_a_thread_pool(env_repo, prefect_server, flows_module):
    subflows = flows_module("subflows")
    combined = subflows.regional_pipeline()
    assert combined.rows == 12 and "latest-combined" in combined.tags
    (producer,) = combined.producers()
    for region in subflows.REGIONS:
        consumers = pa.get_artifact(f"region-{region}").consumers()
        assert [c.task_run_id for c in consumers] == [producer.task_run_id], region


def test_deploy_to_a_work_pool_with_the_tag_trigger(env_repo, prefect_server, flows_module):
    from prefect.client.schemas.actions import WorkPoolCreate

    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name="demo-pool", type="process"), overwrite=True)
    deploy = flows_module("deploy_to_pool")
    training_id, scoring_id = deploy.deploy()
    with get_client(sync_client=True) as client:
        training = client.read_deployment(training_id)
        scoring = client.read_deployment(scoring_id)
        automations = client.read_automations()
    assert training.work_pool_name == scoring.work_pool_name == "demo-pool"
    assert training.parameters == {"rows": 20_000}
    (trigger,) = [
        a.trigger
        for a in automations
        if any(getattr(x, "deployment_id", None) == scoring_id for x in a.actions)
    ]
    assert trigger.expect == {"prefect-artifacts.tag.moved"}
    assert trigger.match.model_dump()["prefect-artifacts.tag"] == "prod"

    # a real process worker of the pool picks a run of the training deployment up and runs it
    from prefect.settings import PREFECT_API_URL

    with get_client(sync_client=True) as client:
        run = client.create_flow_run_from_deployment(training_id, parameters={"rows": 400})
    worker = subprocess.run(
        [PREFECT, "worker", "start", "--pool", "demo-pool", "--run-once"],
        env={
            **os.environ,
            "PREFECT_API_URL": PREFECT_API_URL.value(),
            "PREFECT_LOGGING_LEVEL": "WARNING",
        },
        cwd=FLOWS,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert worker.returncode == 0, worker.stdout + worker.stderr
    with get_client(sync_client=True) as client:
        finished = client.read_flow_run(run.id)
    assert finished.state.is_completed(), (finished.state, worker.stdout + worker.stderr)
    model = pa.get_artifact("churn-model")
    assert model.producer.flow_run_id == str(run.id)
    assert model.producer.deployment_id == str(training_id)
    assert model.producer.flow_name == "training-pipeline"
    assert pa.get_artifact("raw-transactions").rows == 400


def test_the_demo_says_which_server_it_uses(flows_module):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    demo = flows_module("demo")
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        message = demo.starting()
    assert (
        message
        == "Running the example flows against the Prefect server at http://127.0.0.1:4200/api..."
    )
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert demo.starting().startswith("Starting Prefect's temporary server")
