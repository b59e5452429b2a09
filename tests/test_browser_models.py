"""The Models tab in the browser (headless Debian Chromium via Playwright): readable at 1440 px
with many metric columns and long keys, a column chooser for metrics and parameters kept in the
URL and remembered per project, sortable by click, with each metric's assumed direction."""

from __future__ import annotations

import random

import pytest
from playwright.sync_api import expect

from prefect_artifacts import ArtifactContext
from tests.conftest import browser_page

from .test_browser import shot
from .web_data import fresh_repository, serving

pytestmark = pytest.mark.slow  # headless Chromium

KEYS = [
    "churn-gradient-boosting-v2",
    "recommendation-two-tower-model-with-a-long-name",
    "fraud-detector-xgb-large",
    "s",
    "ltv-regression-quantile",
]
METRICS = ["accuracy", "auc", "f1", "logloss", "precision_at_10", "recall", "zz_latency_ms"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    repo = fresh_repository(tmp_path_factory.mktemp("models"))
    ctx = ArtifactContext(repo, project="ml")
    rng = random.Random(3)
    for key in KEYS:
        for v in range(2):
            ctx.log_model(
                key,
                model={"v": v},
                metrics={m: rng.random() * (100 if m.endswith("_ms") else 1) for m in METRICS},
                parameters={"lr": rng.choice([0.1, 0.01, 0.001]), "depth": rng.randint(2, 9)},
                labels={"team": "growth-analytics", "stage": "candidate-for-production"},
            )
    tuned = ArtifactContext(repo, project="tuning")
    for i, depth in enumerate([9, 100, None, 10, "auto", 2]):
        tuned.log_model(
            f"tuned-{i}",
            model={"i": i},
            metrics={"auc": 0.5 + i / 20},
            parameters={"depth": depth, "optimizer": "adamw"} if depth is not None else {},
        )
    with serving(repo) as base:
        yield base, repo


def headers_overlap(page) -> list[str]:
    """Pairs of neighbouring header labels whose text boxes overlap."""
    return page.evaluate(
        """() => {
        const spans = Array.from(document.querySelectorAll('#artifacts thead th')).map(th => {
            const r = document.createRange(); r.selectNodeContents(th);
            const b = r.getBoundingClientRect(); return [th.textContent.trim(), b.left, b.right];
        }).filter(s => s[2] > s[1]);
        const bad = [];
        for (let i = 1; i < spans.length; i++)
            if (spans[i][1] < spans[i - 1][2] - 1) bad.push(spans[i - 1][0] + '|' + spans[i][0]);
        return bad;
    }"""
    )


@pytest.mark.parametrize("width", [1280, 1440])
def test_models_tab_keeps_keys_readable(site, browser, width):
    base, _ = site
    with browser_page(browser, f"{base}/projects/ml/artifacts?kind=models", width=width) as page:
        cells = page.locator("#artifacts tbody td:first-child")
        assert cells.count() == len(KEYS)
        for i in range(cells.count()):
            box = cells.nth(i).bounding_box()
            assert box["width"] >= 120, box
            # the whole key shows (wrapped if need be), never cut with an ellipsis
            clipped = cells.nth(i).evaluate("td => td.scrollWidth > td.clientWidth + 1")
            assert not clipped, cells.nth(i).inner_text()
        assert headers_overlap(page) == []
        # the page itself never scrolls sideways; the table may, inside its box
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"models-tab-{width}")


def test_column_chooser_in_the_url_remembered_and_sortable(site, browser):
    base, _ = site
    with browser_page(browser, f"{base}/projects/ml/artifacts?kind=models", width=1440) as page:
        default = page.locator("#artifacts thead th a[data-sort^='metric:']").evaluate_all(
            "as => as.map(a => a.dataset.sort)"
        )
        assert "metric:zz_latency_ms" not in default and len(default) == 6
        page.click("#column-picker summary")
        for box in page.locator("#column-form input[name=col]").all():
            if box.is_checked():
                box.uncheck()
        page.check("#column-form input[value='metric:zz_latency_ms']")
        page.check("#column-form input[value='metric:auc']")
        page.check("#column-form input[value='param:lr']")
        page.click("#column-form button[type=submit]")
        assert "col=metric%3Azz_latency_ms" in page.url and "col=param%3Alr" in page.url
        sorts = page.locator("#artifacts thead th a[data-sort^='metric:']").evaluate_all(
            "as => as.map(a => a.dataset.sort)"
        )
        assert sorts == ["metric:auc", "metric:zz_latency_ms"]
        expect(page.locator("#artifacts thead th.param")).to_have_text("lr")
        latency = page.locator("#artifacts thead th:has(a[data-sort='metric:zz_latency_ms'])")
        assert "lower is better" in latency.get_attribute("title")
        assert "latency" in latency.get_attribute("title")  # why it assumed so
        # click-sortable: ascending, then descending
        latency.locator("a").click()
        assert "sort=metric%3Azz_latency_ms" in page.url and "col=param%3Alr" in page.url
        values = page.locator("td[data-metric=zz_latency_ms]").evaluate_all(
            "ts => ts.map(t => parseFloat(t.dataset.v))"
        )
        assert values == sorted(values) and len(values) == len(KEYS)
        shot(page, "models-columns-chosen")
        # remembered for this project: a visit without ?col= shows the same columns
        page.goto(f"{base}/projects/ml/artifacts?kind=models")
        page.wait_for_url("**col=*")
        expect(page.locator("#artifacts thead th.param")).to_have_text("lr")
        page.click("#column-picker summary")
        page.click("#column-reset")
        page.wait_for_load_state()
        assert "col=" not in page.url
        expect(page.locator("#artifacts thead th.param")).to_have_count(0)


def test_parameter_columns_sort_by_click(site, browser):
    """A parameter column sorts like a metric column: by click, kept in the URL, numbers by
    value (100 after 10), text after numbers, versions without the parameter last."""
    base, _ = site
    with browser_page(
        browser,
        f"{base}/projects/tuning/artifacts?kind=models&col=param:depth&col=metric:auc",
        width=1440,
    ) as page:
        depth = page.locator("#artifacts thead th.param:has(a[data-sort='param:depth'])")
        depth.locator("a").click()
        assert "sort=param%3Adepth" in page.url and "col=param%3Adepth" in page.url
        expect(depth).to_have_attribute("aria-sort", "ascending")
        cells = page.locator("td[data-param=depth]")
        assert cells.all_inner_texts() == ["2", "9", "10", "100", "auto", "—"]
        depth.locator("a").click()
        expect(depth).to_have_attribute("aria-sort", "descending")
        assert cells.all_inner_texts() == ["100", "10", "9", "2", "auto", "—"]
        shot(page, "models-param-sort")
        # a sort by a parameter that is not a chosen column shows that column
        page.goto(f"{base}/projects/tuning/artifacts?kind=models&sort=param:optimizer")
        expect(page.locator("#artifacts thead th.param")).to_have_text("optimizer ▲")


@pytest.mark.parametrize("width", [1440, 390])
def test_sweep_charts_name_each_version(site, browser, width):
    base, _ = site
    with browser_page(
        browser, f"{base}/projects/ml/compare?ref=*&all_versions=true", width=width
    ) as page:
        lines = page.locator("#parallel svg.parallel polyline.run")
        assert lines.count() == 2 * len(KEYS)
        names = lines.evaluate_all("ls => ls.map(l => l.querySelector('title').textContent)")
        assert all(n.split(":")[0] in KEYS for n in names)
        assert any(n.startswith("s:2: ") for n in names) and all("lr=" in n for n in names)
        axes = page.locator("#parallel text.axis-name").evaluate_all(
            "ts => ts.map(t => t.lastChild.textContent)"
        )
        assert axes[:2] == ["lr", "depth"] or axes[:2] == ["depth", "lr"]
        assert "auc" in axes and "zz_latency_ms" in axes
        # hovering a line lifts it; its link opens the version
        lines.last.scroll_into_view_if_needed()
        x, y = lines.last.evaluate(
            """l => { const p = l.getPointAtLength(l.getTotalLength() * 0.07);
                      const m = l.getScreenCTM(); return [p.x * m.a + m.e, p.y * m.d + m.f]; }"""
        )
        page.mouse.move(x, y)
        assert lines.last.evaluate("l => getComputedStyle(l).strokeWidth") == "3.5px"
        page.select_option("#scatter-form select[name=x]", "lr")
        page.select_option("#scatter-form select[name=y]", "zz_latency_ms")
        with page.expect_navigation():  # the form reloads the page with the chosen axes
            page.click("#scatter-form button")
        page.wait_for_selector("#scatter svg.scatter circle.point")
        assert "x=lr" in page.url and "y=zz_latency_ms" in page.url
        dots = page.locator("#scatter svg.scatter circle.point")
        assert dots.count() == 2 * len(KEYS)
        label = dots.first.locator("title").text_content()
        assert "lr=" in label and "zz_latency_ms=" in label
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"sweep-{width}")
        bad = page.goto(f"{base}/projects/ml/compare?ref=*&all_versions=true&x=nope")
        assert bad.status == 400
