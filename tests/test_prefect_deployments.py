"""The example flows of docs/how-to/prefect-deployments.md, run: subflows on a thread-pool task
runner (against the test server), ``.deploy`` to a work pool with the tag trigger, and a
``flow.serve`` deployment that a ``prefect-artifacts.tag.moved`` event starts — against a real
``prefect server start`` in a subprocess, with the tag moved by the CLI."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

import prefect_artifacts as pa
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.repository import Repository
from prefect_artifacts.core.storage import Storage

from .test_prefect_ui import free_port

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


@pytest.mark.slow
def test_a_served_deployment_runs_when_the_cli_moves_prod(tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_ARTIFACTS_STORAGE_URL": str(tmp_path / "store"),
        "PREFECT_ARTIFACTS_CATALOG_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
    }
    prefect = str(Path(sys.executable).with_name("prefect"))
    started = []
    try:
        started.append(
            subprocess.Popen(
                [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for(lambda: urllib.request.urlopen(f"{api}/health", timeout=2).read(), 240)
        log = tmp_path / "serve.log"
        with log.open("w") as out:
            started.append(
                subprocess.Popen(
                    [sys.executable, str(FLOWS / "serve_on_tag.py")],
                    env=env,
                    cwd=FLOWS,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        script = (
            "import prefect_artifacts as pa\n"
            "pa.log_model('churn-model', body=b'one')\n"
            "pa.log_model('churn-model', body=b'two')\n"
        )
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
        deployed = wait_for(lambda: deployment(api, "announce-prod-model/on-prod"), 240)
        tag = subprocess.run(
            [CLI, "tag", "churn-model:2", "prod"], env=env, capture_output=True, text=True
        )
        assert tag.returncode == 0 and "Traceback" not in tag.stderr, tag.stderr
        run = wait_for(lambda: completed_run(api, deployed["id"]), 300, log)
        assert run["parameters"] == {"version": 2}
        stored = Repository(
            Storage.from_url(str(tmp_path / "store")), Catalog(env["PREFECT_ARTIFACTS_CATALOG_URL"])
        )
        assert stored.get("prod-announcement").load() == b"churn-model:2 is prod (the event said 2)"
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(30)


def wait_for(probe, seconds: float, log: Path | None = None):
    """``probe()``'s first truthy result (errors count as not yet), within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = probe()
        except Exception:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting; {log.read_text()[-3000:] if log else ''}")
        time.sleep(1)


def request(url: str, body: dict | None = None):
    import json

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


def deployment(api: str, name: str):
    return request(f"{api}/deployments/name/{name}")


def completed_run(api: str, deployment_id: str):
    runs = request(
        f"{api}/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}, "limit": 5}
    )
    done = [r for r in runs if r["state_type"] == "COMPLETED"]
    failed = [r for r in runs if r["state_type"] in ("FAILED", "CRASHED")]
    assert not failed, failed
    return done[0] if done else None


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
