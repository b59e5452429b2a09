"""Plotly plots: identical figures give identical bytes (no new version), and plotly.js is stored
once, content-addressed, as every HTML plot's extra data — served so the plot renders."""

from pathlib import Path

import plotly.graph_objects as go
import pytest
from fastapi.testclient import TestClient

import prefect_artifacts as pa
from prefect_artifacts.core.materializers.plot import plotly_js
from prefect_artifacts.web import create_app


def figure(ys):
    return go.Figure(data=[go.Scatter(x=[1, 2, 3], y=ys, name="auc")], layout={"title": "roc"})


def test_identical_figures_are_one_version_and_plotly_js_is_stored_once(env_repo):
    first = pa.log_plot("roc", figure([1, 2, 3]))
    again = pa.log_plot("roc", figure([1, 2, 3]))  # a new, equal figure object
    assert (again.version, again.hash) == (1, first.hash)
    html = first.get()
    assert len(html) < 50_000 and b"extra/plotly.min.js" in html and b"plot-" in html
    js = first.extra_data["plotly.min.js"]
    assert js.size == len(plotly_js()) > 1_000_000
    other = pa.log_plot("pr", figure([3, 2, 1]))
    third = pa.log_plot("roc", figure([2, 2, 2]))
    assert third.version == 2 and third.hash != first.hash
    assert (
        other.extra_data["plotly.min.js"].hash == third.extra_data["plotly.min.js"].hash == js.hash
    )
    store = env_repo.storage.blob_path(js.hash)
    assert env_repo.storage.fs.exists(store)
    blobs = Path(env_repo.storage.root) / "blobs"
    sizes = [p.stat().st_size for p in blobs.rglob("*") if p.is_file()]
    assert sizes.count(js.size) == 1  # one copy for three plot versions


def test_the_plot_and_its_plotly_js_are_served(env_repo):
    version = pa.log_plot("roc", figure([1, 2, 3]))
    client = TestClient(create_app(env_repo))
    base = "/api/projects/default/artifacts/roc/versions/1"
    page = client.get(f"{base}/content")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.content == version.get()
    script = client.get(f"{base}/extra/plotly.min.js")  # where the HTML's relative src points
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert script.content == plotly_js()


@pytest.mark.slow
def test_the_plot_renders_in_the_browser_without_network(env_repo):
    from playwright.sync_api import sync_playwright

    from .conftest import CHROMIUM_ARGS
    from .web_data import serving

    pa.log_plot("roc", figure([1, 3, 2]))
    outside: list[str] = []
    with serving(env_repo) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route(
            lambda url: not url.startswith(base),
            lambda route: (outside.append(route.request.url), route.abort()),
        )
        page.goto(f"{base}/projects/default/artifacts/roc")
        frame = page.frame_locator("#figure")
        frame.locator(".main-svg").first.wait_for(timeout=20_000)  # plotly drew the chart
        assert frame.locator(".scatterlayer .trace").count() == 1
        browser.close()
    assert outside == []  # plotly.js came from the repository, not the CDN
