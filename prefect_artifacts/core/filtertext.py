"""The search filter's words: field help, sort keys and time spans, as plain text with no
pydantic, so that a command line can describe its options without building the filter model."""

from __future__ import annotations

import re
from datetime import timedelta

MAX_LIMIT = 1000
SORT_KEYS = (
    "updated",
    "created",
    "key",
    "version",
    "kind",
    "size",
    "owner",
    "producer",
    "location",
)
_SPAN = re.compile(r"(\d{1,6})\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
FIELD_HELP = {
    "project": "Project; '*' searches every project (default: the repository's project).",
    "key": "Key name, or a glob (*, ?, [ab]).",
    "search": "Text the key contains (case-insensitive).",
    "kind": "dataset, model, plot, artifact or other (plural forms work too).",
    "labels": "name=value (must match) or name (must exist); all must hold.",
    "since": "Updated at or after: ISO date/datetime (UTC) or a span back from now (90m, 24h, 7d).",
    "until": "Updated at or before: ISO date/datetime (UTC) or a span back from now.",
    "tag": "Only the version carrying this tag.",
    "metrics": "Metric conditions joined by 'and', e.g. 'auc>0.75 and f1>=0.5' (> >= < <= == !=); "
    "versions without the metric do not match.",
    "producer": "Producer flow name, flow run id or task run id.",
    "all_versions": "Every version, not only the latest of each key.",
    "sort": f"One of {', '.join(SORT_KEYS)}, metric:<name>, param:<name> or label:<name> "
    "(versions without that metric, parameter or label last; numeric parameters sort as numbers, "
    "others as text); a leading '-' sorts descending.",
    "limit": f"At most this many results (1-{MAX_LIMIT}).",
    "offset": "Skip this many results (paging).",
}


def field_help(name: str) -> str:
    """The help text of one filter field."""
    return FIELD_HELP[name]


def parse_span(text: str) -> timedelta | None:
    """``90m``, ``24h``, ``7d``, ``2w`` → a timedelta; None if ``text`` is not a span."""
    match = _SPAN.fullmatch(text.strip())
    if not match:
        return None
    return timedelta(**{_UNITS[match[2]]: int(match[1])})
