"""Search filters from a query string: one parser for the JSON API, the pages and the CLI."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from ..catalog import ListQuery
from ..errors import InvalidArgumentError
from ..keys import validate_labels
from ..repository import Repository

TABS = {"all": None, "datasets": "dataset", "models": "model", "plots": "plot", "other": "other"}
SHOWN_PRESETS = ("1h", "24h", "7d", "30d")  # in the UI's menu; PRESETS also takes aliases
PRESETS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "1w": timedelta(days=7),
    "30d": timedelta(days=30),
}
MAX_TEXT = 200
MAX_LABELS = 20
MAX_PER_PAGE = 200
_RELATIVE = re.compile(r"(\d{1,6})\s*([smhdw])")


def parse_span(text: str) -> timedelta | None:
    """``90m``, ``24h``, ``7d``, ``2w`` → a timedelta; None if ``text`` is not a span."""
    match = _RELATIVE.fullmatch(text.strip())
    if not match:
        return None
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match[2]]
    return timedelta(**{unit: int(match[1])})


def parse_time(value: str | None, what: str, *, end: bool = False) -> datetime | None:
    """An ISO date or datetime, or a relative span back from now (``90m``, ``24h``, ``7d``)."""
    if value is None or value == "":
        return None
    text = value.strip()
    if len(text) > 40:
        raise InvalidArgumentError(f"{what} is too long; give an ISO date like 2026-11-26")
    span = parse_span(text)
    if span is not None:
        return datetime.now(timezone.utc) - span
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max if end else time.min, tzinfo=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgumentError(
            f"{what}={value[:40]!r} is not a time: use an ISO date (2026-11-26), a datetime "
            "(2026-11-26T08:00:00Z) or a span back from now (90m, 24h, 7d)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_labels(values: list[str]) -> tuple[dict[str, str], list[str]]:
    """``["team=ml", "reviewed"]`` → ({"team": "ml"}, ["reviewed"])."""
    if len(values) > MAX_LABELS:
        raise InvalidArgumentError(f"at most {MAX_LABELS} label filters, got {len(values)}")
    pairs: dict[str, str] = {}
    names: list[str] = []
    for value in values:
        if not value:
            continue
        name, sep, label_value = value.partition("=")
        if sep:
            pairs.update(validate_labels({name.strip(): label_value.strip()}))
        else:
            validate_labels({name.strip(): "x"})
            names.append(name.strip())
    return pairs, names


def build_query(
    repo: Repository,
    *,
    project: str | None,
    q: str | None = None,
    kind: str | None = None,
    labels: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    preset: str | None = None,
    tag: str | None = None,
    producer: str | None = None,
    all_versions: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> ListQuery:
    """Validated filters → a catalog query. ``q`` is a key substring or glob; ``kind`` a kind or
    a tab name; ``preset`` (1h, 24h, 7d, 30d) sets ``since``."""
    for name, text in (("q", q), ("tag", tag), ("producer", producer)):
        if text is not None and len(text) > MAX_TEXT:
            raise InvalidArgumentError(f"{name} is longer than {MAX_TEXT} characters")
    if not isinstance(page, int) or page < 1 or page > 1_000_000:
        raise InvalidArgumentError(f"page must be a positive integer, got {page!r}")
    if not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidArgumentError(f"per_page must be between 1 and {MAX_PER_PAGE}")
    if preset and preset not in PRESETS:
        raise InvalidArgumentError(f"preset must be one of {', '.join(PRESETS)}")
    kind = TABS.get(kind, kind) if kind else None
    if kind is not None and kind != "other" and not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", kind):
        raise InvalidArgumentError(f"unknown kind {kind[:40]!r}; use dataset, model, plot or other")
    pairs, names = parse_labels(labels or [])
    if q:
        q = q.strip() if any(c in q for c in "*?[") else f"*{q.strip()}*"
    query = repo.query(
        key=q or None,
        kind=None if kind == "other" else kind,
        labels=pairs,
        since=(
            datetime.now(timezone.utc) - PRESETS[preset] if preset else parse_time(since, "since")
        ),
        until=parse_time(until, "until", end=True),
        tag=tag or None,
        producer=producer or None,
        project=project,
        all_versions=all_versions,
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    query.label_names = names
    if kind == "other":
        query.exclude_kinds = ["dataset", "model", "plot"]
    return query
