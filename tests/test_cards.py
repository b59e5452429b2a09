"""Prefect cards: content, escaping, links and size."""

import pandas as pd

from prefect_artifacts import ArtifactContext
from prefect_artifacts.prefect.cards import card, escape, prefect_key, sparkline, thumbnail_of

from .web_data import png


def test_prefect_keys_follow_prefect_rules():
    assert prefect_key("default", "My_Data.v2") == "my-data-v2"
    assert prefect_key("team", "x") == "team-x"
    assert prefect_key("default", "__") == "artifact"


def test_card_content_escaping_and_link(repo):
    ctx = ArtifactContext(repo)
    v = ctx.log_dataset(
        "d",
        pd.DataFrame({"x": [1.0, 2.0, 3.0], "s": ["a", "b", "a"]}),
        labels={"note": "a|b *bold* <script>"},
        description="[click](javascript:x)",
    )
    text = card(v, ui_url="http://ui.example:4300/")
    assert "### dataset `d` version 1" in text and v.hash in text and v.target_path in text
    assert "<script>" not in text and "\\<script\\>" in text and "a\\|b" in text
    assert "[click](javascript" not in text
    assert (
        "[Open in prefect-artifacts](http://ui.example:4300/projects/default/artifacts/d?version=1)"
        in text
    )
    assert "| x | double | 0 |" in text and "3 rows × 2 columns" in text
    assert "[Open in" not in card(v)  # no UI configured, no link


def test_model_and_plot_cards(repo):
    ctx = ArtifactContext(repo)
    m = ctx.log_model("m", body=b"w", metrics={"auc": 0.91234567}, parameters={"depth": 3})
    text = card(m)
    assert "**Metrics**" in text and "| auc | 0.912346 |" in text and "| depth | 3 |" in text
    big = png(2000, 1500)
    thumb, media = thumbnail_of(big, "png")
    assert media == "image/png" and len(thumb) < len(big)
    import io

    from PIL import Image

    assert max(Image.open(io.BytesIO(thumb)).size) <= 480
    plot = ctx.log_plot("p", big)
    assert "data:image/png;base64," in card(plot, thumbnail=thumb)
    assert "The image is at" in card(plot)
    assert thumbnail_of(b"<html></html>", "html") is None


def test_helpers():
    assert sparkline([0, 5, 10]) == "▁▅█" and sparkline([]) == ""
    assert escape("a\nb") == "a b"
