"""Markdown cards that Prefect's UI shows on the run that logged a version.

Pure functions of a version (and, for plots, a thumbnail): every value that came from a user
is escaped, and a card stays small — a thumbnail, never the full figure.
"""

from __future__ import annotations

import base64
import io
import re
from typing import Any
from urllib.parse import quote

from ..core.formatting import size_text, sparkline
from ..core.models import ArtifactVersion, DatasetVersion, ModelVersion, PlotVersion

THUMBNAIL_PX = (480, 360)
SVG_INLINE_MAX = 200_000
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def prefect_key(project: str, key: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    text = key if project == "default" else f"{project}-{key}"
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-") or "artifact"


def escape(value: Any) -> str:
    """Markdown-escape a value for a table cell or inline text (no HTML, no links)."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", text)


def detail_url(ui_url: str | None, version: ArtifactVersion) -> str | None:
    if not ui_url:
        return None
    base = ui_url.rstrip("/")
    return f"{base}/projects/{quote(version.project)}/artifacts/{quote(version.key)}?version={version.version}"


def card(
    version: ArtifactVersion,
    *,
    ui_url: str | None = None,
    thumbnail: bytes | None = None,
    thumbnail_type: str = "image/png",
) -> str:
    """The markdown card for ``version``."""
    lines = [f"### {escape(version.kind)} `{version.key}` version {version.version}", ""]
    if version.description:
        lines += [escape(version.description), ""]
    rows = [
        ("location", f"`{version.target_path}`"),
        (
            "type",
            f"{escape(version.kind)} ({escape(version.format)}, {escape(version.content_type)})",
        ),
        ("hash", f"`sha256:{version.hash}`"),
        ("size", size_text(version.size)),
        ("labels", ", ".join(escape(f"{k}={v}") for k, v in version.labels.items()) or "—"),
        ("tags", ", ".join(escape(t) for t in version.tags) or "—"),
        ("producer", escape(version.producer.describe())),
        ("owner", escape(version.owner or "—")),
        ("updated", version.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]
    if isinstance(version, DatasetVersion) and version.rows is not None:
        rows.insert(4, ("shape", f"{version.rows:,} rows × {version.columns} columns"))
    lines += ["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows), ""]
    if isinstance(version, ModelVersion):
        lines += _model_section(version)
    elif isinstance(version, DatasetVersion):
        lines += _dataset_section(version)
    elif isinstance(version, PlotVersion):
        if thumbnail:
            encoded = base64.b64encode(thumbnail).decode()
            lines += [f"![{escape(version.key)}](data:{thumbnail_type};base64,{encoded})", ""]
        else:
            lines += [f"The image is at `{version.target_path}` ({escape(version.format)}).", ""]
    if version.extra_data:
        lines += ["**Extra data**", "", "| name | size | source |", "|---|---|---|"]
        lines += [
            f"| {escape(name)} | {size_text(e.size)} | {escape(e.artifact or e.source)} |"
            for name, e in version.extra_data.items()
        ]
        lines.append("")
    link = detail_url(ui_url, version)
    if link:
        lines.append(f"[Open in prefect-artifacts]({link})")
    return "\n".join(lines)


def _model_section(version: ModelVersion) -> list[str]:
    lines: list[str] = []
    if version.metrics:
        lines += ["**Metrics**", "", "| metric | value |", "|---|---|"]
        lines += [f"| {escape(k)} | {v:.6g} |" for k, v in version.metrics.items()]
        lines.append("")
    if version.parameters:
        lines += ["**Parameters**", "", "| parameter | value |", "|---|---|"]
        lines += [
            f"| {escape(k)} | {escape(v)} |" for k, v in list(version.parameters.items())[:50]
        ]
        lines.append("")
    details = [
        f"model file `{version.model_file}`" if version.model_file else None,
        f"framework {escape(version.framework)}" if version.framework else None,
        f"algorithm {escape(version.algorithm)}" if version.algorithm else None,
    ]
    if any(details):
        lines += [", ".join(d for d in details if d), ""]
    return lines


def _dataset_section(version: DatasetVersion) -> list[str]:
    if not version.stats:
        names = ", ".join(f"{escape(c['name'])} ({escape(c['type'])})" for c in version.schema[:30])
        return [f"**Schema**: {names}", ""] if names else []
    lines = [
        "**Columns**",
        "",
        "| column | type | nulls | summary | distribution |",
        "|---|---|---|---|---|",
    ]
    for name, stats in list(version.stats.items())[:30]:
        if "mean" in stats:
            summary = (
                f"mean {_num(stats['mean'])}, min {_num(stats['min'])}, max {_num(stats['max'])}"
            )
        elif "unique" in stats:
            top = ", ".join(escape(t["value"]) for t in stats.get("top", [])[:3])
            summary = f"{stats['unique']:,} unique; top: {top}"
        elif "min" in stats:
            summary = f"{escape(stats['min'])} … {escape(stats['max'])}"
        else:
            summary = ""
        spark = sparkline(stats.get("hist", {}).get("counts", []))
        lines.append(
            f"| {escape(name)} | {escape(stats['type'])} | {stats['nulls']:,} | "
            f"{summary} | {spark} |"
        )
    return [*lines, ""]


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else escape(value)


def thumbnail_of(data: bytes, fmt: str) -> tuple[bytes, str] | None:
    """A small PNG (or the SVG itself) to embed in a card, or None."""
    if fmt == "svg":
        return (data, "image/svg+xml") if len(data) <= SVG_INLINE_MAX else None
    if fmt not in ("png", "jpeg", "gif", "webp"):
        return None
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail(THUMBNAIL_PX)
        out = io.BytesIO()
        image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(
            out, format="PNG", optimize=True
        )
    return out.getvalue(), "image/png"
