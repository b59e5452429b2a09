"""A multi-part dataset's detail page in headless Chromium: the parts table (count, sizes),
the merged statistics, no horizontal overflow on a laptop or a phone, and the download button
giving one Parquet file equal to ``load()``. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from prefect_artifacts.core.formatting import size_text
from tests.conftest import browser_page

from .test_bigdata import PART, chunks
from .test_browser import VIEWPORTS, overflow, shot
from .web_data import fresh_repository, serving

pytestmark = pytest.mark.slow  # headless Chromium


@pytest.fixture(scope="module")
def parts_site(tmp_path_factory):
    repo = fresh_repository(tmp_path_factory.mktemp("parts-ui"))
    v = repo.log("events", chunks(), options={"part_size": PART})
    with serving(repo) as base:
        yield base, repo, v


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_parts_table_and_merged_stats_fit_the_window(parts_site, browser, size):
    base, _, v = parts_site
    with browser_page(
        browser, f"{base}/projects/default/artifacts/events", viewport=VIEWPORTS[size]
    ) as page:
        heading = page.locator("h2", has_text="Parts")
        expect(heading).to_contain_text(f"{v.part_count} Parquet parts")
        expect(heading).to_contain_text(f"{size_text(v.size)} in all")
        type_row = page.locator("dt", has_text="type").first.locator(
            "xpath=following-sibling::dd[1]"
        )
        expect(type_row).to_have_text(
            f"dataset · parquet · {v.part_count} Parquet parts (a part index)"
        )
        table = page.locator("#parts")
        expect(table.locator("tr")).to_have_count(v.part_count + 1)  # header + one per part
        cells = table.locator("tr").nth(1).locator("td")
        expect(cells.nth(1)).to_have_text(f"{v.parts[0].rows:,}")
        expect(cells.nth(2)).to_have_text(size_text(v.parts[0].size))
        expect(cells.nth(3)).to_contain_text(v.parts[0].hash[:16])
        table.scroll_into_view_if_needed()
        expect(table).to_be_visible()
        stats = page.locator("#stats")
        expect(stats.locator("tr", has_text="amount")).to_contain_text(f"{v.rows:,}")
        expect(stats.locator("svg.hist").first).to_be_visible()
        shot(page, f"{size}-dataset-parts")
        assert overflow(page) == 0
        if size == "desktop":  # on a laptop the statistics fit without scrolling sideways
            box = "t => t.parentElement.scrollWidth - t.parentElement.clientWidth"
            assert stats.evaluate(box) <= 0


def test_download_button_gives_one_parquet_file(parts_site, browser, tmp_path):
    base, _, v = parts_site
    with browser_page(
        browser,
        f"{base}/projects/default/artifacts/events",
        viewport=VIEWPORTS["desktop"],
        accept_downloads=True,
    ) as page:
        with page.expect_download() as info:
            page.click("#download")
        download = info.value
        assert download.suggested_filename == "events-v1.parquet"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        pd.testing.assert_frame_equal(pd.read_parquet(Path(saved)), v.load())
