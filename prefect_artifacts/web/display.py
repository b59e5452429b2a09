"""How values are shown: one number format everywhere, cells that know their alignment, relative
changes that stay sane near zero, and good/bad judgements that respect lower-is-better metrics."""

from __future__ import annotations

import json
import math
from typing import Any

from markupsafe import Markup, escape

from ..core.compare import lower_is_better
from ..core.diff import StatDrift, VersionDiff

MAX_RELATIVE = 10.0  # beyond ±1000 % a relative change says nothing; the delta is shown instead
BAD_WHEN_UP = {"nulls"}


def num(value: Any) -> str:
    """``500,000`` / ``0.751235`` / ``1.2e-07`` / ``true``: the same format in every table."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value == 0:
            return "0"
        size = abs(value)
        if 1e-4 <= size < 1e15:
            decimals = min(8, max(0, 5 - math.floor(math.log10(size))))
            text = f"{value:,.{decimals}f}"
            return text.rstrip("0").rstrip(".") if "." in text else text
        mantissa, exponent = f"{value:.4e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return str(value)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def cell(value: Any, limit: int = 200) -> Markup:
    """A table cell: numbers right-aligned, text cut to one line with the full value on hover."""
    if value is None:
        return Markup('<td class="null"><span class="muted">—</span></td>')
    if is_number(value):
        return Markup('<td class="num" data-v="{}">{}</td>').format(value, num(value))
    if isinstance(value, bool):
        return Markup('<td class="bool">{}</td>').format(num(value))
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    shown = text if len(text) <= limit else text[:limit] + "…"
    return Markup('<td class="trunc" title="{}">{}</td>').format(text[:2000], shown)


def relative(old: Any, new: Any) -> float | None:
    """(new - old) / |old|, or None when old is zero/tiny or the ratio beyond ±1000 %."""
    if not (is_number(old) and is_number(new)) or old == 0:
        return None
    value = (new - old) / abs(old)
    return value if abs(value) <= MAX_RELATIVE and math.isfinite(value) else None


def magnitude(s: StatDrift) -> float:
    """How big a drift is, comparable across columns: |Δ| / max(|old|, |new|), 1 for text."""
    if not (is_number(s.old) and is_number(s.new)):
        return 1.0
    scale = max(abs(s.old), abs(s.new))
    return abs(s.new - s.old) / scale if scale else 0.0


def stat_tone(s: StatDrift) -> str:
    """``bad`` for more nulls, ``good`` for fewer; other statistics simply moved."""
    if s.stat in BAD_WHEN_UP and is_number(s.old) and is_number(s.new):
        return "bad" if s.new > s.old else "good"
    return "moved"


def metric_tone(name: str, delta: float | None) -> str:
    if not delta:
        return "same"
    improved = delta < 0 if lower_is_better(name) else delta > 0
    return "good" if improved else "bad"


def change_text(old: Any, new: Any) -> str:
    """``+0.05 (+7.1 %)``; no percentage when the old value is (close to) zero."""
    if not (is_number(old) and is_number(new)):
        return ""
    delta = new - old
    if delta == 0:
        return "no change"
    text = ("+" if delta > 0 else "") + num(delta)
    rel = relative(old, new)
    if rel is not None:
        text += f" ({rel * 100:+.1f} %)"
    elif old == 0 and delta:
        text += " (from 0)"
    return text


def sorted_drift(d: VersionDiff) -> list[StatDrift]:
    """The statistics that moved, largest first (so a wide table reads top-down)."""
    return sorted(d.stats, key=lambda s: (-magnitude(s), s.column, s.stat))


def pretty_json(data: bytes, limit: int = 200_000) -> str | None:
    """Indented JSON text, or None if ``data`` is not (small) JSON."""
    if len(data) > limit:
        return None
    try:
        return json.dumps(json.loads(data), indent=2, ensure_ascii=False, default=str)
    except (ValueError, UnicodeDecodeError):
        return None


def short(text: Any, limit: int = 60) -> str:
    shown = "" if text is None else str(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


FILTERS = {"num": num, "cell": cell, "short": short, "change": change_text}
GLOBALS = {"metric_tone": metric_tone, "stat_tone": stat_tone, "escape": escape}
