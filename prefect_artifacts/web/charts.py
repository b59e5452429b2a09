"""Charts drawn on the server as inline SVG (no JavaScript library): a metric across versions,
a metric across compared versions, a histogram with axes, and a lineage graph."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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
        f'<svg class="chart line" viewBox="0 0 {width} {height}" role="group" '
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
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="group" '
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


def histogram(
    hist: dict[str, Any] | None, column: str, width: int = 180, height: int = 56
) -> Markup:
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
    """Upstream and downstream in one layered drawing: each node in the column of its longest
    path from an input (so every edge runs left to right), artifacts as boxes, runs as rounded
    pills. An edge that skips columns passes through a free slot of each column it crosses,
    never behind a node. Every artifact links to its page, every run to Prefect's UI."""
    nodes: dict[str, LineageNode] = {}
    for graph in (up, down):
        for node in graph.nodes:
            nodes.setdefault(node.id, node)
    edges = sorted(
        {(e.source, e.target) for g in (up, down) for e in g.edges}
        & {(a, b) for a in nodes for b in nodes if a != b}
    )
    if len(nodes) <= 1:
        return Markup("")
    layer = dag_layers(list(nodes), edges)
    columns, routes = layered_slots(layer, edges)
    box_w, box_h, gap_x, gap_y, pad = 170, 34, 56, 14, 10
    tallest = max(len(c) for c in columns)
    width = len(columns) * (box_w + gap_x) - gap_x + 2 * pad
    height = tallest * (box_h + gap_y) - gap_y + 2 * pad
    where: dict[str, tuple[float, float]] = {}  # node or (edge, column) slot → its box corner
    for ci, slots in enumerate(columns):
        offset = (height - 2 * pad - (len(slots) * (box_h + gap_y) - gap_y)) / 2
        for ri, slot in enumerate(slots):
            where[slot] = (pad + ci * (box_w + gap_x), pad + offset + ri * (box_h + gap_y))
    out = [
        f'<svg class="lineage" viewBox="0 0 {width} {height}" '
        f'style="width: min(100%, {width}px); min-width: {int(width * 0.7)}px" '
        f'role="group" data-points="{len(nodes)}" aria-label="lineage graph">'
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker></defs>'
    ]
    for source, target in edges:
        stops = [where[s] for s in routes[(source, target)]]  # source, free slots, target
        x, y = stops[0]
        d = [f"M{x + box_w:.1f},{y + box_h / 2:.1f}"]
        for i, (nx, ny) in enumerate(stops[1:], 1):
            sx, sy = stops[i - 1][0] + box_w, stops[i - 1][1] + box_h / 2
            tx, ty = nx, ny + box_h / 2
            mid = (sx + tx) / 2
            d.append(f"C{mid:.1f},{sy:.1f} {mid:.1f},{ty:.1f} {tx:.1f},{ty:.1f}")
            if i < len(stops) - 1:  # across the free slot of a column it passes
                d.append(f"L{tx + box_w:.1f},{ty:.1f}")
        out.append(
            f'<path class="edge" data-edge="{escape(source)} {escape(target)}" '
            f'd="{" ".join(d)}" marker-end="url(#arrow)"/>'
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


def dag_layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Each node's column: the length of the longest path reaching it (a cycle, which lineage
    never has, is cut where it closes)."""
    incoming: dict[str, list[str]] = {n: [] for n in nodes}
    for source, target in edges:
        incoming[target].append(source)
    layer: dict[str, int] = {}

    def depth(node: str, seen: frozenset[str]) -> int:
        if node not in layer:
            before = [depth(s, seen | {node}) for s in incoming[node] if s not in seen]
            layer[node] = max(before, default=-1) + 1
        return layer[node]

    for node in nodes:
        depth(node, frozenset())
    return layer


def layered_slots(
    layer: dict[str, int], edges: list[tuple[str, str]]
) -> tuple[list[list[Any]], dict[tuple[str, str], list[Any]]]:
    """The slots of each column, top to bottom (nodes, and one free slot per edge crossing the
    column), ordered by the mean position of their neighbours to keep crossings few; and each
    edge's route as the slots it passes."""
    count = max(layer.values()) + 1
    columns: list[list[Any]] = [[] for _ in range(count)]
    for node in layer:  # insertion order: the graph's own order first
        columns[layer[node]].append(node)
    routes: dict[tuple[str, str], list[Any]] = {}
    links: dict[Any, list[Any]] = {}
    for edge in edges:
        source, target = edge
        route = [source, *[(edge, c) for c in range(layer[source] + 1, layer[target])], target]
        for c in range(layer[source] + 1, layer[target]):
            columns[c].append((edge, c))
        for a, b in itertools.pairwise(route):
            links.setdefault(a, []).append(b)
            links.setdefault(b, []).append(a)
        routes[edge] = route
    for sweep in range(4):  # barycentre ordering, left to right then right to left
        for c in range(count) if sweep % 2 == 0 else range(count - 1, -1, -1):
            side = c - 1 if sweep % 2 == 0 else c + 1
            if not 0 <= side < count:
                continue
            rank = {slot: i for i, slot in enumerate(columns[side])}

            def centre(slot: Any, current: int, rank: dict[Any, int] = rank) -> float:
                near = [rank[n] for n in links.get(slot, []) if n in rank]
                return sum(near) / len(near) if near else current

            columns[c] = [
                slot
                for _, _, slot in sorted(
                    (centre(slot, i), i, slot) for i, slot in enumerate(columns[c])
                )
            ] if len(columns[c]) > 1 else columns[c]  # fmt: skip
    return columns, routes


@dataclass
class Run:
    """One version in a sweep chart: its label (hover), page, and values by axis name."""

    label: str
    href: str | None
    values: dict[str, Any]


def _axis_scale(values: list[Any]) -> tuple[Callable[[Any], float], list[tuple[float, str]]]:
    """A value → 0..1 map and tick labels: numbers linearly, anything else as categories."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if numbers and len(numbers) == len(values) and all(math.isfinite(v) for v in numbers):
        lo, hi = min(numbers), max(numbers)
        if lo > 0 and hi / lo >= 100:  # learning rates and the like: a log scale
            a, b = math.log10(lo), math.log10(hi)
            marks = sorted({lo, hi, *(10.0**e for e in range(math.ceil(a), math.floor(b) + 1))})

            def to(v: float) -> float:
                return (math.log10(v) - a) / (b - a)

            return to, [(to(m), num(m)) for m in marks]
        span = (hi - lo) or 1.0
        ticks = [(0.0, num(lo)), (1.0, num(hi))] if hi != lo else [(0.5, num(lo))]
        return (lambda v: (v - lo) / span if hi != lo else 0.5), ticks
    names = sorted({str(v) for v in values})
    step = 1 / max(len(names) - 1, 1)
    where = {n: (i * step if len(names) > 1 else 0.5) for i, n in enumerate(names)}
    return (lambda v: where[str(v)]), [(where[n], n) for n in names]


def parallel_coordinates(
    axes: list[str], runs: list[Run], *, colour_by: str | None, lower_better: bool = False
) -> Markup:
    """A vertical axis per parameter and metric, a line per version through its values
    (hover names the version, click opens it), coloured by ``colour_by`` (darker: better)."""
    runs = [r for r in runs if any(a in r.values for a in axes)]
    if len(axes) < 2 or not runs:
        return Markup("")
    left, right, top, bottom = 56, 72, 28, 22
    width, height = max(480, 120 * len(axes) + 60), 260
    plot_h = height - top - bottom
    step = (width - left - right) / (len(axes) - 1)
    scales = {a: _axis_scale([r.values[a] for r in runs if a in r.values]) for a in axes}
    shade: Callable[[Run], float] = lambda r: 0.5  # noqa: E731
    if colour_by in axes:
        to_unit = scales[colour_by][0]
        shade = lambda r: (  # noqa: E731
            (1 - to_unit(r.values[colour_by]) if lower_better else to_unit(r.values[colour_by]))
            if colour_by in r.values
            else 0.0
        )
    out = [
        f'<svg class="chart sweep parallel" viewBox="0 0 {width} {height}" role="group" '
        f'style="min-width: {90 * len(axes) + 60}px" '
        f'data-points="{len(runs)}" aria-label="parallel coordinates of {len(runs)} versions">'
    ]
    for i, axis in enumerate(axes):
        x = left + i * step
        out.append(
            f'<line class="axis-line" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}"/>'
            f'<text class="axis-name" x="{x:.1f}" y="{top - 10}" text-anchor="middle">'
            f"<title>{escape(axis)}</title>{escape(axis if len(axis) <= 18 else axis[:17] + '…')}"
            "</text>"
        )
        for at, text in scales[axis][1][:8]:
            y = top + plot_h * (1 - at)
            out.append(
                f'<text class="axis" x="{x + 4:.1f}" y="{y + 3:.1f}">'
                f"{escape(text if len(text) <= 12 else text[:11] + '…')}</text>"
            )
    for run in sorted(runs, key=shade):  # the best drawn last, on top
        points = [
            f"{left + i * step:.1f},{top + plot_h * (1 - scales[a][0](run.values[a])):.1f}"
            for i, a in enumerate(axes)
            if a in run.values
        ]
        tone = shade(run)
        line = (
            f'<polyline class="run" points="{" ".join(points)}" '
            f'style="stroke-opacity: {0.25 + 0.75 * tone:.2f}" data-version="{escape(run.label)}">'
            f"<title>{escape(run.label)}: "
            + str(escape(", ".join(f"{a}={num(run.values[a])}" for a in axes if a in run.values)))
            + "</title></polyline>"
        )
        out.append(f'<a href="{escape(run.href)}">{line}</a>' if run.href else line)
    out.append("</svg>")
    return Markup("".join(out))


def scatter(
    x_name: str, y_name: str, runs: list[Run], width: int = 480, height: int = 300
) -> Markup:
    """``y_name`` against ``x_name``, a dot per version that has both (hover names it, click
    opens it); categories are spread along their axis."""
    runs = [r for r in runs if x_name in r.values and y_name in r.values]
    if not runs:
        return Markup("")
    left, right, top, bottom = 64, 16, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    (fx, xticks), (fy, yticks) = (
        _axis_scale([r.values[x_name] for r in runs]),
        _axis_scale([r.values[y_name] for r in runs]),
    )
    out = [
        f'<svg class="chart scatter" viewBox="0 0 {width} {height}" role="group" '
        f'data-points="{len(runs)}" aria-label="{escape(y_name)} against {escape(x_name)}">',
        f'<rect class="frame" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}"/>',
    ]
    for at, text in xticks[:8]:
        x = left + plot_w * (0.05 + 0.9 * at)
        out.append(
            f'<text class="axis" x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
            f"{escape(text if len(text) <= 12 else text[:11] + '…')}</text>"
        )
    for at, text in yticks[:8]:
        y = top + plot_h * (0.95 - 0.9 * at)
        out.append(
            f'<text class="axis" x="{left - 6}" y="{y + 3:.1f}" text-anchor="end">'
            f"{escape(text if len(text) <= 10 else text[:9] + '…')}</text>"
        )
    out.append(
        f'<text class="axis-name" x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">'
        f"{escape(x_name)}</text>"
    )
    for run in runs:
        x = left + plot_w * (0.05 + 0.9 * fx(run.values[x_name]))
        y = top + plot_h * (0.95 - 0.9 * fy(run.values[y_name]))
        dot = (
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="4.5" '
            f'data-version="{escape(run.label)}"><title>{escape(run.label)}: {escape(x_name)}='
            f"{escape(num(run.values[x_name]))}, {escape(y_name)}={escape(num(run.values[y_name]))}"
            "</title></circle>"
        )
        out.append(f'<a href="{escape(run.href)}">{dot}</a>' if run.href else dot)
    out.append("</svg>")
    return Markup("".join(out))
