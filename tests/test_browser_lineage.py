"""The lineage graph as a layered DAG in the browser (headless Debian Chromium): every edge runs
left to right, no edge passes behind a node other than its own two ends, and nodes never
overlap — with an edge that skips columns (a scoring run reading both the model and the
features the model was trained on)."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from prefect_artifacts import ArtifactContext
from tests.conftest import browser_page

from .test_browser import shot
from .web_data import fresh_repository, named_runs, serving

pytestmark = pytest.mark.slow  # headless Chromium

GEOMETRY = """() => {
  const svg = document.querySelector('#lineage-graph svg.lineage');
  const boxes = Array.from(svg.querySelectorAll('g.node')).map(g => {
    const b = g.querySelector('rect').getBBox();
    return {id: g.dataset.node, x: b.x, y: b.y, w: b.width, h: b.height};
  });
  const edges = Array.from(svg.querySelectorAll('path.edge')).map(p => {
    const [source, target] = p.dataset.edge.split(' ');
    const n = p.getTotalLength(), pts = [];
    for (let i = 0; i <= 200; i++) { const q = p.getPointAtLength(n * i / 200); pts.push([q.x, q.y]); }
    return {source, target, pts};
  });
  return {boxes, edges};
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    repo = fresh_repository(tmp_path_factory.mktemp("lineage"))
    ctx = ArtifactContext(repo)
    with named_runs() as run_as:
        run_as("ingest")
        raw = ctx.log_dataset("raw", pd.DataFrame({"a": range(5)}))
        run_as("features")
        raw.load()
        features = ctx.log_dataset("features", pd.DataFrame({"a": range(5), "b": range(5)}))
        run_as("train")
        features.load()
        model = ctx.log_model("churn-model", body=b"m", model_file="m.bin", metrics={"auc": 0.8})
        run_as("score")
        model.load()
        features.load()  # the skip: features → score run passes the train run and the model
        ctx.log_dataset("scores", pd.DataFrame({"p": [0.1, 0.9]}))
    with serving(repo) as base:
        yield base


def inside(point, box, inset: float = 1.0) -> bool:
    x, y = point
    return (
        box["x"] + inset < x < box["x"] + box["w"] - inset
        and box["y"] + inset < y < box["y"] + box["h"] - inset
    )


@pytest.mark.parametrize("page_of", ["churn-model", "features", "scores"])
def test_edges_run_forward_and_never_behind_nodes(site, browser, page_of):
    with browser_page(
        browser, f"{site}/projects/default/artifacts/{page_of}?depth=4", width=1440
    ) as page:
        geometry = page.evaluate(GEOMETRY)
        boxes = {b["id"]: b for b in geometry["boxes"]}
        assert len(boxes) >= 5 and len(geometry["edges"]) >= 4
        for edge in geometry["edges"]:
            source, target = boxes[edge["source"]], boxes[edge["target"]]
            assert target["x"] > source["x"] + source["w"], edge["source"] + " → " + edge["target"]
            xs = [x for x, _ in edge["pts"]]
            assert (
                xs == sorted(xs) or max(a - b for a, b in itertools.pairwise(xs)) < 0.5
            )  # never doubles back
            for node_id, box in boxes.items():
                if node_id in (edge["source"], edge["target"]):
                    continue
                crossed = [p for p in edge["pts"] if inside(p, box)]
                assert not crossed, f"{edge['source']} → {edge['target']} behind {node_id}"
        placed = list(boxes.values())
        for i, a in enumerate(placed):
            for b in placed[i + 1 :]:
                apart = (
                    a["x"] + a["w"] <= b["x"]
                    or b["x"] + b["w"] <= a["x"]
                    or a["y"] + a["h"] <= b["y"]
                    or b["y"] + b["h"] <= a["y"]
                )
                assert apart, f"{a['id']} overlaps {b['id']}"
        if page_of == "features":
            skip = [e for e in geometry["edges"] if e["source"] == "default/features:1"]
            assert any(boxes[e["target"]]["x"] - boxes[e["source"]]["x"] > 400 for e in skip)
            page.locator("#lineage-graph").scroll_into_view_if_needed()
            shot(page, "lineage-layered")
