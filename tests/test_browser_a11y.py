"""Accessibility: axe-core (shipped inside the axe-playwright-python package, so nothing is
downloaded at run time) finds no serious or critical violation on any page of the UI, in the
light and the dark colour scheme, with hostile data (long keys and labels, markup in values)."""

from __future__ import annotations

import json
from pathlib import Path

import axe_playwright_python
import pytest

from tests.conftest import browser_page

from .web_data import LONG_KEY, STRESS, fresh_repository, populate, populate_hostile, serving

pytestmark = pytest.mark.slow  # headless Chromium

OUT = Path(__file__).resolve().parent.parent / "test-output"
AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
PAGES = [
    "/projects",
    "/projects/default/artifacts",
    "/projects/default/artifacts?kind=models",
    f"/projects/{STRESS}/artifacts?kind=models",
    "/projects/*/artifacts",
    "/projects/default/artifacts?since=not-a-time",  # the form with its error
    "/projects/default/artifacts/events",
    "/projects/default/artifacts/churn",
    "/projects/default/artifacts/histogram",
    "/projects/default/artifacts/notes",
    f"/projects/{STRESS}/artifacts/{LONG_KEY}",
    f"/projects/{STRESS}/artifacts/churn-model",
    f"/projects/{STRESS}/artifacts/plotly-curve",
    "/projects/default/artifacts/events/diff?a=1&b=2",
    f"/projects/{STRESS}/compare?ref=churn-model:1&ref=churn-model:2&ref=churn-xl",
    "/projects/default/compare",
    "/projects/default/audit",
    "/projects/default/artifacts/nothing-here",  # the error page
    "/login",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    repo = fresh_repository(tmp_path_factory.mktemp("a11y"))
    populate(repo, pause=0)
    populate_hostile(repo, versions=30)
    repo.catalog.record_audit("alice", "tag", "default", "events", 1, {"tag": "prod"})
    with serving(repo, allow_writes=True) as base:
        yield base


def serious(page) -> list[str]:
    if not page.evaluate("() => !!window.axe"):
        page.evaluate(AXE)
    found = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"
    )
    return [
        f"{v['id']} ({v['impact']}) {node['target']}: "
        + " ".join(node.get("failureSummary", "").split())[:300]
        for v in found
        if v["impact"] in ("serious", "critical")
        for node in v["nodes"]
    ]


def test_no_serious_or_critical_violation_on_any_page(site, browser):
    """Each page is loaded once and checked in both colour schemes (the scheme switched in
    place, as the system's setting does)."""
    problems: dict[str, dict[str, list[str]]] = {"light": {}, "dark": {}}
    backgrounds = set()
    with browser_page(browser, color_scheme="light") as page:
        for path in PAGES:
            page.goto(site + path)
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                backgrounds.add(page.evaluate("getComputedStyle(document.body).backgroundColor"))
                found = serious(page)
                if found:
                    problems[scheme][path] = found
    assert len(backgrounds) >= 2, backgrounds  # the dark scheme really was applied
    OUT.mkdir(parents=True, exist_ok=True)
    for scheme, found in problems.items():
        (OUT / f"axe-{scheme}.json").write_text(json.dumps(found, indent=1))
    assert problems == {"light": {}, "dark": {}}
