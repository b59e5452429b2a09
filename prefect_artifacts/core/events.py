"""Domain events: what the repository tells listeners after a change has committed.

Listeners (the Prefect edge's cards and events, or a user's own hook) subscribe with
:func:`subscribe`. They run after the catalog commit, in the thread that made the change; an
exception in a listener is logged, never raised: the change itself has already happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import ArtifactVersion, RepositoryLike, RunInfo

logger = logging.getLogger("prefect_artifacts.events")


@dataclass(frozen=True)
class Event:
    repository: RepositoryLike = field(repr=False)


@dataclass(frozen=True)
class VersionEvent(Event):
    """An event about one version."""

    version: ArtifactVersion


@dataclass(frozen=True)
class VersionLogged(VersionEvent):
    """A log call finished: ``created`` is False when identical content returned ``version``."""

    run: RunInfo | None
    created: bool


@dataclass(frozen=True)
class RunTracked(Event):
    """A run's metric points and results were written (``ctx.commit()``, the end of an
    ``@artifact_task``): ``metrics`` summarises each curve (last, min, max, points)."""

    run: RunInfo
    metrics: dict[str, dict[str, float]]
    results: dict[str, Any]


@dataclass(frozen=True)
class Consumed(VersionEvent):
    """A run loaded ``version`` (recorded once per run)."""

    run: RunInfo


@dataclass(frozen=True)
class TagMoved(VersionEvent):
    """``tag`` now points at ``version``; ``previous`` is the version number it left, if any.
    ``logged``: the tag came with the log call that created ``version`` (heard right after its
    ``VersionLogged``)."""

    tag: str
    previous: int | None
    logged: bool = False


@dataclass(frozen=True)
class TagRemoved(Event):
    """A tag left a version: untagged, or the version (or its whole key) was deleted."""

    project: str
    key: str
    tag: str
    version: int
    kind: str = ""
    deleted: bool = False  # the version went with it


@dataclass(frozen=True)
class LabelsSet(VersionEvent):
    labels: dict[str, str]
    replace: bool


@dataclass(frozen=True)
class DescriptionSet(VersionEvent):
    """``version``'s description was replaced."""


@dataclass(frozen=True)
class Revised(VersionEvent):
    """``version``'s metadata changed in place (``update_model``): revision number ``revision``."""

    revision: int


@dataclass(frozen=True)
class Deleted(Event):
    project: str
    key: str
    versions: list[int]


Listener = Callable[[Event], Any]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Listener:
    """Call ``listener(event)`` after every committed change (once, however often called)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def unsubscribe(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def emit(event: Event) -> None:
    for listener in list(_listeners):
        try:
            listener(event)
        except Exception as exc:  # the change is committed; a listener cannot undo it
            logger.warning(
                "listener %s failed on %s: %s: %s",
                getattr(listener, "__qualname__", listener),
                type(event).__name__,
                type(exc).__name__,
                exc,
            )
