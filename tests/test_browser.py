"""The browser UI in headless Chromium (Debian's /usr/bin/chromium driven by Playwright).
Screenshots of the main pages go to test-output/screenshots/."""

import hashlib
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_page

from .web_data import LONG_KEY, STRESS, fresh_repository, populate, populate_hostile, serving

pytestmark = pytest.mark.slow  # headless Chromium

SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    repo = fresh_repository(tmp_path_factory.mktemp("ui"))
    data = populate(repo)
    data.update(populate_hostile(repo))
    with serving(repo) as base:
        yield base, repo, data


@pytest.fixture
def page(browser):
    with browser_page(browser, width=1400, accept_downloads=True) as page:
        yield page


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
    assert "labels=team%3Dml+source%3Dweb" in page.url  # bookmarkable search
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
    page.click("#diff-link")
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


# -- a populated repository with hostile values, at desktop and phone sizes --------------------------
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
PAGES = {
    "projects": "/projects",
    "stress-list": f"/projects/{STRESS}/artifacts",
    "stress-models": f"/projects/{STRESS}/artifacts?kind=models",
    "wide-dataset": f"/projects/{STRESS}/artifacts/{LONG_KEY}",
    "wide-diff": f"/projects/{STRESS}/artifacts/{LONG_KEY}/diff?a=1&b=2",
    "model-150": f"/projects/{STRESS}/artifacts/churn-model",
    "model-diff-150": f"/projects/{STRESS}/artifacts/churn-model/diff?a=1&b=150",
    "model-extras": f"/projects/{STRESS}/artifacts/churn-xl",
    "lineage": f"/projects/{STRESS}/artifacts/features?depth=3",
    "plotly": f"/projects/{STRESS}/artifacts/plotly-curve",
    "compare": f"/projects/{STRESS}/compare?ref=churn-model:1&ref=churn-model:75&ref=churn-model:150"
    "&ref=churn-xl",
    "compare-datasets": f"/projects/{STRESS}/compare?ref={LONG_KEY}:1&ref={LONG_KEY}:2",
    "compare-empty": f"/projects/{STRESS}/compare",
    "compare-one-metric": f"/projects/{STRESS}/compare?ref=churn-model:1&ref=churn-xl&metric=auc",
    "models-by-metric": f"/projects/{STRESS}/artifacts?kind=models&sort=-metric:auc",
    "dataset-more-rows": f"/projects/{STRESS}/artifacts/{LONG_KEY}?version=2&rows_from=20",
    "empty-search": f"/projects/{STRESS}/artifacts?search=nothing-like-this",
    "bad-filter": f"/projects/{STRESS}/artifacts?kind=foo",
    "not-found": "/no/such/page",
}


def overflow(page) -> int:
    """How far the page is wider than the window (0: no horizontal scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture(params=list(VIEWPORTS))
def sized(request, browser):
    with browser_page(browser, viewport=VIEWPORTS[request.param], accept_downloads=True) as page:
        yield request.param, page


def test_every_page_fits_the_window(site, sized):
    base, _, _ = site
    size, page = sized
    wrong = {}
    for name, path in PAGES.items():
        page.goto(base + path)
        shot(page, f"{size}-{name}")
        if overflow(page) > 0:
            wrong[name] = overflow(page)
    assert wrong == {}
    page.goto(base + PAGES["stress-list"])
    row = page.locator("#artifacts tr[data-key]").first
    assert row.bounding_box()["height"] < 60  # long keys and labels stay on their line
    key_cell = page.locator(f"#artifacts tr[data-key='{LONG_KEY}'] td").first
    assert key_cell.get_attribute("title").startswith(LONG_KEY)  # the full value on hover
    page.goto(base + PAGES["model-150"])  # a squeezed versions table: one line per version
    version_row = page.locator("#versions-table tbody tr").first
    assert version_row.bounding_box()["height"] < 60


def test_projects_page_counts_keys(site, page):
    base, _, _ = site
    page.goto(f"{base}/projects")
    expect(page.locator("#projects")).not_to_contain_text("built-in")
    expect(page.locator(f"#projects tr[data-project={STRESS}] td.num")).to_have_text("7")
    page.click("th a[data-sort=keys]")
    assert page.locator("#projects tbody tr").first.get_attribute("data-project") == STRESS


def test_sorting_by_column_header_and_reverse(site, page):
    base, repo, _ = site
    page.goto(f"{base}/projects/{STRESS}/artifacts")
    before = rows(page)
    page.click("th a[data-sort=key]")
    ascending = rows(page)
    assert ascending == sorted(before) and "sort=key" in page.url
    page.click("th a[data-sort=key]")
    assert rows(page) == ascending[::-1] and "sort=-key" in page.url
    page.click("th a[data-sort=size]")
    sizes = page.locator("#artifacts td.size").evaluate_all("cs => cs.map(c => +c.dataset.v)")
    assert "sort=-size" in page.url and sizes == sorted(sizes, reverse=True)
    assert rows(page) == [v.key for v in repo.list(project=STRESS, sort="-size")]
    expect(page.locator("th[aria-sort] a")).to_contain_text("size")


@pytest.fixture
def desktop(browser):
    with browser_page(browser, viewport=VIEWPORTS["desktop"]) as page:
        yield page


def test_labels_header_offers_the_labels_to_sort_by(site, desktop):
    base, repo, _ = site
    page = desktop
    page.goto(f"{base}/projects/{STRESS}/artifacts")
    before = rows(page)
    menu = page.locator("#label-sort")
    expect(menu.locator("a[data-sort='label:team']")).to_be_hidden()
    menu.locator("summary").click()  # the names on this page: the long key's three and team
    names = menu.locator("a[data-sort]").evaluate_all("as => as.map(a => a.dataset.sort)")
    assert names == ["label:note", "label:owner-group", "label:team"]
    assert overflow(page) <= 0
    # long chips are cut inside their cell, margins included: the cell draws no ellipsis of
    # its own after them (a stray "·" next to each shortened chip)
    spill = page.locator("table.list td.labels").evaluate_all(
        """tds => Math.max(0, ...tds.flatMap(td => {
            const edge = td.getBoundingClientRect().right - parseFloat(getComputedStyle(td).paddingRight);
            return [...td.querySelectorAll('.chip')].map(c =>
                c.getBoundingClientRect().right + parseFloat(getComputedStyle(c).marginRight) - edge);
        }))"""
    )
    assert spill <= 0.5, spill
    shot(page, "desktop-labels-menu")
    menu.locator("a[data-sort='label:team']").click()
    page.wait_for_url("**sort=label%3Ateam**")
    by_team = rows(page)
    assert by_team == [v.key for v in repo.list(project=STRESS, sort="label:team")]
    assert by_team[:2] == [LONG_KEY, "churn-model"] and by_team != before  # labelled first
    expect(page.locator("th[aria-sort=ascending] summary")).to_contain_text("team ▲")
    page.locator("#label-sort summary").click()
    page.click("#label-sort a[data-sort='label:team']")  # again: the reverse, unlabelled last
    page.wait_for_url("**sort=-label%3Ateam**")
    down = rows(page)
    assert down[:2] == ["churn-model", LONG_KEY]  # both ml: the newer first
    assert down == [v.key for v in repo.list(project=STRESS, sort="-label:team")]
    page.goto(f"{base}/projects/{STRESS}/artifacts?sort=label:bad%20name")
    expect(page.locator("#filter-error")).to_contain_text("label:<name> takes a label name")


def test_location_header_sorts_by_the_shown_location(site, desktop):
    base, _, _ = site
    page = desktop
    page.goto(f"{base}/projects/{STRESS}/artifacts?all_versions=true")
    before = rows(page)

    def locations() -> list[str]:
        cells = page.locator("#artifacts button[data-copy]")
        return cells.evaluate_all("bs => bs.map(b => b.dataset.copy)")

    page.click("th a[data-sort=location]")
    page.wait_for_url("**sort=location**")
    shown = locations()
    assert shown == sorted(shown) and len(shown) == 50 and rows(page) != before
    expect(page.locator("th[aria-sort=ascending] a")).to_contain_text("location")
    page.click("a[rel=next]")
    page.wait_for_url("**offset=50**")  # the next page loaded, not the one it leaves
    assert locations()[0] > shown[-1]  # sorted across pages, by the catalog
    page.click("th a[data-sort=location]")  # the reverse, from page 1
    page.wait_for_url("**sort=-location**")
    assert locations() == sorted(locations(), reverse=True) and locations()[0] > shown[-1]
    assert overflow(page) <= 0


def metric_values(page, name: str) -> list[float]:
    cells = page.locator(f"#artifacts td.metric[data-metric='{name}']")
    return cells.evaluate_all("cs => cs.filter(c => c.dataset.v !== '').map(c => +c.dataset.v)")


def test_models_tab_sorts_by_metric_across_pages(site, page):
    base, repo, _ = site
    page.goto(f"{base}/projects/{STRESS}/artifacts?kind=models&all_versions=true")
    page.click("th a[data-sort='metric:auc']")  # first click: ascending, by the catalog
    page.wait_for_url("**sort=metric%3Aauc**")
    first = metric_values(page, "auc")
    assert len(first) == 50 and first == sorted(first)
    expect(page.locator("th[aria-sort=ascending] a")).to_contain_text("auc")
    page.click("a[rel=next]")
    page.wait_for_url("**offset=50**")  # the next page loaded, not the one it leaves
    second = metric_values(page, "auc")
    assert second == sorted(second) and min(second) >= max(first)  # sorted across pages
    page.click("th a[data-sort='metric:auc']")  # second click: the reverse, from page 1
    page.wait_for_url("**sort=-metric%3Aauc**")
    top = metric_values(page, "auc")
    assert top == sorted(top, reverse=True) and top[0] == 0.95  # churn-xl
    assert "offset" not in page.url
    expected = repo.list(project=STRESS, kind="model", all_versions=True, sort="-metric:auc")
    assert rows(page) == [v.key for v in expected[:50]]
    page.goto(f"{base}/projects/{STRESS}/artifacts?kind=models&sort=metric:no%22quote")
    expect(page.locator("#filter-error")).to_contain_text("metric:<name>")


def test_model_metric_charts_and_versions_sorted_by_metric(site, page):
    base, _, _ = site
    page.goto(f"{base}/projects/{STRESS}/artifacts/churn-model")
    charts = page.locator("#metric-charts svg.chart")
    expect(charts).to_have_count(2)
    for metric in ("auc", "logloss"):
        chart = page.locator(f"#metric-charts figure[data-metric={metric}] svg")
        assert chart.get_attribute("data-points") == "150"
        expect(chart.locator("circle")).to_have_count(150)
    best = page.locator("figure[data-metric=logloss] circle.best title")
    assert best.text_content().startswith("v150")  # lower is better: the last one
    assert page.locator("figure[data-metric=logloss]").inner_text().count("lower is better")
    first = page.locator("#versions-table tbody tr").first.get_attribute("data-version")
    page.click("th a[data-sort='metric:auc']")  # ascending auc: the oldest first
    assert page.locator("#versions-table tbody tr").first.get_attribute("data-version") == "1"
    assert first == "150"
    page.click("th a[data-sort='metric:auc']")
    assert page.locator("#versions-table tbody tr").first.get_attribute("data-version") == "150"


def test_compare_three_versions(site, page):
    base, _, _ = site
    page.goto(f"{base}/projects/{STRESS}/artifacts/churn-model")
    page.check("#versions-table input[value='churn-model:140']")
    page.click("#compare-button")
    columns = page.locator("#compare-table th[data-ref]")
    expect(columns).to_have_count(3)
    expect(page.locator("#compare-table tr[data-metric=logloss]")).to_be_visible()
    expect(page.locator("#compare-table tr[data-parameter=depth]")).to_be_visible()
    bars = page.locator("#compare-charts figure[data-metric=auc] svg")
    assert bars.get_attribute("data-points") == "3"
    shot(page, "compare-picked")
    page.goto(base + PAGES["compare"])
    expect(page.locator("#compare-table th[data-ref]")).to_have_count(4)
    best = page.locator("#compare-table tr[data-metric=logloss] td.good")
    expect(best).to_have_text("0.3")  # churn-xl's logloss, the lowest
    page.goto(base + PAGES["compare-datasets"])
    expect(page.locator("#compare-schema")).to_contain_text("value_03")


def test_compare_metric_picker_kept_in_the_url(site, page):
    base, _, _ = site
    page.goto(base + PAGES["compare"])
    picker = page.locator("#metric-picker input[name=metric]")
    expect(picker).to_have_count(2)  # auc and logloss, both shown by default
    assert all(picker.nth(i).is_checked() for i in range(2))
    expect(page.locator("#compare-table tr[data-metric]")).to_have_count(2)
    page.uncheck("#metric-picker input[value=auc]")
    page.click("#metric-picker button[type=submit]")
    page.wait_for_url("**metric=logloss**")
    assert "metric=auc" not in page.url and page.url.count("ref=") == 4
    expect(page.locator("#compare-table th[data-ref]")).to_have_count(4)
    expect(page.locator("#compare-table tr[data-metric]")).to_have_count(1)
    expect(page.locator("#compare-table tr[data-metric=logloss]")).to_be_visible()
    expect(page.locator("#compare-charts figure[data-metric]")).to_have_count(1)
    assert not page.locator("#metric-picker input[value=auc]").is_checked()
    page.goto(base + PAGES["compare"] + "&metric=auc&metric=logloss")
    expect(page.locator("#compare-charts figure[data-metric]")).to_have_count(2)


def test_lineage_graph_links_artifacts_and_runs(site, page):
    base, _, _data = site
    page.goto(f"{base}/projects/{STRESS}/artifacts/features?depth=2")
    graph = page.locator("#lineage-graph svg.lineage")
    expect(graph).to_be_visible()
    nodes = graph.locator("g.node")
    assert nodes.count() == 6  # calm-ant → raw → wise-owl → features → bold-elk → trained
    labels = " ".join(graph.locator("g.node text").all_text_contents())
    for text in ("raw:1", "features:1", "trained:1", "calm-ant", "bold-elk"):
        assert text in labels or text.split(":")[0] in labels, text
    assert graph.locator("path.edge").count() >= 4
    run_link = graph.locator("a[target=_blank]").first.get_attribute("href")
    assert "/runs/flow-run/" in run_link  # resolved now, from the current settings
    page.locator("#lineage-graph a:not([target])", has_text="raw").first.click()
    expect(page.locator("h1")).to_contain_text("raw")
    page.goto(f"{base}/projects/{STRESS}/artifacts/features?depth=0")
    assert page.locator("#lineage-graph g.node").count() < 5


def test_dataset_preview_cells(site, page):
    base, _, _ = site
    page.goto(f"{base}/projects/{STRESS}/artifacts/{LONG_KEY}")
    header = page.locator("#preview th").first
    expect(header).to_have_text("text_00")  # as stored, not upper-cased
    assert header.evaluate("h => getComputedStyle(h).textTransform") == "none"
    assert page.locator("#preview tbody tr").first.bounding_box()["height"] < 40
    flags = page.locator("#preview tbody tr").first.locator("td.bool")
    assert set(flags.all_text_contents()) <= {"true", "false"} and flags.count() > 0
    number = page.locator("#preview tbody tr").first.locator("td.num").first
    assert number.evaluate("c => getComputedStyle(c).textAlign") == "right"
    assert "," in number.text_content()  # 500,000-style grouping everywhere
    stats = page.locator("#stats").inner_text()
    assert "True" not in stats and "1e+" not in stats
    page.click("#preview th[data-sort-client]:has-text('num_02')")
    values = page.locator("#preview tbody tr td:nth-child(3)").all_text_contents()
    numbers = [int(v.replace(",", "")) for v in values]
    assert numbers == sorted(numbers)
    page.click("details.columns-picker summary")
    page.uncheck("input[data-column-toggle='0']")
    expect(page.locator("#preview th").first).to_be_hidden()
    assert page.locator("#stats svg.hist").first.get_attribute("data-points") == "20"


def test_dataset_more_rows_on_demand(site, page):
    base, repo, _ = site
    v = repo.get(LONG_KEY, project=STRESS)
    shown = len(v.preview)
    assert 0 < shown < v.rows == 200
    page.goto(f"{base}/projects/{STRESS}/artifacts/{LONG_KEY}")
    expect(page.locator("#more-rows-table")).to_have_count(0)
    page.click("#more-rows-link")
    page.wait_for_url(f"**rows_from={shown}**")
    table = page.locator("#more-rows-table tbody tr")
    expect(table).to_have_count(50)
    assert table.first.get_attribute("data-row") == str(shown)
    first = table.first.locator("td").first.get_attribute("title")
    assert first.endswith(f"-row{shown:05d}")  # text_00 of that row, from the stored Parquet
    expect(page.locator("#more-rows-table th").first).to_have_text("text_00")
    expect(page.locator("#preview tbody tr")).to_have_count(shown)  # the preview stays
    page.click("#more-rows-link")
    page.wait_for_url(f"**rows_from={shown + 50}**")
    expect(table.first.locator("td").first).to_have_attribute("title", re.compile(r"-row00"))
    assert table.first.locator("td").first.get_attribute("title").endswith(f"-row{shown + 50:05d}")
    page.goto(f"{base}/projects/{STRESS}/artifacts/{LONG_KEY}?version=2&rows_from=180")
    expect(table).to_have_count(20)  # bounded by the end of the data, no further link
    expect(page.locator("#more-rows-link")).to_have_count(0)
    value_04 = page.locator("#more-rows-table thead th").all_text_contents().index("value_04")
    assert page.locator(f"#more-rows-table tbody tr td:nth-child({value_04 + 1})").count() == 20
    page.goto(f"{base}/projects/{STRESS}/artifacts/{LONG_KEY}?rows_from=-5")
    expect(page.locator("body")).to_contain_text("rows_from must be between 0")


def test_diff_colours_and_drift_order(site, page):
    base, _, _ = site
    page.goto(f"{base}/projects/{STRESS}/artifacts/churn-model/diff?a=1&b=150")
    logloss = page.locator("#metric-changes tr", has_text="logloss").locator("td.num").last
    expect(logloss).to_have_class("num good")  # lower is better: a drop is an improvement
    auc = page.locator("#metric-changes tr", has_text="auc").locator("td.num").last
    expect(auc).to_have_class("num good")
    page.goto(f"{base}/projects/{STRESS}/artifacts/{LONG_KEY}/diff?a=1&b=2")
    nulls = page.locator("#drift tr", has_text="nulls").first.locator("td").last
    expect(nulls).to_have_class("num bad")
    assert "%" not in nulls.text_content() or "(from 0)" in nulls.text_content()
    changes = page.locator("#drift tbody tr:not([hidden]) td:last-child").all_text_contents()
    assert all(
        "e+" not in c and abs(float(c.split("(")[1].split()[0])) <= 1000
        for c in changes
        if "(" in c and "%" in c
    )
    assert page.locator("#drift tbody tr").count() <= 200


def test_docs_render_without_network(site, page):
    base, _, _ = site
    outside = []

    def guard(route):
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.goto(f"{base}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("prefect-artifacts")
    expect(page.locator(".opblock").first).to_be_visible()
    shot(page, "docs-offline")
    assert outside == []


def test_plotly_page_is_light(site, page):
    base, _, _ = site
    sizes = {}
    page.on(
        "response",
        lambda r: sizes.__setitem__(r.url, len(r.body()) if r.ok and r.status != 304 else 0),
    )
    page.goto(f"{base}/projects/{STRESS}/artifacts/plotly-curve")
    frame = page.frame_locator("#figure")
    expect(frame.locator(".main-svg").first).to_be_visible(timeout=20_000)
    figure = next(v for u, v in sizes.items() if "/figure?" in u)
    assert figure < 100_000  # plotly.js is not inlined
    scripts = [u for u in sizes if "/assets/plotly-" in u]
    assert len(scripts) == 1
    shot(page, "plotly")


def test_styled_errors_keep_the_form(site, page):
    base, _, _ = site
    page.goto(f"{base}/projects/{STRESS}/artifacts?kind=foo&search=churn")
    expect(page.locator("#filter-error")).to_contain_text("unknown kind")
    expect(page.locator("input[name=search]")).to_have_value("churn")
    response = page.goto(f"{base}/projects/nope/artifacts")
    assert response.status == 404
    expect(page.locator("#filter-error")).to_contain_text("project 'nope' not found")
    response = page.goto(f"{base}/projects/{STRESS}/artifacts/churn-model?version={2**64}")
    assert response.status == 400
    expect(page.locator("#error-message")).to_contain_text("version")
    response = page.goto(f"{base}/no/such/page")
    assert response.status == 404
    expect(page.locator("#error-message")).to_have_text("no such page")
    response = page.goto(f"{base}/projects/{STRESS}/artifacts/churn-model?tag=nope")
    expect(page.locator("#error-message")).to_contain_text("prod (v75)")


def test_downloads_names_types_head_and_ranges(site, page):
    base, _repo, _data = site
    api = f"{base}/api/projects/{STRESS}/artifacts/churn-xl/versions/1"
    chart = page.request.get(f"{api}/extra/chart")
    assert chart.headers["content-type"] == "image/png"
    assert 'filename="churn-xl-v1-chart.png"' in chart.headers["content-disposition"]
    report = page.request.get(f"{api}/extra/report")
    assert report.headers["content-type"] == "application/json"
    model = page.request.get(f"{api}/download")
    assert 'filename="churn-xl-v1.bin"' in model.headers["content-disposition"]
    head = page.request.fetch(f"{api}/download", method="HEAD")
    assert head.status == 200 and head.headers["content-length"] == "2" and head.body() == b""
    etag = model.headers["etag"]
    assert page.request.get(f"{api}/download", headers={"If-None-Match": etag}).status == 304
    part = page.request.get(f"{api}/download", headers={"Range": "bytes=1-"})
    assert part.status == 206 and part.body() == b"l"
    assert part.headers["content-range"] == "bytes 1-1/2"
    assert page.request.fetch(f"{base}/projects", method="HEAD").status == 200
    assert page.request.get(f"{base}/favicon.ico").headers["content-type"] == "image/svg+xml"


def test_usage_snippets_copy_keyboard_and_extras(site, page):
    base, _, _ = site
    page.goto(f"{base}/projects/{STRESS}/artifacts/churn-xl")
    expect(page.locator("#snippet-python")).to_contain_text(
        f'pa.get_artifact("{STRESS}/churn-xl:1").load()'
    )
    expect(page.locator("#snippet-cli")).to_contain_text("prefect-artifacts download churn-xl:1")
    expect(page.locator("#usage")).to_contain_text(f"store://artifacts/{STRESS}/churn-xl:1")
    button = page.locator("#usage button[data-copy]").first
    button.click()
    expect(button).to_have_text("copied")
    image = page.locator("[data-extra=chart] img.extra")
    expect(image).to_be_visible()
    assert image.evaluate("i => i.complete && i.naturalWidth") == 32
    expect(page.locator("[data-extra=report] pre.json")).to_contain_text('"precision": 0.9')
    shot(page, "extras")
    page.goto(f"{base}/projects/{STRESS}/artifacts")
    page.keyboard.press("j")
    page.keyboard.press("j")
    second = rows(page)[1]
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/artifacts/{second}?**")


def test_dark_mode(site, browser):
    base, _, _ = site
    model = f"{base}/projects/{STRESS}/artifacts/churn-model"
    with browser_page(browser, model, height=800, color_scheme="dark") as page:
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(11, 18, 32)"
        shot(page, "dark-model")


def test_editing_needs_writes_and_the_form_token(tmp_path, browser):
    repo = fresh_repository(tmp_path)
    populate(repo, pause=0)
    with (
        serving(repo, allow_writes=True) as base,
        browser_page(browser, f"{base}/projects/default/artifacts/events", height=800) as page,
    ):
        page.fill("#edit-description textarea", "cleaned events")
        page.click("#edit-description button")
        expect(page.locator("#description")).to_have_text("cleaned events")
        page.fill("#edit-labels textarea", "team=data\nstage=gold")
        page.click("#edit-labels button")
        expect(page.locator("#monitor")).to_contain_text("stage=gold")
        assert repo.get("events").labels == {"team": "data", "stage": "gold"}
        page.fill("#edit-tag input[name=tag]", "staging")
        page.click("#edit-tag button:has-text('Set tag')")
        expect(page.locator("h1")).to_contain_text("staging")
        shot(page, "editing")
        forged = page.request.post(
            f"{base}/projects/default/artifacts/events/versions/2/tag",
            form={"tag": "forged"},
        )
        assert forged.status == 403 and "forged" not in repo.get("events:2").tags
