"""Our cards in Prefect's own UIs (V1 at ``/``, V2 at ``/v2``), served by a real
``prefect server start`` on loopback and opened in headless Chromium at 1280 px: a dataset, a
model and a plot card, with long and hostile values, fit the window, show user text literally
and load the plot's thumbnail. Screenshots go to test-output/screenshots/prefect-*.png. On the same
server: flows/prefect.yaml deployed with its prod trigger, and flows/serve_on_tag.py served and
started by the CLI's ``tag``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.repository import Repository
from prefect_artifacts.core.storage import Storage

from .test_browser import SHOTS

FLOWS = Path(__file__).resolve().parent.parent / "flows"
CLI = str(Path(sys.executable).with_name("prefect-artifacts"))
pytestmark = pytest.mark.slow  # a real `prefect server start`, a flow in a subprocess, Chromium

HOSTILE = "**bold** [link](http://evil.example) <b>x</b> `code` _u_ www.evil.com"
LONG_KEY = "k" + "-very-long-key" * 9  # 127 characters
FLOW = f"""
import io
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from prefect import flow, task
import prefect_artifacts as pa

@task
def dataset():
    df = pd.DataFrame({{"text": [{HOSTILE!r}, "x" * 80], "amount": [1.5, 250000.0]}})
    return pa.log_dataset({LONG_KEY!r}, df, labels={{"note": "v" * 150, "team": "ml"}},
                          description={HOSTILE!r}, tag="prod")

@task
def model():
    return pa.log_model("churn-model", body=b"weights", model_file="model.pkl",
                        metrics={{"auc": 0.91, "logloss": 0.33}}, parameters={{"depth": 5}},
                        extra_data={{"notes": b"n"}}, labels={{"team": "ml"}})

@task
def plot():
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot([1, 3, 2, 5])
    return pa.log_plot("loss-curve", fig)

@task
def sweep():
    for i in range(35):  # one card for the run's iterations, long metric names shortened
        metrics = {{f"metric_{{j}}_" + "w" * 40: i / (j + 1) for j in range(8)}}
        version = pa.log_model("sweep-model", body=str(i).encode(), metrics=metrics, iteration=i)
    return version

@flow(name="prefect-ui-cards")
def cards():
    return dataset(), model(), plot(), sweep()

for version in cards():
    print(version.ref)
pa.flush_registrations()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prefect_ui(tmp_path_factory):
    """``prefect server start`` on a free loopback port, with our three cards logged to it."""
    home = tmp_path_factory.mktemp("prefect-ui")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": api,  # the UI's own calls go to this port, not 4200
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    prefect = str(Path(sys.executable).with_name("prefect"))
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{api}/health", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("prefect server start did not come up") from None
                time.sleep(0.5)
        run = subprocess.run(
            [sys.executable, "-c", FLOW],
            env={
                **env,
                "PREFECT_API_URL": api,
                "PREFECT_ARTIFACTS_STORAGE_URL": str(home / "store"),
                "PREFECT_ARTIFACTS_CATALOG_URL": f"sqlite:///{home / 'catalog.db'}",
                "PREFECT_ARTIFACTS_UI_URL": "http://127.0.0.1:4300",  # cards link to it
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr
        request = urllib.request.Request(
            f"{api}/artifacts/filter",
            data=json.dumps({"limit": 50}).encode(),
            headers={"Content-Type": "application/json"},
        )
        found = json.loads(urllib.request.urlopen(request, timeout=10).read())
        ids = {a["description"].split(" ")[0]: a["id"] for a in found}
        assert set(ids) == {"dataset", "model", "plot", "sweep"}, found  # preview: in the card
        yield f"http://127.0.0.1:{port}", ids
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture(scope="module")
def ui_contexts(browser):
    """One browser context per Prefect UI, shared by its cards' tests: the UI's bundles are
    fetched and compiled once, as a user's browser caches them."""
    contexts: dict = {}

    def context(ui: str):
        if ui not in contexts:
            contexts[ui] = browser.new_context(viewport={"width": 1280, "height": 900})
        return contexts[ui]

    yield context
    for opened in contexts.values():
        opened.close()


@pytest.mark.parametrize("ui", ["v1", "v2"])
@pytest.mark.parametrize("kind", ["dataset", "model", "plot", "sweep"])
def test_cards_fit_and_render_in_prefects_ui(prefect_ui, ui_contexts, ui, kind):
    """A dataset's card holds its preview table (``preview_cards`` is "inline" by default)."""
    base, ids = prefect_ui
    page = ui_contexts(ui).new_page()
    prefix = "" if ui == "v1" else "/v2"
    page.goto(f"{base}{prefix}/artifacts/artifact/{ids[kind]}", wait_until="networkidle")
    page.wait_for_selector("text=Open in prefect-artifacts", timeout=30_000)
    if kind == "dataset":
        page.wait_for_selector("text=Preview, version", timeout=30_000)
    page.wait_for_timeout(500)
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('table, p, h3, img')]
              .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
              .map(e => e.tagName + ': ' + e.textContent.slice(0, 60))"""
    )
    assert overflowing == [], overflowing
    body = page.inner_text("body")
    assert "&#" not in body and "\\" not in body  # no escaping shows
    anchors = page.eval_on_selector_all("a", "as => as.map(a => a.href)")
    assert not [a for a in anchors if "evil" in a], anchors
    styled = page.eval_on_selector_all(
        "strong, em, b", "es => es.map(e => e.textContent).filter(t => /bold|x|u/.test(t))"
    )
    assert not [t for t in styled if t.strip() in ("bold", "x", "u")], styled
    if kind == "dataset":  # the hostile description and cell, shown as typed
        assert " ".join(HOSTILE.split()) in " ".join(body.split())
    if kind == "sweep":  # the run's 35 iterations: the 30 most recent listed, one card
        assert "35 iterations logged by this run" in body and "metric_0_wwww" in body
    if kind == "plot":
        loaded = page.eval_on_selector_all(
            "img[src^='data:image']", "imgs => imgs.map(i => i.complete && i.naturalWidth)"
        )
        assert loaded and all(w > 0 for w in loaded), loaded
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 2000})  # V1 scrolls inside its layout
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"prefect-{ui}-{kind}-card.png"), full_page=True)
    page.close()


def api_call(api: str, path: str, body: dict | None = None, method: str | None = None):
    request = urllib.request.Request(
        f"{api}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method=method or ("POST" if body is not None else "GET"),
    )
    return json.loads(urllib.request.urlopen(request, timeout=30).read() or "null")


def test_the_example_deployments_and_the_prod_trigger(prefect_ui, tmp_path):
    """flows/prefect.yaml deploys both example flows to a process pool, and moving `prod` to a
    churn model starts the scoring deployment (Prefect's automation, our tag.moved event)."""
    base, _ = prefect_ui
    api = f"{base}/api"
    env = {
        **os.environ,
        "PREFECT_API_URL": api,
        "PREFECT_ARTIFACTS_STORAGE_URL": str(tmp_path / "store"),
        "PREFECT_ARTIFACTS_CATALOG_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
    }
    prefect = str(Path(sys.executable).with_name("prefect"))
    api_call(api, "/work_pools/", {"name": "demo-pool", "type": "process"})
    command = [prefect, "--no-prompt", "deploy", "--all"]
    done = subprocess.run(command, cwd=FLOWS, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    deployments = {d["name"]: d for d in api_call(api, "/deployments/filter", {})}
    assert {"training", "scoring"} <= set(deployments)
    automations = api_call(api, "/automations/filter", {})
    assert any(
        a["trigger"].get("expect") == ["prefect-artifacts.tag.moved"] for a in automations
    ), automations
    tag_prod = (
        "import prefect_artifacts as pa\n"
        "pa.log_model('churn-model', body=b'w', metrics={'auc': 0.9})\n"
        "pa.tag_artifact('churn-model:1', 'prod')\n"
        "pa.flush_registrations()\n"
    )
    done = subprocess.run([sys.executable, "-c", tag_prod], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    scoring = deployments["scoring"]["id"]
    deadline = time.monotonic() + 90
    runs: list = []
    while not runs and time.monotonic() < deadline:
        runs = api_call(
            api,
            "/flow_runs/filter",
            {"flow_runs": {"deployment_id": {"any_": [scoring]}}},
        )
        time.sleep(1)
    assert runs, "moving prod did not start the scoring deployment"


def test_a_served_deployment_runs_when_the_cli_moves_prod(prefect_ui, tmp_path):
    """flows/serve_on_tag.py serves its deployment; the CLI's ``tag`` starts a run of it."""
    base, _ = prefect_ui
    api = f"{base}/api"
    env = {
        **os.environ,
        "PREFECT_API_URL": api,
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",  # the served flow looks for its run every second
        "PREFECT_ARTIFACTS_STORAGE_URL": str(tmp_path / "store"),
        "PREFECT_ARTIFACTS_CATALOG_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
    }
    started = []
    try:
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
