"""Line charts of a metric across many versions: the line through every version, at most about
MAX_DOTS hoverable dots, and the best and the last version always among them."""

from __future__ import annotations

import re

from prefect_artifacts.web.charts import MAX_DOTS, Point, line_chart


def test_a_long_series_draws_every_point_in_the_line_but_fewer_dots():
    values = [0.5 + (i % 37) / 100 for i in range(1000)]
    values[613] = 0.99  # the best, off the every-k-th grid
    svg = str(
        line_chart("auc", [Point(f"v{i + 1}", x) for i, x in enumerate(values)], lower_better=False)
    )
    assert 'data-points="1000"' in svg
    assert len(re.search(r'<polyline class="series" points="([^"]*)"', svg)[1].split()) == 1000
    dots = re.findall(r"<title>(v\d+):", svg)
    assert MAX_DOTS // 2 < len(dots) <= MAX_DOTS + 2
    assert "v614" in dots and dots[-1] == "v1000"
    assert 'class="point best"' in svg and "v614: auc = 0.99 (best)" in svg


def test_a_short_series_has_a_dot_per_version():
    svg = str(line_chart("loss", [Point(f"v{i}", 1 / i) for i in range(1, 151)], lower_better=True))
    assert len(re.findall("<circle", svg)) == 150
