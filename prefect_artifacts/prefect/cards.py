"""Markdown cards that Prefect's UI shows on the run that logged a version.

Pure functions of a version (and, for plots, a thumbnail). Every value that came from a user is
a code span: the one markdown construct that both of Prefect's UIs show literally — no emphasis,
no links, no autolinked URLs, no HTML, no character references decoded, no stray backslashes
(checked in a browser: Prefect's V1 UI shows ``&#42;`` as typed, its V2 UI autolinks URLs even
through backslash escapes). Only links this module builds are links. A card stays small (a
thumbnail, never the full figure) and narrow (long values are shortened; the full location and
hash are in a code block that scrolls). The dataset preview is a markdown table of code spans
too: Prefect's table artifacts render cells as markdown in one UI and as plain text in the other,
so no escaping suits both.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from ..core.formatting import size_text, sparkline
from ..core.models import ArtifactVersion, DatasetVersion, ModelVersion, PlotVersion, Producer

THUMBNAIL_PX = (480, 360)
SVG_INLINE_MAX = 200_000
CELL_MAX = 120  # characters of a user value shown in a card cell


def text(value: Any, limit: int = CELL_MAX, *, cell: bool = True) -> str:
    """A user value as a literal code span: one line, at most ``limit`` characters. In a table
    ``cell``, ``|`` is escaped (GFM removes the backslash before it shows the span)."""
    raw = " ".join(str(value).split())
    if not raw:
        return "—"
    if len(raw) > limit:
        raw = raw[: limit - 1] + "…"
    if cell:
        raw = raw.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", raw)), default=0) + 1)
    pad = " " if raw.startswith("`") or raw.endswith("`") else ""
    return f"{fence}{pad}{raw}{pad}{fence}"


def link(label: str, url: str | None) -> str:
    """A link with our own label to one of our URLs (http/https), or nothing. User values are
    never link labels: Prefect's V1 UI shows backslash escapes inside link labels as typed."""
    if not url or not url.startswith(("http://", "https://")):
        return ""
    return f" · [{label}]({quote(url, safe=':/?&=#%@+,;~')})"


def short_hash(digest: str) -> str:
    return f"sha256:{digest[:16]}…"


def short_location(version: ArtifactVersion) -> str:
    """The location with the 64-digit file name cut to its first 12 digits and a long folder
    cut in the middle, keeping its scheme: ``s3://bucket/…/tail/abcdef012345…``."""
    head, _, name = version.target_path.rpartition("/")
    if len(head) > 60:
        scheme, sep, rest = head.partition("://")
        start = f"{scheme}://{rest.split('/', 1)[0]}/" if sep else head[:12]
        head = start + "…" + head[-(59 - len(start)) :] if len(start) < 40 else "…" + head[-59:]
    return f"{head}/{name[:12]}…"


def detail_url(ui_url: str | None, version: ArtifactVersion) -> str | None:
    """The version's page in the browser UI at ``ui_url`` (``PREFECT_ARTIFACTS_UI_URL``), or
    None when no UI URL is configured: a link to an address no UI serves is worse than none."""
    if not ui_url:
        return None
    base = ui_url.rstrip("/")
    return (
        f"{base}/projects/{quote(version.project, safe='')}/artifacts/"
        f"{quote(version.key, safe='')}?version={version.version}"
    )


def extra_url(ui_url: str | None, version: ArtifactVersion, name: str) -> str | None:
    if not ui_url:
        return None
    base = ui_url.rstrip("/")
    return (
        f"{base}/api/projects/{quote(version.project, safe='')}/artifacts/"
        f"{quote(version.key, safe='')}/versions/{version.version}/extra/{quote(name, safe='')}"
    )


def run_page_url(ui_url: str | None, project: str, run_id: str | None) -> str | None:
    """A run's page in the browser UI (its metric curves, results and versions), when a UI URL
    is configured; else None (cards link only to a UI that someone set up)."""
    if not ui_url or not run_id:
        return None
    return f"{ui_url.rstrip('/')}/projects/{quote(project, safe='')}/runs/{quote(run_id, safe='')}"


def metrics_table(metrics: dict[str, dict[str, float]], limit: int = 30) -> list[str]:
    """A run's curves summarised: one row per metric (last, min, max, points)."""
    lines = ["| metric | last | min | max | points |", "|---|---|---|---|---|"]
    lines += [
        f"| {text(k, 60)} | {m['last']:.6g} | {m['min']:.6g} | {m['max']:.6g} | {int(m['points'])} |"
        for k, m in list(metrics.items())[:limit]
    ]
    return [*lines, ""]


SWEEP_ROWS = 30  # iterations listed in a sweep's card (the most recent)
SWEEP_METRICS = 3  # metric columns (the card fits beside the V2 UI's side panel at 1280 px)


def sweep(key: str, run_id: str, recent: list[ArtifactVersion], total: int) -> list[str]:
    """The section that heads a sweep's card: how many iterations of ``key`` the run logged
    (``total``), and the most recent of them (``recent``, at most ``SWEEP_ROWS``) with their
    first metrics (the newest version's card follows)."""
    shown = sorted(recent, key=lambda v: v.version)
    names: list[str] = []
    for version in shown:
        for name in getattr(version, "metrics", None) or {}:
            if name not in names and len(names) < SWEEP_METRICS:
                names.append(name)
    lines = [
        f"### Sweep of {text(key, 80, cell=False)}: {total:,} iterations logged by this run",
        "",
        "| iteration | version | " + " | ".join(text(n, 16) for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for version in shown:
        metrics = getattr(version, "metrics", None) or {}
        cells = [_num(metrics[n]) if n in metrics else "—" for n in names]
        iteration = "—" if version.iteration is None else version.iteration
        lines.append(f"| {iteration} | {version.version} | " + " | ".join(cells) + " |")
    lines.append("")
    if total > len(shown):
        command = f"prefect-artifacts ls -k {key} -a --producer {run_id}"
        lines += [
            f"The {len(shown)} most recent are listed; all of them: "
            f"{text(command, 200, cell=False)}",
            "",
        ]
    return lines


def run_card(
    metrics: dict[str, dict[str, float]], results: dict[str, Any], page: str | None
) -> str:
    """The markdown card of a run's step metrics and results."""
    lines = ["### Metrics and results of this run", ""]
    if metrics:
        lines += ["**Step metrics**", "", *metrics_table(metrics)]
    if results:
        lines += ["**Results**", "", "| result | value |", "|---|---|"]
        lines += [f"| {text(k, 60)} | {text(v, 80)} |" for k, v in list(results.items())[:50]]
        lines.append("")
    if page:
        lines.append(link("Curves in prefect-artifacts", page).removeprefix(" · "))
    else:
        lines.append(
            "The curves: `prefect-artifacts metrics <run id>` or the run's page in `prefect-artifacts ui`."
        )
    return "\n".join(lines)


def card(
    version: ArtifactVersion,
    *,
    run_metrics: dict[str, dict[str, float]] | None = None,
    ui_url: str | None = None,
    run_url: Callable[[Producer], str | None] = lambda p: p.link,
    logged_by: Producer | None = None,
    thumbnail: bytes | None = None,
    thumbnail_type: str = "image/png",
) -> str:
    """The markdown card for ``version``. ``logged_by``: the run that re-logged identical
    content (it is named as this card's producer; the version's first producer is noted)."""
    producer = logged_by or version.producer
    rows = [
        ("location", text(short_location(version))),
        ("type", text(f"{version.kind} ({version.format}, {version.content_type})")),
        ("hash", text(short_hash(version.hash))),
        ("size", size_text(version.size)),
        ("labels", ", ".join(text(f"{k}={v}", 60) for k, v in version.labels.items()) or "—"),
        ("tags", ", ".join(text(t) for t in version.tags) or "—"),
        ("producer", text(producer.describe()) + link("open run", run_url(producer))),
        ("owner", text(version.owner or "—")),
        ("updated", version.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]
    if logged_by is not None and logged_by.run_id != version.producer.run_id:
        rows.insert(7, ("first logged", text(version.producer.describe())))
    if isinstance(version, DatasetVersion) and version.rows is not None:
        rows.insert(4, ("shape", f"{version.rows:,} rows × {version.columns} columns"))
        if version.part_count:
            rows.insert(
                5, ("parts", f"{version.part_count} Parquet parts, {size_text(version.size)}")
            )
    lines = [f"### {version.kind.capitalize()}, version {version.version}", ""]
    if version.description:
        lines += [text(version.description, 500, cell=False), ""]
    lines += [f"| key | {text(version.key, 80)} |", "|---|---|"]
    lines += [*(f"| {name} | {value} |" for name, value in rows), ""]
    if isinstance(version, ModelVersion):
        lines += _model_section(version)
    if run_metrics:
        lines += ["**Step metrics of the run that logged it**", "", *metrics_table(run_metrics)]
    elif isinstance(version, DatasetVersion):
        lines += _dataset_section(version)
    elif isinstance(version, PlotVersion):
        if thumbnail:
            encoded = base64.b64encode(thumbnail).decode()
            lines += [f"![{version.kind}](data:{thumbnail_type};base64,{encoded})", ""]
        else:
            lines += [
                f"A {text(version.format, cell=False)} figure: open it in the browser UI.",
                "",
            ]
    if version.extra_data:
        lines += ["**Extra data**", "", "| name | size | source |", "|---|---|---|"]
        lines += [
            f"| {text(name, 60)}{link('download', extra_url(ui_url, version, name))} "
            f"| {size_text(e.size)} "
            f"| {text(e.artifact or e.source, 60)} |"
            for name, e in version.extra_data.items()
        ]
        lines.append("")
    fence = "````" if "```" in version.target_path else "```"
    lines += ["**Location**", "", fence, version.target_path, f"sha256:{version.hash}", fence, ""]
    url = detail_url(ui_url, version)
    if url:
        lines.append(link("Open in prefect-artifacts", url).removeprefix(" · "))
    else:  # no UI configured: say how to see it (set PREFECT_ARTIFACTS_UI_URL for a link)
        lines.append(
            f"Open it with {text(f'prefect-artifacts show {version.ref}', 200, cell=False)}"
        )
    return "\n".join(lines)


def _model_section(version: ModelVersion) -> list[str]:
    lines: list[str] = []
    if version.metrics:
        lines += ["**Metrics**", "", "| metric | value |", "|---|---|"]
        lines += [f"| {text(k, 60)} | {v:.6g} |" for k, v in version.metrics.items()]
        lines.append("")
    if version.parameters:
        lines += ["**Parameters**", "", "| parameter | value |", "|---|---|"]
        lines += [
            f"| {text(k, 60)} | {text(v, 80)} |" for k, v in list(version.parameters.items())[:50]
        ]
        lines.append("")
    details = [
        f"model file {text(version.model_file, 80, cell=False)}" if version.model_file else None,
        f"framework {text(version.framework, cell=False)}" if version.framework else None,
        f"algorithm {text(version.algorithm, cell=False)}" if version.algorithm else None,
    ]
    if any(details):
        lines += [", ".join(d for d in details if d), ""]
    return lines


def _dataset_section(version: DatasetVersion) -> list[str]:
    if not version.stats:
        names = ", ".join(
            f"{text(c['name'], 40)} ({text(c['type'], 30)})" for c in version.schema[:30]
        )
        return [f"**Schema**: {names.replace(chr(92) + '|', '|')}", ""] if names else []
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
            top = ", ".join(text(t["value"], 16) for t in stats.get("top", [])[:2])
            unique = stats["unique"]
            summary = f"{unique:,} unique" if unique is not None else "distinct count unknown"
            summary = f"{'≈ ' if stats.get('approx') else ''}{summary}; top: {top}"
        elif "min" in stats:
            summary = f"{text(stats['min'], 30)} … {text(stats['max'], 30)}"
        else:
            summary = ""
        spark = sparkline(stats.get("hist", {}).get("counts", []))
        lines.append(
            f"| {text(name, 40)} | {text(stats['type'], 30)} | {stats['nulls']:,} | "
            f"{summary} | {spark} |"
        )
    return [*lines, ""]


PREVIEW_COLUMNS = 8  # the preview card shows the first columns; the browser UI shows all


def preview(version: DatasetVersion, rows: list[dict[str, Any]]) -> str:
    """A dataset's first rows as a markdown table of literal cells (first PREVIEW_COLUMNS
    columns, cells shortened), with a link to the full preview in the browser UI."""
    columns = list(rows[0])[:PREVIEW_COLUMNS] if rows else []
    lines = [
        f"### Preview, version {version.version}",
        "",
        f"First {len(rows)} of {version.rows or 0:,} rows"
        + (
            f", first {len(columns)} of {len(rows[0])} columns"
            if rows and len(rows[0]) > len(columns)
            else ""
        )
        + ".",
        "",
        "| " + " | ".join(text(c, 30) for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


SAFE_CELL = re.compile(r"[A-Za-z0-9 .,:;=+/()%-]{0,40}")  # text both UIs show as typed


def preview_artifact(version: DatasetVersion, rows: list[dict[str, Any]]) -> tuple[str, str]:
    """The separate preview: a native Prefect table (``"table"``, JSON rows) when every cell is
    a number, a boolean, empty or plain text that both of Prefect's UIs show as typed; else the
    markdown table of literal cells (``"markdown"``)."""
    import json

    columns = list(rows[0])[:PREVIEW_COLUMNS] if rows else []
    cells = [r.get(c) for r in rows for c in columns]
    if rows and all(
        isinstance(c, (int, float, bool, type(None)))
        or (isinstance(c, str) and SAFE_CELL.fullmatch(c))
        for c in [*columns, *cells]
    ):
        table = [{c: r.get(c) for c in columns} for r in rows]
        return "table", json.dumps(table, default=str)
    return "markdown", preview(version, rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:,}" if isinstance(value, int) else f"{value:.6g}"
    return text(value, 40)


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else text(value, 30)


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
