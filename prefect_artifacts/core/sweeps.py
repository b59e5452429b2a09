"""Sweeps that resolve to their best: ``select_best(key, "max.auc")`` (MLRun's selector) points
the key at the best iteration of its latest sweep, as MLRun's iteration-0 link does — ``key``,
``key:latest``, ``key#0`` and ``store://…/key`` then name it, and it carries the ``best`` tag."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .catalog import utcnow
from .errors import ArtifactNotFoundError, InvalidArgumentError
from .events import TagMoved, emit
from .keys import validate_key
from .runs import current_producer

if TYPE_CHECKING:
    from .models import ArtifactVersion
    from .repository import Repository

SELECTOR = re.compile(r"(max|min)\.([^\s]{1,128})")


def parse_selector(selector: Any) -> tuple[str, str]:
    """``"max.auc"`` → ``("max", "auc")``."""
    match = SELECTOR.fullmatch(selector) if isinstance(selector, str) else None
    if match is None:
        raise InvalidArgumentError(
            f"selector {str(selector)[:40]!r} is not MLRun's form: write 'max.<metric>' or "
            "'min.<metric>', e.g. 'max.auc' or 'min.loss'"
        )
    return match[1], match[2]


def sweep_of(
    repo: Repository, key: str, run: str | list[str] | None, project: str | None
) -> list[ArtifactVersion]:
    """The candidates: the versions of ``key`` that ``run`` (a flow or task run id, or several)
    logged; without ``run``, the latest sweep — the versions with an iteration logged by the
    run that logged the newest of them."""
    versions = repo.versions(validate_key(key), project=project)  # newest first
    if run is not None:
        ids = {run} if isinstance(run, str) else set(run)
        return [v for v in versions if ids & {v.producer.flow_run_id, v.producer.task_run_id}]
    swept = [v for v in versions if v.iteration is not None]
    if not swept:
        return []
    newest = swept[0].producer
    if newest.flow_run_id:
        return [v for v in swept if v.producer.flow_run_id == newest.flow_run_id]
    return [v for v in swept if (v.producer.host, v.producer.pid) == (newest.host, newest.pid)]


def select_best(
    repo: Repository,
    key: str,
    selector: str,
    *,
    run: str | list[str] | None = None,
    project: str | None = None,
) -> ArtifactVersion:
    """Point ``key`` at the best of its latest sweep (or of ``run``) by ``selector``; returns it."""
    mode, metric = parse_selector(selector)
    candidates = sweep_of(repo, key, run, project)
    scored = [v for v in candidates if metric in _metrics(v)]
    if not scored:
        where = (
            f"logged by run {run}" if run else "of its latest sweep (versions with an iteration)"
        )
        raise ArtifactNotFoundError(
            f"no version of {key!r} {where} has the metric {metric!r} "
            f"({len(candidates)} candidate(s)); log models with metrics={{{metric!r}: ...}}"
        )
    pick = max if mode == "max" else min
    best = pick(
        scored, key=lambda v: (_metrics(v)[metric], -v.version if mode == "max" else v.version)
    )
    producer = current_producer(repo.owner)
    who = {"by": repo.owner, "run": producer.run_id}
    previous = repo.catalog.select(repo.row_id(best), utcnow(), who, selector)
    repo.drain()
    chosen = repo.get(best.ref)
    emit(TagMoved(repo, chosen, SELECTED_TAG, previous))
    return chosen


SELECTED_TAG = "best"


def _metrics(version: ArtifactVersion) -> dict[str, Any]:
    """A version's metrics (models and datasets have them; other kinds none)."""
    return getattr(version, "metrics", None) or {}
