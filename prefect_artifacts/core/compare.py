"""Side-by-side comparison of versions: metrics and parameters of models (or any versions),
across keys and across versions of one key."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from .errors import ArtifactNotFoundError, InvalidArgumentError
from .keys import parse_ref

if TYPE_CHECKING:
    from .models import ArtifactVersion
    from .repository import Repository

LOWER_IS_BETTER = re.compile(
    r"(^|[^a-z])(loss|logloss|log_loss|error|err|rmse|mse|mae|mape|smape|wer|cer|"
    r"perplexity|latency|fpr|fnr|brier)([^a-z]|$)",
    re.IGNORECASE,
)
MAX_VERSIONS = 500


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is an improvement (losses, errors, rmse, ...)."""
    return bool(LOWER_IS_BETTER.search(metric))


class ComparedVersion(BaseModel):
    ref: str
    project: str
    key: str
    version: int
    kind: str
    tags: list[str] = Field(default_factory=list)
    created_at: datetime
    producer_run: str | None = Field(None, description="Flow run name (or id) that logged it.")
    producer_flow_run_id: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)


class Comparison(BaseModel):
    """Versions side by side; ``metrics``/``parameters`` name the columns (a version without
    one has no entry: an empty cell, not an error)."""

    versions: list[ComparedVersion]
    metrics: list[str]
    parameters: list[str]
    lower_is_better: dict[str, bool]


def compare(
    repo: Repository,
    refs: Sequence[str],
    *,
    metrics: Sequence[str] | None = None,
    parameters: Sequence[str] | None = None,
    all_versions: bool = False,
    project: str | None = None,
) -> Comparison:
    """Compare the versions ``refs`` name: ``key:1``, ``key@prod``, ``key`` (its latest, or
    every version with ``all_versions``) and globs such as ``churn-*`` (each matching key)."""
    if isinstance(refs, str):
        refs = [refs]
    chosen: dict[str, ArtifactVersion] = {}
    for ref in refs:
        for version in _resolve(repo, ref, all_versions=all_versions, project=project):
            chosen.setdefault(version.ref, version)
        if len(chosen) > MAX_VERSIONS:
            raise InvalidArgumentError(f"compare at most {MAX_VERSIONS} versions at a time")
    versions = list(chosen.values())
    rows = [_row(v) for v in versions]
    metric_names = list(metrics) if metrics else sorted({m for r in rows for m in r.metrics})
    parameter_names = (
        list(parameters) if parameters else sorted({p for r in rows for p in r.parameters})
    )
    return Comparison(
        versions=rows,
        metrics=metric_names,
        parameters=parameter_names,
        lower_is_better={m: lower_is_better(m) for m in metric_names},
    )


def _resolve(
    repo: Repository, ref: str, *, all_versions: bool, project: str | None
) -> list[ArtifactVersion]:
    if any(c in ref for c in "*?["):
        found = repo.list(key=ref, project=project, all_versions=all_versions or None, sort="key")
        if not found:
            raise ArtifactNotFoundError(f"no artifact key matches {ref!r}")
        return found
    parsed = parse_ref(ref, project=project)
    if parsed.pinned or not all_versions:
        return [repo.get(ref, project=project)]
    return repo.versions(ref, project=project)


def _row(version: ArtifactVersion) -> ComparedVersion:
    producer = version.producer
    return ComparedVersion(
        ref=version.ref,
        project=version.project,
        key=version.key,
        version=version.version,
        kind=version.kind,
        tags=version.tags,
        created_at=version.created_at,
        producer_run=producer.flow_run_name or producer.flow_run_id,
        producer_flow_run_id=producer.flow_run_id,
        metrics=dict(getattr(version, "metrics", {}) or {}),
        parameters=dict(getattr(version, "parameters", {}) or {}),
    )
