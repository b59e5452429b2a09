"""The smaller defects of the third UI round, each checked in the browser (headless Debian
Chromium via Playwright) on a writable server: non-ASCII in nested cells, "—" aligned with
numbers, a 200-column frame's statistics at 1440 px, "more rows" past the end, one timestamp
format on every page, compare on a phone, the keyboard hint on touch screens, confirmations and
kept input after a form error, the error page of a writable server, compare's ticks, iteration
row and "only differing" toggle, and the metric filter on the Models tab."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import expect

from prefect_artifacts import ArtifactContext
from tests.conftest import browser_page

from .test_browser import shot
from .web_data import fresh_repository, serving

pytestmark = pytest.mark.slow  # headless Chromium

WHEN = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
HOSTILE = '<b>日本語</b> & "quotes" ' + "x" * 120


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    repo = fresh_repository(tmp_path_factory.mktemp("details"))
    ctx = ArtifactContext(repo, project="ml")
    nested = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "meta": [{"city": "日本", "n": 1}, {"city": "Zürich", "tags": ["é", "ß"]}, None],
            "words": [["日", "本"], ["€"], []],
        }
    )
    ctx.log_dataset("nested", nested)
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(
        {
            (f"a_rather_long_column_name_{i:03d}" if i % 2 else f"c{i}"): (
                rng.normal(1e6, 1e5, 300) if i % 3 else rng.choice(["alpha", HOSTILE], 300)
            )
            for i in range(200)
        }
    )
    ctx.log_dataset("wide-200", wide)
    for i in range(1, 6):
        ctx.log_model(
            "sweep",
            model={"i": i},
            metrics={"auc": 0.7 + i / 100, **({"f1": 0.5} if i != 3 else {})},
            parameters={"lr": 0.1 if i < 4 else 0.01, "seed": 7, **({"depth": i} if i > 1 else {})},
            iteration=i,
            labels={"note": HOSTILE},
        )
    ctx.log_model("other", model={"o": 1}, metrics={"auc": 0.61, "f1": 0.9})
    with serving(repo, allow_writes=True) as base:
        yield base, repo


@pytest.fixture
def page(browser):
    with browser_page(browser, width=1440) as page:
        yield page


def test_non_ascii_in_nested_cells_shows_as_letters(site, page):
    base, _ = site
    page.goto(f"{base}/projects/ml/artifacts/nested")
    text = page.locator("#preview").inner_text()
    assert "日本" in text and "Zürich" in text and "ß" in text and "€" in text
    assert "\\u" not in text and "\\u" not in page.locator("#preview").inner_html()


def test_missing_values_align_with_numbers_in_compare(site, page):
    base, _ = site
    page.goto(f"{base}/projects/ml/compare?ref=sweep:1&ref=sweep:3&ref=other")
    for row in ("tr[data-metric=f1]", "tr[data-parameter=depth]"):
        cells = page.locator(f"#compare-table {row} td:not(:first-child)")
        assert "—" in cells.all_inner_texts()
        aligns = cells.evaluate_all("cs => cs.map(c => getComputedStyle(c).textAlign)")
        assert set(aligns) == {"right"}, (row, aligns)
        # the dash ends where the numbers end: the right edges of the texts agree
        edges = cells.evaluate_all(
            """cs => cs.map(c => { const r = document.createRange(); r.selectNodeContents(c);
                const cell = c.getBoundingClientRect();
                return Math.round(cell.right - r.getBoundingClientRect().right); })"""
        )
        assert max(edges) - min(edges) <= 1, (row, edges)


@pytest.mark.parametrize("width", [1440, 1280])
def test_statistics_of_a_200_column_frame_fit_the_page(site, browser, width):
    base, _ = site
    with browser_page(browser, f"{base}/projects/ml/artifacts/wide-200", width=width) as page:
        stats = page.locator("#stats")
        expect(stats).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # the statistics table is no wider than its box: nothing to scroll sideways, every
        # histogram's range label whole (long column names wrap instead)
        box = stats.locator("xpath=..")
        assert box.evaluate("b => b.scrollWidth - b.clientWidth") <= 0
        name = stats.locator("td[title=a_rather_long_column_name_001]")
        assert name.evaluate("c => c.scrollWidth <= c.clientWidth")
        shot(page, f"stats-200-columns-{width}")


def test_more_rows_past_the_end(site, page):
    base, _ = site
    for start in (300, 1_000_000):
        page.goto(f"{base}/projects/ml/artifacts/wide-200?rows_from={start}")
        heading = page.locator("#more-rows").inner_text()
        assert heading.startswith("No rows past row 300"), heading
        assert "–" not in heading
        expect(page.locator("#more-rows-link")).to_have_count(0)


def test_one_timestamp_format_on_every_page(site, page):
    base, _ = site
    page.goto(f"{base}/projects/ml/artifacts/sweep?version=2")
    page.fill("#edit-tag input[name=tag]", "candidate")
    page.click("#edit-tag button:has-text('Set tag')")
    expect(page.locator("#done")).to_be_visible()
    for name, path, selector in [
        ("projects", "/projects", "#main td:nth-child(3)"),
        ("list", "/projects/ml/artifacts", "#artifacts td:nth-child(7)"),
        ("detail", "/projects/ml/artifacts/sweep?version=2", "#main dd, #main td.nowrap"),
        ("compare", "/projects/ml/compare?ref=sweep:1&ref=sweep:2", "#compare-table td.nowrap"),
        ("audit", "/projects/ml/audit", "#main td.nowrap"),
    ]:
        page.goto(base + path)
        texts = page.locator(selector).all_inner_texts()
        found = re.findall(r"\d{4}-\d\d-\d\d[ T][0-9:.+Z]+(?: UTC)?", " ".join(texts))
        assert found, name
        for value in found:
            assert WHEN.match(value), (name, value)
        # the whole timestamp shows (a list cell is not cut to "… 04:05:16 …")
        cut = page.locator(selector).evaluate_all(
            "cs => cs.filter(c => /\\d{4}-/.test(c.textContent))"
            ".filter(c => c.scrollWidth > c.clientWidth + 1).length"
        )
        assert cut == 0, name


def test_compare_on_a_phone_keeps_the_row_names_in_view(site, browser):
    base, _ = site
    with browser_page(browser, width=390, height=844, has_touch=True, is_mobile=True) as page:
        page.goto(
            f"{base}/projects/ml/compare?ref=sweep:1&ref=sweep:2&ref=sweep:3&ref=sweep:4"
            "&ref=sweep:5&ref=other"
        )
        name = page.locator("#compare-table tr[data-metric=auc] td").first
        scroller = page.locator("#compare-table").locator("xpath=..")
        before = name.bounding_box()["x"]
        scroller.evaluate("s => { s.scrollLeft = s.scrollWidth; }")
        assert scroller.evaluate("s => s.scrollLeft") > 100  # it did scroll
        assert abs(name.bounding_box()["x"] - before) <= 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "compare-phone-scrolled")
        # no j/k hint on a touch screen
        page.goto(f"{base}/projects/ml/artifacts")
        expect(page.locator(".keys-hint")).to_be_hidden()


def test_keyboard_hint_on_a_desktop(site, page):
    base, _ = site
    page.goto(f"{base}/projects/ml/artifacts")
    expect(page.locator(".keys-hint")).to_be_visible()


def test_confirmations_and_a_form_error_keeps_the_input(site, page):
    base, repo = site
    page.goto(f"{base}/projects/ml/artifacts/other")
    page.fill("#edit-tag input[name=tag]", "not a tag!")
    page.click("#edit-tag button:has-text('Set tag')")
    expect(page.locator("[role=alert]")).to_contain_text("not a tag!")
    expect(page.locator("#edit-tag input[name=tag]")).to_have_value("not a tag!")
    page.fill("#edit-labels textarea", "team=ml\nno equals sign")
    page.click("#edit-labels button")
    expect(page.locator("[role=alert]")).to_contain_text("name=value")
    expect(page.locator("#edit-labels textarea")).to_have_value("team=ml\nno equals sign")
    page.fill("#edit-description textarea", "日本語 " + HOSTILE)
    page.click("#edit-description button")
    expect(page.locator("#done")).to_have_text("description saved")
    page.fill("#edit-tag input[name=tag]", "best")
    page.click("#edit-tag button:has-text('Set tag')")
    expect(page.locator("#done")).to_have_text("tagged best")
    shot(page, "confirmation-tag")
    page.fill("#delete-form input[name=confirm]", "wrong")
    page.click("#delete-form button")
    expect(page.locator("[role=alert]")).to_contain_text("to confirm deleting")
    expect(page.locator("#delete-form input[name=confirm]")).to_have_value("wrong")
    assert repo.get("other", project="ml").version == 1
    page.fill("#delete-form input[name=confirm]", "other")
    page.click("#delete-form button")
    expect(page.locator("#done")).to_have_text("deleted ml/other:1")


def test_error_page_of_a_writable_server(site, page):
    base, _ = site
    response = page.goto(f"{base}/projects/ml/artifacts/no-such-key")
    assert response.status == 404
    text = page.locator("body").inner_text()
    assert "read-only" not in text and "read-write" in text
    response = page.goto(f"{base}/no/such/page")
    assert response.status == 404 and "read-only" not in page.locator("body").inner_text()


def test_compare_ticks_the_current_version_iteration_and_only_differing(site, page):
    base, _ = site
    page.goto(f"{base}/projects/ml/artifacts/sweep?version=3")
    ticked = page.locator("#versions-table input[name=ref]:checked")
    values = ticked.evaluate_all("bs => bs.map(b => b.value)")
    assert "sweep:3" in values and "sweep:5" not in values, values
    page.click("#compare-button")
    expect(page.locator("#compare-table th[data-ref]")).to_have_count(len(values))
    page.goto(f"{base}/projects/ml/compare?ref=sweep:1&ref=sweep:2&ref=sweep:4")
    expect(page.locator("#iteration-row td.num")).to_have_text(["1", "2", "4"])
    expect(page.locator("#compare-table tr[data-parameter=seed]")).to_have_count(1)
    page.check("#only-differing")
    page.click("#metric-picker button[type=submit]")
    page.wait_for_url("**only_differing=true**")
    expect(page.locator("#compare-table tr[data-parameter=seed]")).to_have_count(0)
    expect(page.locator("#compare-table tr[data-parameter=lr]")).to_have_count(1)
    expect(page.locator("#compare-table tr[data-metric=f1]")).to_have_count(0)  # 0.5 each
    expect(page.locator("#compare-table tr[data-metric=auc]")).to_have_count(1)
    expect(page.locator("#only-differing")).to_be_checked()


@pytest.mark.parametrize("where", ["list", "models"])
def test_metric_filter_on_the_list_and_the_models_tab(site, page, where):
    base, _ = site
    tab = "&kind=models" if where == "models" else ""
    page.goto(f"{base}/projects/ml/artifacts?all_versions=true{tab}")
    page.fill("#filters input[name=metrics]", "auc > 0.72 and f1 >= 0.5")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**metrics=**")
    keys = page.locator("#artifacts tr[data-key]").evaluate_all(
        "rs => rs.map(r => r.dataset.key + ':' + r.cells[1].textContent.trim())"
    )
    assert sorted(keys) == ["sweep:4", "sweep:5"]  # sweep:3 has no f1, other's auc is 0.61
    expect(page.locator("#filters input[name=metrics]")).to_have_value("auc > 0.72 and f1 >= 0.5")
    if where == "models":
        assert "kind=models" in page.url
        expect(page.locator(".tabs a.active")).to_have_text("Models")
    page.fill("#filters input[name=metrics]", "auc >> 1")
    page.click("#filters button[type=submit]")
    expect(page.locator("#filter-error")).to_contain_text("cannot read")
    expect(page.locator("#filters input[name=metrics]")).to_have_value("auc >> 1")
