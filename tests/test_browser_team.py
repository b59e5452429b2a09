"""Team access in the browser (headless Debian Chromium via Playwright): sign in with a user's
token, a wrong token's message, forms limited to the role, a confirmation after each save, the
audit trail per version and per project, label values with spaces, search across every project,
and sign out. Screenshots at 1280 and 1440 px and phone width go to test-output/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from prefect_artifacts.core.access import new_token, token_hash
from prefect_artifacts.web.auth import Access
from tests.conftest import browser_page

from .test_browser import shot
from .web_data import LONG_KEY, STRESS, fresh_repository, populate, populate_hostile, serving

pytestmark = pytest.mark.slow  # headless Chromium

HOSTILE_USER = "obrien+ops-team.lead@example-corporation.com"


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    repo = fresh_repository(tmp_path_factory.mktemp("team"))
    populate(repo, pause=0)
    populate_hostile(repo, versions=40)
    tokens = {}
    for name, roles in (
        (HOSTILE_USER, {"default": "writer", STRESS: "writer"}),
        ("root", {"*": "admin"}),
    ):
        repo.catalog.add_user(name, roles)
        tokens[name] = new_token()
        repo.catalog.add_token(name, "default", token_hash(tokens[name]))
    with serving(repo, allow_writes=True, access=Access(users=True)) as base:
        yield base, repo, tokens


def sign_in(page, base: str, token: str) -> None:
    page.goto(f"{base}/projects")
    assert "/login" in page.url
    page.fill("input[name=token]", token)
    page.click("button:has-text('Sign in')")


def test_sign_in_edit_confirm_audit_and_sign_out(team, browser):
    base, _, tokens = team
    with browser_page(browser, f"{base}/projects") as page:
        page.fill("input[name=token]", "pat_wrong")
        page.click("button:has-text('Sign in')")
        expect(page.locator("#error-message")).to_have_text("wrong token")
        shot(page, "team-login-wrong")
        page.fill("input[name=token]", tokens[HOSTILE_USER])
        page.click("button:has-text('Sign in')")
        expect(page.locator("#who")).to_have_text(HOSTILE_USER)
        projects = page.locator("tr[data-project]").evaluate_all(
            "rs => rs.map(r => r.dataset.project)"
        )
        assert projects == ["default", STRESS]
        page.goto(f"{base}/projects/default/artifacts/events")
        assert page.locator("#delete-form").count() == 0  # a writer does not delete
        page.fill("#edit-labels textarea", "team=ml\nnote=hello world")
        page.click("#edit-labels button")
        expect(page.locator("#done")).to_have_text("labels saved")
        expect(page.locator("#audit-version")).to_contain_text(HOSTILE_USER)
        expect(page.locator("#audit-version")).to_contain_text("note=hello world")
        shot(page, "team-saved")
        # the label with a space, searched from the form
        page.goto(f"{base}/projects/default/artifacts")
        page.fill("input[name=labels]", "note=hello world")
        page.click("button:has-text('Search')")
        expect(page.locator("#count")).to_contain_text("1 artifact")
        assert page.locator("#artifacts tr[data-key]").evaluate_all(
            "rs => rs.map(r => r.dataset.key)"
        ) == ["events"]
        expect(page.locator("input[name=labels]")).to_have_value('note="hello world"')
        page.click("#audit-link")
        expect(page.locator("#audit tbody tr")).to_have_count(1)
        shot(page, "team-audit")
        page.click("#logout")
        assert "/login" in page.url
        page.goto(f"{base}/projects")
        assert "/login" in page.url


@pytest.mark.parametrize("width", [1280, 1440, 390])
def test_audit_and_search_everywhere_fit(team, browser, width):
    base, _, tokens = team
    with browser_page(browser, width=width) as page:
        sign_in(page, base, tokens["root"])
        model = f"{base}/projects/{STRESS}/artifacts/churn-model"
        for n in range(12):
            page.request.put(
                f"{base}/api/projects/{STRESS}/artifacts/churn-model/versions/{n + 1}/labels",
                data={"note": "x" * 150, "by": HOSTILE_USER},
                headers={"Authorization": f"Bearer {tokens[HOSTILE_USER]}"},
            )
        page.goto(f"{base}/projects/{STRESS}/audit")
        assert page.locator("#audit tbody tr").count() >= 12
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        shot(page, f"team-audit-{width}")
        page.goto(f"{model}?version=1#history")
        expect(page.locator("#audit-version")).to_contain_text(HOSTILE_USER)
        shot(page, f"team-history-{width}")
        page.goto(f"{base}/projects/*/artifacts")
        expect(page.locator("h1")).to_have_text("Artifacts in every project")
        keys = page.locator("#artifacts tr[data-key]").evaluate_all(
            "rs => rs.map(r => r.dataset.key)"
        )
        assert LONG_KEY in keys and "events" in keys
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        shot(page, f"team-everywhere-{width}")
        versions = page.goto(f"{model}").ok and page.locator("#versions-next")
        expect(versions).to_contain_text("next 10")
        page.click("#versions-last")
        assert re.search(r"voffset=30", page.url)
        expect(page.locator('#versions-table tr[data-version="1"]')).to_have_count(1)
