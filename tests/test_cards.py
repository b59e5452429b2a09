"""Prefect cards: content, escaping (user values are code spans), links and size."""

import re

import pandas as pd

from prefect_artifacts import ArtifactContext
from prefect_artifacts.prefect.cards import card, preview, sparkline, text, thumbnail_of

from .web_data import png


def test_card_content_escaping_and_links(repo):
    ctx = ArtifactContext(repo)
    v = ctx.log_dataset(
        "d",
        pd.DataFrame({"x": [1.0, 2.0, 3.0], "s": ["a", "b", "a"]}),
        labels={"note": "a|b *bold* <script> http://evil.example"},
        description="[click](javascript:x)",
    )
    markdown = card(v, ui_url="http://ui.example:4300/")
    assert "### Dataset, version 1" in markdown and "| key | `d` |" in markdown
    assert v.target_path in markdown and f"sha256:{v.hash}" in markdown  # in a code block
    assert f"`sha256:{v.hash[:16]}…`" in markdown
    assert "`note=a\\|b *bold* <script> http://evil.example`" in markdown  # one code span
    assert "`[click](javascript:x)`" in markdown
    outside_code = re.sub(r"`[^`]*`", "", markdown.split("**Location**")[0])
    for raw in ("<script>", "*bold*", "[click]", "http://evil"):
        assert raw not in outside_code, raw
    assert (
        "[Open in prefect-artifacts](http://ui.example:4300/projects/default/artifacts/d?version=1)"
        in markdown
    )
    assert "| `x` | `double` | 0 |" in markdown and "3 rows × 2 columns" in markdown
    unset = card(v)  # no UI URL configured: no dead link, the command that shows it instead
    assert "](http" not in unset and "127.0.0.1:4300" not in unset
    assert unset.endswith("Open it with `prefect-artifacts show default/d:1`")


def test_a_shortened_location_keeps_its_scheme():
    from types import SimpleNamespace

    from prefect_artifacts.prefect.cards import short_location

    digest = "ab" * 32
    deep = "s3://bucket/" + "/".join(f"folder-{i}" for i in range(20)) + f"/blobs/{digest}"
    shown = short_location(SimpleNamespace(target_path=deep))
    assert shown.startswith("s3://bucket/…") and shown.endswith(f"/blobs/{digest[:12]}…")
    assert len(shown) <= 80
    local = "/data/" + "x" * 80 + f"/{digest}"
    assert short_location(SimpleNamespace(target_path=local)).startswith("/data/xxxxxx…")
    short = f"s3://b/blobs/{digest}"
    assert short_location(SimpleNamespace(target_path=short)) == f"s3://b/blobs/{digest[:12]}…"


def test_long_values_are_shortened_in_cells(repo):
    v = ArtifactContext(repo).log_artifact("k" * 128, b"x", labels={"long": "v" * 200})
    markdown = card(v)
    table = markdown.split("**Location**")[0]
    assert v.hash not in table  # the 64-digit hash only in the location's code block
    assert max(len(line) for line in table.splitlines() if "| labels |" in line) < 400
    assert "…`" in table  # shortened with an ellipsis


def test_model_and_plot_cards(repo):
    ctx = ArtifactContext(repo)
    m = ctx.log_model("m", body=b"w", metrics={"auc": 0.91234567}, parameters={"depth": 3})
    markdown = card(m)
    assert "**Metrics**" in markdown and "| `auc` | 0.912346 |" in markdown
    assert "| `depth` | `3` |" in markdown
    big = png(2000, 1500)
    thumb, media = thumbnail_of(big, "png")
    assert media == "image/png" and len(thumb) < len(big)
    import io

    from PIL import Image

    assert max(Image.open(io.BytesIO(thumb)).size) <= 480
    plot = ctx.log_plot("p", big)
    assert "data:image/png;base64," in card(plot, thumbnail=thumb)
    assert "figure: open it in the browser UI" in card(plot)
    assert thumbnail_of(b"<html></html>", "html") is None


def test_helpers(repo):
    assert sparkline([0, 5, 10]) == "▁▅█" and sparkline([]) == ""
    assert text("a\nb") == "`a b`" and text("x" * 300, 10) == "`" + "x" * 9 + "…`"
    assert text("a`b") == "``a`b``" and text("`x`") == "`` `x` ``" and text("") == "—"
    assert text("a|b") == "`a\\|b`" and text("a|b", cell=False) == "`a|b`"
    v = ArtifactContext(repo).log_dataset("d", pd.DataFrame({"a*": ["[x]"], "n": [None]}))
    table = preview(v, v.preview)
    assert "| `a*` | `n` |" in table and "| `[x]` |  |" in table


def test_sampled_string_statistics_in_the_card(repo):
    rows = 300_000
    df = pd.DataFrame({"id": [f"id-{i}" for i in range(rows)], "c": ["x", "y", "z"] * (rows // 3)})
    markdown = card(ArtifactContext(repo).log_dataset("big", df))
    assert "| `id` | `large_string` | 0 | ≈ distinct count unknown; top: " in markdown
    assert "| `c` | `large_string` | 0 | ≈ 3 unique; top: " in markdown


def test_a_preview_keeps_a_meaningful_index(repo):
    described = pd.DataFrame({"x": [1.0, 2.0, 3.0]}).describe()
    v = ArtifactContext(repo).log_dataset("described", described)
    assert [row["(index)"] for row in v.preview[:3]] == ["count", "mean", "std"]
    assert "| `(index)` | `x` |" in preview(v, v.preview) and "| `mean` | 2 |" in preview(
        v, v.preview
    )
    plain = ArtifactContext(repo).log_dataset("plain", pd.DataFrame({"x": [1, 2]}))
    assert plain.preview == [{"x": 1}, {"x": 2}]  # a default 0..n-1 index adds nothing
