"""Charts drawn on the server as inline SVG (no JavaScript library): a metric across versions,
a metric across compared versions, a histogram with axes, and a lineage graph."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from ..core.lineage import Lineage, LineageNode
from .display import num

MAX_DOTS = 150  # a line chart draws at most about this many hoverable dots (the line: all)


@dataclass
class Point:
    label: str  # shown on hover and under the axis ("v12", "churn:3")
    value: float
    href: str | None = None


def _ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten) inside [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _range(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if lo == hi:
        pad = abs(lo) * 0.05 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.08
    return lo - pad, hi + pad


def line_chart(
    name: str,
    points: Sequence[Point],
    *,
    lower_better: bool,
    width: int = 480,
    height: int = 190,
    what: str = "versions",
) -> Markup:
    """``name`` across ``points`` (oldest first): axes with values, a line, a dot per version
    (hover: version and value; click: its page; above MAX_DOTS versions every k-th one), the
    best one ringed."""
    points = [p for p in points if math.isfinite(p.value)]
    if not points:
        return Markup("")
    left, right, top, bottom = 64, 14, 12, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    lo, hi = _range([p.value for p in points])
    n = len(points)

    step = plot_w / (n - 1) if n > 1 else 0.0
    xs = [left + plot_w / 2] if n == 1 else [left + step * i for i in range(n)]
    scale = plot_h / (hi - lo)
    ys = [top + plot_h - (p.value - lo) * scale for p in points]

    def y(value: float) -> float:
        return top + plot_h - (value - lo) * scale

    best = (min if lower_better else max)(range(n), key=lambda i: points[i].value)
    out = [
        f'<svg class="chart line" viewBox="0 0 {width} {height}" role="img" '
        f'data-points="{n}" aria-label="{escape(name)} across {n} {what}">'
    ]
    for t in _ticks(lo, hi):
        out.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">'
            f"{escape(num(float(f'{t:.4g}')))}</text>"
        )
    label_every = max(1, math.ceil(n / 8))
    for i in sorted({*range(0, n, label_every), n - 1}):
        out.append(
            f'<text class="axis" x="{xs[i]:.1f}" y="{height - 6}" text-anchor="middle">'
            f"{escape(points[i].label)}</text>"
        )
    path = " ".join(map("{:.1f},{:.1f}".format, xs, ys))
    out.append(f'<polyline class="series" points="{path}"/>')
    radius = 3.5 if n <= 60 else 2.2
    every = math.ceil(n / MAX_DOTS)  # more dots than pixels help no one: every k-th, best, last
    label = escape(name)
    for i in sorted({*range(0, n, every), best, n - 1}):
        p = points[i]
        dot = (
            f'<circle class="point{" best" if i == best else ""}" cx="{xs[i]:.1f}" '
            f'cy="{ys[i]:.1f}" r="{radius + (2 if i == best else 0)}">'
            f"<title>{escape(p.label)}: {label} = {escape(num(p.value))}"
            f"{' (best)' if i == best else ''}</title></circle>"
        )
        out.append(f'<a href="{escape(p.href)}">{dot}</a>' if p.href else dot)
    out.append("</svg>")
    return Markup("".join(out))


def bar_chart(
    name: str, points: Sequence[Point], *, lower_better: bool, width: int = 480
) -> Markup:
    """One horizontal bar per compared version; the best one highlighted."""
    points = [p for p in points if math.isfinite(p.value)]
    if not points:
        return Markup("")
    row, left, right = 22, 150, 90
    height = row * len(points) + 8
    lo = min(0.0, *(p.value for p in points))
    hi = max(0.0, *(p.value for p in points))
    span = (hi - lo) or 1.0
    plot_w = width - left - right
    zero = left + plot_w * (0 - lo) / span
    best = (min if lower_better else max)(range(len(points)), key=lambda i: points[i].value)
    out = [
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" '
        f'data-points="{len(points)}" aria-label="{escape(name)} by version">'
    ]
    for i, p in enumerate(points):
        top = 4 + i * row
        end = left + plot_w * (p.value - lo) / span
        x0, w = min(zero, end), max(abs(end - zero), 1)
        label = escape(p.label if len(p.label) <= 22 else p.label[:21] + "…")
        text = f'<text class="axis" x="{left - 6}" y="{top + 14}" text-anchor="end">{label}</text>'
        out.append(f'<a href="{escape(p.href)}">{text}</a>' if p.href else text)
        out.append(
            f'<rect class="bar{" best" if i == best else ""}" x="{x0:.1f}" y="{top + 3}" '
            f'width="{w:.1f}" height="{row - 8}"><title>{escape(p.label)}: {escape(name)} = '
            f"{escape(num(p.value))}</title></rect>"
            f'<text class="axis" x="{max(x0 + w, zero) + 4:.1f}" y="{top + 14}">'
            f"{escape(num(p.value))}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))


def histogram(hist: dict | None, column: str, width: int = 180, height: int = 56) -> Markup:
    """A column's histogram with its range under it; each bar's bin and count on hover."""
    if not hist or not hist.get("counts"):
        return Markup("")
    counts, edges = hist["counts"], hist.get("edges") or []
    top = max(counts) or 1
    bar_w = width / len(counts)
    plot_h = height - 14
    out = [
        f'<svg class="hist" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" data-points="{len(counts)}" aria-label="histogram of {escape(column)}">'
    ]
    for i, c in enumerate(counts):
        h = c / top * (plot_h - 2)
        span = f"{num(edges[i])} – {num(edges[i + 1])}" if len(edges) == len(counts) + 1 else f"{i}"
        out.append(
            f'<rect x="{i * bar_w + 0.5:.1f}" y="{plot_h - h:.1f}" width="{max(bar_w - 1, 1):.1f}" '
            f'height="{h:.1f}"><title>{escape(span)}: {num(c)}</title></rect>'
        )
    out.append(f'<line class="grid" x1="0" x2="{width}" y1="{plot_h}" y2="{plot_h}"/>')
    if len(edges) >= 2:
        out.append(
            f'<text class="axis" x="0" y="{height - 2}">{escape(num(edges[0]))}</text>'
            f'<text class="axis" x="{width}" y="{height - 2}" text-anchor="end">'
            f"{escape(num(edges[-1]))}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))


def lineage_graph(
    up: Lineage,
    down: Lineage,
    artifact_href: Callable[[LineageNode], str],
    run_href: Callable[[LineageNode], str | None],
) -> Markup:
    """Upstream and downstream in one drawing: columns by distance from the root (inputs on the
    left, consumers on the right), artifacts as boxes, runs as rounded pills, data flowing left
    to right. Every artifact links to its page, every run to Prefect's UI when known."""
    level: dict[str, int] = {up.root: 0}
    nodes: dict[str, LineageNode] = {}
    for graph, sign in ((up, -1), (down, 1)):
        for node in graph.nodes:
            nodes.setdefault(node.id, node)
        changed = True
        while changed:  # distances along the edges (graphs are small: at most a few hundred)
            changed = False
            for e in graph.edges:
                near, far = (e.target, e.source) if sign < 0 else (e.source, e.target)
                if near in level and far not in level:
                    level[far] = level[near] + sign
                    changed = True
    edges = {(e.source, e.target) for g in (up, down) for e in g.edges}
    if len(nodes) <= 1:
        return Markup("")
    columns: dict[int, list[str]] = {}
    for node_id in nodes:
        columns.setdefault(level.get(node_id, 0), []).append(node_id)
    order = sorted(columns)
    box_w, box_h, gap_x, gap_y, pad = 170, 34, 56, 14, 10
    tallest = max(len(c) for c in columns.values())
    width = len(order) * (box_w + gap_x) - gap_x + 2 * pad
    height = tallest * (box_h + gap_y) - gap_y + 2 * pad
    where: dict[str, tuple[float, float]] = {}
    for ci, lv in enumerate(order):
        ids = columns[lv]
        offset = (height - 2 * pad - (len(ids) * (box_h + gap_y) - gap_y)) / 2
        for ri, node_id in enumerate(ids):
            where[node_id] = (pad + ci * (box_w + gap_x), pad + offset + ri * (box_h + gap_y))
    out = [
        f'<svg class="lineage" viewBox="0 0 {width} {height}" '
        f'style="width: min(100%, {width}px); min-width: {int(width * 0.7)}px" '
        f'role="img" data-points="{len(nodes)}" aria-label="lineage graph">'
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker></defs>'
    ]
    for source, target in sorted(edges):
        if source not in where or target not in where:
            continue
        (x1, y1), (x2, y2) = where[source], where[target]
        sx, sy, tx, ty = x1 + box_w, y1 + box_h / 2, x2, y2 + box_h / 2
        if x2 <= x1:  # same column: go around
            sx, tx = x1 + box_w, x2 + box_w
        mid = (sx + tx) / 2
        out.append(
            f'<path class="edge" d="M{sx:.1f},{sy:.1f} C{mid:.1f},{sy:.1f} {mid:.1f},{ty:.1f} '
            f'{tx:.1f},{ty:.1f}" marker-end="url(#arrow)"/>'
        )
    for node_id, node in nodes.items():
        x, y = where[node_id]
        is_root = node_id == up.root
        cls = "root" if is_root else node.type
        label = node.label if len(node.label) <= 24 else node.label[:23] + "…"
        sub = (node.kind or "artifact") if node.type == "artifact" else "run"
        if node.type == "run":
            sub = "task run" if node.task_run_id else "flow run"
        sub = sub if len(sub) <= 28 else sub[:27] + "…"
        radius = 17 if node.type == "run" else 4
        body = (
            f'<g class="node {cls}" data-node="{escape(node_id)}"><title>{escape(node.label)}'
            f"{' · ' + escape(node.flow_name) if node.flow_name else ''}</title>"
            f'<rect x="{x}" y="{y:.1f}" width="{box_w}" height="{box_h}" rx="{radius}"/>'
            f'<text x="{x + box_w / 2}" y="{y + 14:.1f}" text-anchor="middle">{escape(label)}</text>'
            f'<text class="sub" x="{x + box_w / 2}" y="{y + 27:.1f}" text-anchor="middle">'
            f"{escape(sub)}</text></g>"
        )
        href = artifact_href(node) if node.type == "artifact" and not is_root else None
        if node.type == "run":
            href = run_href(node)
        if href:
            target = ' target="_blank" rel="noopener"' if node.type == "run" else ""
            body = f'<a href="{escape(href)}"{target}>{body}</a>'
        out.append(body)
    out.append("</svg>")
    return Markup("".join(out))
