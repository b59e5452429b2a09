"""Checks on what callers give a version — metrics, parameters, iteration, description — with
messages that say how to fix the value."""

from __future__ import annotations

import decimal
import math
import numbers
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from ..materializers.summary import json_safe


def check_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate the caller's kind-specific fields (metrics must be finite real numbers)."""
    metrics = fields.get("metrics")
    if metrics is not None:
        if not isinstance(metrics, dict):
            raise InvalidArgumentError(
                "metrics must be a dict of name → number, e.g. {'accuracy': 0.9}"
            )
        fields["metrics"] = {str(name): metric_value(name, v) for name, v in metrics.items()}
    parameters = fields.get("parameters")
    if parameters is not None:
        if not isinstance(parameters, dict):
            raise InvalidArgumentError("parameters must be a dict, e.g. {'max_depth': 5}")
        check_depth(parameters, "parameters")
        fields["parameters"] = {str(k): json_safe(v) for k, v in parameters.items()}
    iteration = fields.get("iteration")
    if iteration is not None:
        fields["iteration"] = check_iteration(iteration)
    return fields


MAX_DEPTH = 100


def check_depth(value: Any, what: str, limit: int = MAX_DEPTH) -> None:
    """Refuse dicts, lists, tuples and sets nested deeper than ``limit`` (serializers recurse:
    deeper values end in a bare RecursionError). Walks without recursing."""
    if not isinstance(value, (dict, list, tuple, set, frozenset)):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen: set[int] = set()
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise InvalidArgumentError(
                f"{what} is nested more than {limit} levels deep; flatten it, or store it "
                "as bytes you serialize yourself"
            )
        if id(item) in seen:
            continue
        seen.add(id(item))
        children = item.values() if isinstance(item, dict) else item
        stack.extend(
            (child, depth + 1)
            for child in children
            if isinstance(child, (dict, list, tuple, set, frozenset))
        )


def check_iteration(value: Any) -> int:
    """An iteration is a whole number from 0 (MLRun's ``iter``); digit strings are accepted."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(
            f"iteration must be a whole number from 0, got {type(value).__name__} "
            f"{str(value)[:40]!r}; e.g. iteration=3"
        )
    if not 0 <= int(value) < 2**31:
        raise InvalidArgumentError(f"iteration must be between 0 and 2**31-1, got {value}")
    return int(value)


def metric_value(name: Any, value: Any) -> float:
    """A metric as a float: any finite real number (int, float, numpy scalars, Decimal,
    Fraction); booleans, NaN, infinities, numbers beyond a float and anything else refused."""
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(
            f"metric {name!r} is the boolean {value!r}; metrics are numbers — log 1.0/0.0, or "
            "record it as a parameter"
        )
    if not isinstance(value, (numbers.Real, decimal.Decimal)):
        raise InvalidArgumentError(
            f"metric {name!r} is {type(value).__name__} {str(value)[:40]!r}; metrics must be "
            "finite numbers (not strings or None) — drop it or record it as a parameter"
        )
    try:
        number = float(value)
    except (OverflowError, ValueError):
        number = math.inf
    if not math.isfinite(number):
        raise InvalidArgumentError(
            f"metric {name!r} is {str(value)[:40]}, which is not a finite number a float can "
            "hold (NaN, infinite or beyond ±1.8e308) — drop it or record it as a parameter"
        )
    return number


def check_description(description: Any) -> str | None:
    """A description is text: one string of at most 10,000 characters, valid Unicode."""
    if description is None:
        return None
    if not isinstance(description, str):
        raise InvalidArgumentError(
            f"description must be a string, got {type(description).__name__}; e.g. "
            "description='daily extract of events'"
        )
    if len(description) > 10_000:
        raise InvalidArgumentError("description is longer than 10,000 characters; shorten it")
    check_text(description, "description")
    return description


def check_text(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(
            f"{what} contains {value[exc.start : exc.end]!r}, a lone surrogate that is not "
            "valid Unicode text; decode the source text properly (e.g. errors='replace')"
        ) from None
