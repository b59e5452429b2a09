"""Figures: matplotlib (PNG/SVG/PDF), plotly (self-contained HTML or JSON), or image bytes."""

from __future__ import annotations

import functools
import hashlib
import struct
from typing import Any, BinaryIO

from .base import Materializer

PLOTLY_JS = "plotly.min.js"


@functools.cache
def plotly_js() -> bytes:
    """The plotly.js bundle of the installed plotly (the same bytes for every plot)."""
    from plotly.offline import get_plotlyjs

    bundle: str = get_plotlyjs()
    return bundle.encode()


def _plotly_loader() -> str:
    """plotly.js from the version's extra data (relative to the content URL), else the CDN."""
    from plotly.offline import get_plotlyjs_version

    cdn = f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"
    return (
        f'<script src="extra/{PLOTLY_JS}"></script>'
        f"<script>if (!window.Plotly) document.write('<script src=\"{cdn}\"><\\/script>');"
        "</script>"
    )


class MatplotlibMaterializer(Materializer):
    name = "matplotlib"
    aliases = ("prefect_artifacts.materializers.plot.MatplotlibMaterializer",)
    kind = "plot"
    types = ("matplotlib.figure.Figure",)
    formats = ("png", "svg", "pdf")

    def save(self, prepared: Any, sink: BinaryIO, fmt: str) -> None:
        prepared.savefig(sink, format=fmt, bbox_inches="tight")

    def metadata(self, prepared: Any, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
        width, height = prepared.get_size_inches() * prepared.get_dpi()
        return {"width": round(float(width)), "height": round(float(height))}

    def load(self, data: bytes, version: Any) -> bytes:
        return data


class PlotlyMaterializer(Materializer):
    """HTML that loads plotly.js from the version's extra data ``plotly.min.js`` — stored once,
    content-addressed, for every plot — so each plot is kilobytes, not megabytes; identical
    figures give identical bytes (the div id is derived from the figure). A copy opened away
    from the repository falls back to plotly's CDN. ``format="json"`` keeps the spec."""

    name = "plotly"
    aliases = ("prefect_artifacts.materializers.plot.PlotlyMaterializer",)
    kind = "plot"
    types = ("plotly.graph_objs._figure.Figure", "plotly.graph_objs.Figure")
    formats = ("html", "json")

    def prepare(self, obj: Any, fmt: str, options: dict[str, Any]) -> Any:
        return obj, obj.to_json()

    def save(self, prepared: Any, sink: BinaryIO, fmt: str) -> None:
        figure, spec = prepared
        if fmt == "json":
            sink.write(spec.encode())
            return
        div_id = "plot-" + hashlib.sha256(spec.encode()).hexdigest()[:16]
        html = figure.to_html(include_plotlyjs=False, full_html=True, div_id=div_id)
        sink.write(html.replace("<head>", "<head>" + _plotly_loader(), 1).encode())

    def extras(self, prepared: Any, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
        return {PLOTLY_JS: plotly_js()} if fmt == "html" else {}

    def metadata(self, prepared: Any, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
        layout = prepared[0].layout
        return {"width": layout.width, "height": layout.height}

    def load(self, data: bytes, version: Any) -> bytes:
        return data


class ImageBytesMaterializer(Materializer):
    """Encoded image bytes; the format is read from the magic number."""

    name = "image-bytes"
    aliases = ("prefect_artifacts.materializers.plot.ImageBytesMaterializer",)
    kind = "plot"
    types = (bytes, bytearray, memoryview)
    inferred = False
    formats = ("png", "jpeg", "gif", "webp", "svg", "html", "pdf")

    def default_format(self, obj: Any, options: dict[str, Any]) -> str:
        return sniff_image(bytes(obj[:512])) or "png"

    def save(self, prepared: Any, sink: BinaryIO, fmt: str) -> None:
        sink.write(prepared)

    def metadata(self, prepared: Any, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
        size = png_size(bytes(prepared[:32])) if fmt == "png" else None
        return {"width": size[0], "height": size[1]} if size else {}

    def load(self, data: bytes, version: Any) -> bytes:
        return data


def sniff_image(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF"):
        return "pdf"
    text = head.lstrip().lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "svg"
    if text.startswith((b"<!doctype html", b"<html")):
        return "html"
    return None


def png_size(head: bytes) -> tuple[int, int] | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    return None
