"""The one search filter: every surface (Python, CLI, web pages, JSON API) builds an
:class:`ArtifactFilter` and the catalog reads only that, so the rules and messages are the same
everywhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InvalidArgumentError
from .filtertext import FIELD_HELP as _HELP
from .filtertext import MAX_LIMIT, SORT_KEYS, parse_span
from .keys import validate_key_pattern, validate_labels, validate_project, validate_tag

MAX_TEXT = 200
MAX_LABELS = 20
KIND_NAMES = {  # what people type → the stored kind; "other" is anything but the three
    "dataset": "dataset",
    "datasets": "dataset",
    "model": "model",
    "models": "model",
    "plot": "plot",
    "plots": "plot",
    "artifact": "artifact",
    "artifacts": "artifact",
    "other": "other",
}

METRIC_SORT = re.compile(r"metric:([^\"'\\\x00-\x1f]{1,128})")
PARAM_SORT = re.compile(r"param:([^\"'\\\x00-\x1f]{1,128})")
LABEL_SORT = re.compile(r"label:([A-Za-z0-9][A-Za-z0-9._-]{0,63})")
METRIC_CONDITION = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_.:/-]{0,127})\s*(>=|<=|==|!=|>|<)\s*"
    r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*"
)
METRIC_OPS = (">", ">=", "<", "<=", "==", "!=")
MAX_CONDITIONS = 10


def parse_time(value: Any, what: str, *, end: bool = False) -> datetime | None:
    """A datetime (naive = UTC), a date, a timedelta or span back from now, or an ISO string."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time.max if end else time.min, tzinfo=UTC)
    if isinstance(value, timedelta):
        return _back(value, what)
    if not isinstance(value, str):
        raise ValueError(
            f"give a datetime, a date, a timedelta or text, not {type(value).__name__}"
        )
    text = value.strip()
    if len(text) > 40:
        raise ValueError("is too long; give an ISO date like 2026-11-26 or a span like 24h")
    span = parse_span(text)
    if span is not None:
        return _back(span, what)
    try:
        if len(text) == 10:
            return parse_time(date.fromisoformat(text), what, end=end)
        return parse_time(datetime.fromisoformat(text.replace("Z", "+00:00")), what)
    except ValueError:
        raise ValueError(
            f"{value[:40]!r} is not a time: use an ISO date (2026-11-26), a datetime "
            "(2026-11-26T08:00:00Z) or a span back from now (90m, 24h, 7d)"
        ) from None


def _back(span: timedelta, what: str) -> datetime:
    try:
        return datetime.now(UTC) - span
    except OverflowError:
        raise ValueError(f"the span {span} reaches before year 1; use a shorter one") from None


class ArtifactFilter(BaseModel):
    """Which versions to list, and in what order. Construct with keyword arguments (Python, CLI)
    or from query parameters (web); invalid values raise ``InvalidArgumentError`` via
    :meth:`of`, naming the field and the fix."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    project: str | None = Field(None, description=_HELP["project"])
    key: str | None = Field(None, description=_HELP["key"])
    search: str | None = Field(None, description=_HELP["search"])
    kind: str | None = Field(None, description=_HELP["kind"])
    labels: list[str] = Field(default_factory=list, description=_HELP["labels"])
    since: datetime | None = Field(None, description=_HELP["since"])
    until: datetime | None = Field(None, description=_HELP["until"])
    tag: str | None = Field(None, description=_HELP["tag"])
    metrics: str | None = Field(None, description=_HELP["metrics"])
    producer: str | None = Field(None, description=_HELP["producer"])
    all_versions: bool = Field(False, description=_HELP["all_versions"])
    sort: str = Field("-updated", description=_HELP["sort"])
    limit: int | None = Field(None, description=_HELP["limit"])
    offset: int = Field(0, description=_HELP["offset"])

    @classmethod
    def of(cls, value: ArtifactFilter | None = None, /, **fields: Any) -> ArtifactFilter:
        """A validated filter from keyword arguments (None values mean "not given"), or
        ``value`` updated with them. Raises InvalidArgumentError."""
        given = {k: v for k, v in fields.items() if v is not None}
        try:
            if value is not None:
                return cls.model_validate({**value.model_dump(exclude_unset=True), **given})
            return cls.model_validate(given)
        except ValidationError as exc:
            raise InvalidArgumentError(describe(exc.errors())) from None

    @staticmethod
    def help(name: str) -> str:
        return _HELP[name]

    # -- validation ---------------------------------------------------------------------------
    @field_validator("project")
    @classmethod
    def _project(cls, value: str | None) -> str | None:
        return value if value in (None, "*") else validate_project(value)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        return validate_key_pattern(value.strip()) or None if value else None

    @field_validator("search", "producer")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is not None and len(value) > MAX_TEXT:
            raise ValueError(f"is longer than {MAX_TEXT} characters")
        return value.strip() or None if value else None

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> str | None:
        if value in (None, "", "all"):
            return None
        name = KIND_NAMES.get(str(value).strip().lower())
        if name is None:
            from .materializers import registry  # kinds of registered materializers count too

            name = str(value) if str(value) in registry.kinds() else None
        if name is None:
            raise ValueError(
                f"unknown kind {str(value)[:40]!r}; use dataset, model, plot, artifact or other"
            )
        return name

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> list[str]:
        """A dict ``{"team": "ml"}``, names that must exist, or ``"name=value"`` strings."""
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if isinstance(value, dict):
            return [f"{k}={v}" for k, v in validate_labels(value).items()]
        if not isinstance(value, (list, tuple, set)):
            raise ValueError("give a dict {'team': 'ml'} or a list of 'name=value' / 'name'")
        items = [str(v).strip() for v in value if str(v).strip()]
        if len(items) > MAX_LABELS:
            raise ValueError(f"at most {MAX_LABELS} label filters, got {len(items)}")
        for item in items:
            name, sep, text = item.partition("=")
            validate_labels({name.strip(): text.strip() if sep else "x"})
        return [
            f"{n.strip()}={v.strip()}" if sep else n.strip()
            for n, sep, v in (i.partition("=") for i in items)
        ]

    @field_validator("since", mode="before")
    @classmethod
    def _since(cls, value: Any) -> datetime | None:
        return parse_time(value, "since")

    @field_validator("until", mode="before")
    @classmethod
    def _until(cls, value: Any) -> datetime | None:
        return parse_time(value, "until", end=True)

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        return validate_tag(value) if value else None

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> str | None:
        """Text (or a list of texts, all must hold) parsed once; kept in one canonical form."""
        if value is None or value == "" or value == []:
            return None
        parts = [value] if isinstance(value, str) else value
        if not isinstance(parts, (list, tuple)) or not all(isinstance(p, str) for p in parts):
            raise ValueError("give conditions as text, e.g. 'auc>0.75 and f1>=0.5'")
        conditions = [c for part in parts for c in parse_metric_conditions(part)]
        return " and ".join(f"{n}{op}{num!r}" for n, op, num in conditions) or None

    @field_validator("sort")
    @classmethod
    def _sort(cls, value: str) -> str:
        column = value.lstrip("-")
        if column.startswith("label:") and not LABEL_SORT.fullmatch(column):
            raise ValueError(
                f"cannot sort by {value[:40]!r}; label:<name> takes a label name of 1-64 "
                "letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        if column not in SORT_KEYS and not (
            METRIC_SORT.fullmatch(column)
            or PARAM_SORT.fullmatch(column)
            or LABEL_SORT.fullmatch(column)
        ):
            raise ValueError(
                f"cannot sort by {value[:40]!r}; use one of {', '.join(SORT_KEYS)}, "
                "metric:<name> or param:<name> without quotes or backslashes, or label:<name> "
                "(a leading '-' sorts descending)"
            )
        return value

    @field_validator("limit")
    @classmethod
    def _limit(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_LIMIT:
            raise ValueError(f"must be between 1 and {MAX_LIMIT}, got {value}")
        return value

    @field_validator("offset")
    @classmethod
    def _offset(cls, value: int) -> int:
        if not 0 <= value <= 10**9:
            raise ValueError(f"must be between 0 and {10**9}, got {value}")
        return value

    # -- derived --------------------------------------------------------------------------------
    @property
    def label_values(self) -> dict[str, str]:
        """Labels that must have a value."""
        return {n: v for n, sep, v in (i.partition("=") for i in self.labels) if sep}

    @property
    def label_names(self) -> list[str]:
        """Labels that must exist, with any value."""
        return [i for i in self.labels if "=" not in i]

    @property
    def latest_only(self) -> bool:
        """Whether one row per key (its latest version) is listed."""
        return not (self.all_versions or self.tag)

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def sort_metric(self) -> str | None:
        """The metric name of a ``metric:<name>`` sort, else None."""
        match = METRIC_SORT.fullmatch(self.sort_key)
        return match[1] if match else None

    @property
    def sort_param(self) -> str | None:
        """The parameter name of a ``param:<name>`` sort, else None."""
        match = PARAM_SORT.fullmatch(self.sort_key)
        return match[1] if match else None

    @property
    def metric_conditions(self) -> list[tuple[str, str, float]]:
        """``(metric, operator, value)`` of each condition of :attr:`metrics`."""
        return parse_metric_conditions(self.metrics) if self.metrics else []

    @property
    def sort_label(self) -> str | None:
        """The label name of a ``label:<name>`` sort, else None."""
        match = LABEL_SORT.fullmatch(self.sort_key)
        return match[1] if match else None


def parse_metric_conditions(text: str) -> list[tuple[str, str, float]]:
    """``"auc>0.75 and f1>=0.5"`` → ``[("auc", ">", 0.75), ("f1", ">=", 0.5)]``; ValueError
    naming the part that is not a condition."""
    if len(text) > 1000:
        raise ValueError("is longer than 1000 characters")
    out = []
    for part in re.split(r"\s+and\s+|\s*&&\s*", text.strip(), flags=re.IGNORECASE):
        match = METRIC_CONDITION.fullmatch(part)
        if match is None:
            raise ValueError(
                f"cannot read {part.strip()[:60]!r} as a condition: write metric, comparison, "
                "number — e.g. 'auc>0.75 and f1>=0.5' (comparisons > >= < <= == !=, joined by "
                "'and'; metric names start with a letter or '_')"
            )
        value = float(match[3])
        if not math.isfinite(value):
            raise ValueError(f"{part.strip()[:60]!r}: the number is too large")
        out.append((match[1], match[2], value))
    if len(out) > MAX_CONDITIONS:
        raise ValueError(f"at most {MAX_CONDITIONS} metric conditions, got {len(out)}")
    return out


def describe(errors: Sequence[Any], skip: int = 0) -> str:
    """Pydantic errors as one clause per field: ``since: '3 days' is not a time: use …``
    (``skip`` leading parts of each location, e.g. FastAPI's ``query``)."""
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error["loc"][skip:]) or "filter"
        message = str(error.get("ctx", {}).get("error") or error["msg"])
        message = message.removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            fields = ", ".join(ArtifactFilter.model_fields)
            message = f"is not a filter; filters are {fields}"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
