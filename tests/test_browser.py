"""The browser UI in headless Chromium (Debian's /usr/bin/chromium driven by Playwright).
Screenshots of the main pages go to test-output/screenshots/."""

import hashlib
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from prefect_artifacts.web import create_app

from .web_data import fresh_repository, populate

SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    repo = fresh_repository(tmp_path_factory.mktemp("ui"))
    data = populate(repo)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(repo), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", repo, data
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    yield context.new_page()
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def rows(page) -> list[str]:
    return page.locator("#artifacts tr[data-key]").evaluate_all("rs => rs.map(r => r.dataset.key)")


def test_search_by_label_and_time(site, page):
    base, _, data = site
    page.goto(f"{base}/projects")
    page.click("text=default")
    expect(page.locator("h1")).to_have_text("Artifacts in default")
    assert rows(page) == ["config", "churn", "histogram", "events", "evil", "notes"]
    shot(page, "artifacts")
    page.fill("input[name=labels]", "team=ml source=web")
    page.click("button:has-text('Search')")
    expect(page.locator("#count")).to_have_text("1 artifact")
    assert rows(page) == ["events"]
    assert "labels=team%3Dml&labels=source%3Dweb" in page.url  # bookmarkable search
    page.goto(f"{base}/projects/default/artifacts")
    page.fill("input[name=since]", data["mark"].strftime("%Y-%m-%dT%H:%M:%S"))
    page.click("button:has-text('Search')")
    assert rows(page) == ["config", "churn", "histogram", "events"]
    page.click("[data-tab=models]")
    assert rows(page) == ["churn"] and "kind=models" in page.url and "since=" in page.url
    shot(page, "artifacts-filtered")


def test_dataset_detail_and_download(site, page):
    base, _, data = site
    page.goto(f"{base}/projects/default/artifacts")
    page.click("a:text-is('events')")
    expect(page.locator("h1")).to_contain_text("events version 2")
    expect(page.locator("#preview tr")).to_have_count(21)  # header + 20 rows
    expect(page.locator("#stats svg.hist").first).to_be_visible()
    expect(page.locator("#monitor")).to_contain_text(data["events_v2"].target_path)
    shot(page, "dataset")
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename == "events-v2.parquet"
    saved = Path(download.path()).read_bytes()
    assert hashlib.sha256(saved).hexdigest() == data["events_v2"].hash


def test_plot_and_model(site, page):
    base, _, data = site
    page.goto(f"{base}/projects/default/artifacts/histogram")
    image = page.locator("#figure")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 64
    shot(page, "plot")
    page.goto(f"{base}/projects/default/artifacts/churn")
    expect(page.locator("#metrics")).to_contain_text("auc")
    expect(page.locator("#metrics")).to_contain_text("0.75")
    expect(page.locator("#extra")).to_contain_text("confusion")
    shot(page, "model")
    with page.expect_download() as info:
        page.locator("#extra a.button").last.click()
    assert Path(info.value.path()).read_bytes() in (b"read me", data["plot"].load())


def test_version_diff(site, page):
    base, _, _ = site
    page.goto(f"{base}/projects/default/artifacts/events")
    page.check("input[name=a][value='1']")
    page.check("input[name=b][value='2']")
    page.click("#diff-button")
    expect(page.locator("h1")).to_have_text("events: version 1 → 2")
    expect(page.locator("#schema-changes")).to_contain_text("visits")
    expect(page.locator("#drift")).to_contain_text("amount")
    shot(page, "diff")
    page.goto(f"{base}/projects/default/artifacts/churn/diff?a=1&b=2")
    expect(page.locator("#metric-changes")).to_contain_text("+0.05")
    shot(page, "model-diff")


def test_stored_markup_is_shown_as_text(site, page):
    base, _, _ = site
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base}/projects/default/artifacts/evil")
    expect(page.locator("body")).to_contain_text("<img src=x onerror=alert(2)>")
    page.goto(f"{base}/projects/default/artifacts")
    expect(page.locator("body")).to_contain_text("<script>alert(1)</script>")
    assert dialogs == []
