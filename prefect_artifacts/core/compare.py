"""Side-by-side comparison of versions: metrics and parameters of models (or any versions),
across keys and across versions of one key; the best version by a metric."""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, Field

from .errors import ArtifactNotFoundError, InvalidArgumentError
from .keys import parse_ref

if TYPE_CHECKING:
    import pandas as pd

    from .models import ArtifactVersion
    from .repository import Repository

LOWER_IS_BETTER = re.compile(
    r"(^|[^a-z])(loss|logloss|log_loss|error|errors|err|rmse|mse|mae|mape|smape|wer|cer|"
    r"perplexity|latency|duration|time|size|cost|regret|fpr|fnr|brier)([^a-z]|$)"
    r"|_(s|ms|us|ns|sec|secs|seconds|bytes|kb|mb|gb)$",
    re.IGNORECASE,
)
DIRECTIONS_ENV = "PREFECT_ARTIFACTS_METRIC_DIRECTIONS"
MAX_VERSIONS = 500
MODES = ("max", "min")


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is an improvement (see :func:`metric_direction`)."""
    return metric_direction(metric)[0] == "min"


def metric_direction(metric: str) -> tuple[str, str]:
    """``("min" | "max", why)`` for ``metric``: from ``PREFECT_ARTIFACTS_METRIC_DIRECTIONS``
    (``name=min,pattern*=max``, a JSON object, or the path of a file holding either), else from
    its name (losses, errors, times, latencies, durations, sizes and names ending in a unit
    such as ``_ms`` or ``_s`` are lower-is-better), else higher-is-better."""
    for pattern, direction in metric_overrides(os.environ.get(DIRECTIONS_ENV, "")):
        if fnmatch.fnmatchcase(metric, pattern):
            return direction, f"set in {DIRECTIONS_ENV}"
    found = LOWER_IS_BETTER.search(metric)
    if found:
        word = found[2] or f"_{found[4]}"
        return "min", f"assumed: the name has {word!r}"
    return "max", "assumed: higher is better"


@functools.lru_cache(maxsize=8)
def metric_overrides(value: str) -> tuple[tuple[str, str], ...]:
    """The parsed ``PREFECT_ARTIFACTS_METRIC_DIRECTIONS`` (exact names before patterns)."""
    text = value.strip()
    if text and not text.startswith("{") and "=" not in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise InvalidArgumentError(
                f"{DIRECTIONS_ENV}={text[:80]!r} is neither name=min|max pairs, a JSON object, nor "
                "an existing file holding either"
            )
        text = path.read_text().strip()
    if text.startswith("{"):
        try:
            pairs = list(json.loads(text).items())
        except (ValueError, AttributeError) as exc:
            raise InvalidArgumentError(f"{DIRECTIONS_ENV}: invalid JSON: {exc}") from None
    else:
        items = [i.strip() for i in re.split(r"[,\n]", text) if i.strip() and not i.startswith("#")]
        pairs = [tuple(x.strip() for x in i.partition("=")[::2]) for i in items]
    out = []
    for name, direction in pairs:
        aliases = {"min": "min", "lower": "min", "max": "max", "higher": "max"}
        if not name or str(direction).lower() not in aliases:
            raise InvalidArgumentError(
                f"{DIRECTIONS_ENV}: write each entry as name=min or name=max "
                f"(got {name!r}: {direction!r})"
            )
        out.append((name, aliases[str(direction).lower()]))
    return tuple(sorted(out, key=lambda p: any(c in p[0] for c in "*?[")))


class ComparedVersion(BaseModel):
    ref: str
    project: str
    key: str
    version: int
    kind: str
    iteration: int | None = Field(None, description="The iteration (hyperparameter run) it is.")
    tags: list[str] = Field(default_factory=list)
    created_at: datetime
    producer_run: str | None = Field(None, description="Flow run name (or id) that logged it.")
    producer_flow_run_id: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)


class Comparison(BaseModel):
    """Versions side by side; ``metrics``/``parameters`` name the columns (a version without
    one has no entry: an empty cell, not an error). ``best`` names, per metric, the ref of the
    winning version (highest, or lowest where lower is better)."""

    versions: list[ComparedVersion]
    metrics: list[str]
    parameters: list[str]
    lower_is_better: dict[str, bool]
    best: dict[str, str] = Field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per version: key, version, iteration, tags, created, producer run, then a
        column per metric and one per parameter (``param.<name>``)."""
        import pandas as pd

        rows = []
        for v in self.versions:
            row: dict[str, Any] = {
                "ref": v.ref,
                "key": v.key,
                "version": v.version,
                "iteration": v.iteration,
                "tags": ", ".join(v.tags),
                "created": v.created_at,
                "producer_run": v.producer_run,
            }
            row.update({m: v.metrics.get(m) for m in self.metrics})
            row.update({f"param.{p}": v.parameters.get(p) for p in self.parameters})
            rows.append(row)
        columns = ["ref", "key", "version", "iteration", "tags", "created", "producer_run"]
        columns += [*self.metrics, *(f"param.{p}" for p in self.parameters)]
        frame = pd.DataFrame(rows, columns=columns)
        for m in self.metrics:
            frame[m] = pd.to_numeric(frame[m], errors="coerce").astype("float64")
        frame["iteration"] = frame["iteration"].astype("Int64")
        return frame


def compare(
    repo: Repository,
    refs: Sequence[str | ArtifactVersion] | str,
    *,
    metrics: Sequence[str] | None = None,
    parameters: Sequence[str] | bool | None = None,
    all_versions: bool = False,
    project: str | None = None,
    run: str | None = None,
) -> Comparison:
    """Compare the versions ``refs`` name: ``key:1``, ``key@prod``, ``key`` (its latest, or
    every version with ``all_versions``), globs such as ``churn-*`` (each matching key) and
    version objects. ``run`` (a flow run id or name) keeps the versions that run produced —
    every version of the keys named, ordered by iteration: a hyperparameter run's table.
    ``parameters=False`` leaves the parameters out."""
    if isinstance(refs, str) or not isinstance(refs, Sequence):
        refs = [refs]
    if not refs:
        raise InvalidArgumentError("name at least one version, key or glob to compare")
    chosen: dict[str, ArtifactVersion] = {}
    for ref in refs:
        found = (
            [ref]
            if not isinstance(ref, str)
            else _resolve(repo, ref, all_versions=all_versions or run is not None, project=project)
        )
        for version in found:
            chosen.setdefault(version.ref, version)
        if run is None and len(chosen) > MAX_VERSIONS:
            raise InvalidArgumentError(_too_many(len(chosen)))
    versions = list(chosen.values())
    if run is not None:  # the limit counts what the run produced, not the keys' whole history
        versions = _of_run(repo, versions, run)
        if len(versions) > MAX_VERSIONS:
            raise InvalidArgumentError(_too_many(len(versions)))
        versions.sort(key=lambda v: (v.key, _iteration(v) is None, _iteration(v) or 0, v.version))
    rows = [_row(v) for v in versions]
    metric_names = list(metrics) if metrics else sorted({m for r in rows for m in r.metrics})
    if parameters is False:
        parameter_names: list[str] = []
    elif parameters and parameters is not True:
        parameter_names = list(parameters)
    else:
        parameter_names = sorted({p for r in rows for p in r.parameters})
    lower = {m: lower_is_better(m) for m in metric_names}
    best = {}
    for m in metric_names:
        winner = _winner(rows, m, "min" if lower[m] else "max")
        if winner is not None:
            best[m] = winner.ref
    return Comparison(
        versions=rows,
        metrics=metric_names,
        parameters=parameter_names,
        lower_is_better=lower,
        best=best,
    )


def best(
    repo: Repository,
    refs: Sequence[str | ArtifactVersion] | str,
    *,
    metric: str,
    mode: str | None = None,
    all_versions: bool = True,
    project: str | None = None,
    run: str | None = None,
) -> ArtifactVersion:
    """The version with the best ``metric`` among those ``refs`` name (every version of each
    key by default): ``mode="max"`` or ``"min"`` (default: ``min`` for losses and errors,
    else ``max``). Versions without the metric are passed over; ties go to the first in
    order (key, then iteration within a run, then version)."""
    if not isinstance(metric, str) or not metric:
        raise InvalidArgumentError("best needs metric=, the name of a metric, e.g. metric='auc'")
    if mode is None:
        mode = "min" if lower_is_better(metric) else "max"
    if mode not in MODES:
        raise InvalidArgumentError(f"mode must be 'max' or 'min', got {mode!r}")
    table = compare(
        repo, refs, metrics=[metric], all_versions=all_versions, project=project, run=run
    )
    winner = _winner(table.versions, metric, mode)
    if winner is None:
        known = sorted({m for v in table.versions for m in v.metrics})
        raise ArtifactNotFoundError(
            f"none of the {len(table.versions)} version(s) compared has the metric {metric!r}; "
            f"their metrics: {', '.join(known) or 'none'}"
        )
    return repo.get(winner.ref)


def _winner(rows: list[ComparedVersion], metric: str, mode: str) -> ComparedVersion | None:
    candidates = [r for r in rows if metric in r.metrics]
    if not candidates:
        return None
    pick = max if mode == "max" else min
    return pick(candidates, key=lambda r: r.metrics[metric])


def _too_many(count: int) -> str:
    return (
        f"compare at most {MAX_VERSIONS} versions at a time ({count}+ named): name fewer keys "
        "or versions, drop all_versions, or pick one flow run with run="
    )


def _resolve(
    repo: Repository, ref: str, *, all_versions: bool, project: str | None
) -> list[ArtifactVersion]:
    if any(c in ref for c in "*?["):
        found = repo.list(key=ref, project=project, all_versions=all_versions or None, sort="key")
        if not found:
            raise ArtifactNotFoundError(f"no artifact key matches {ref!r}")
        return sorted(found, key=lambda v: (v.key, v.version))
    parsed = parse_ref(ref, project=project)
    if parsed.pinned or not all_versions:
        return [repo.get(ref, project=project)]
    return sorted(repo.versions(ref, project=project), key=lambda v: v.version)


def _of_run(repo: Repository, versions: list[ArtifactVersion], run: str) -> list[ArtifactVersion]:
    """The versions a flow run (id or name) produced, or re-produced with identical content."""
    if isinstance(run, UUID):  # flow_run.id as Prefect gives it
        run = str(run)
    if not isinstance(run, str) or not run:
        raise InvalidArgumentError("run must be a flow run id or name, e.g. run=str(flow_run.id)")

    def produced(v: ArtifactVersion) -> bool:
        if run in (v.producer.flow_run_id, v.producer.flow_run_name):
            return True
        return any(
            run in (r.flow_run_id, r.flow_run_name) for r in repo.runs_of(v, role="producer")
        )

    kept = [v for v in versions if produced(v)]
    if not kept:
        raise ArtifactNotFoundError(
            f"flow run {run!r} produced none of the {len(versions)} version(s) named"
        )
    return kept


def _iteration(version: ArtifactVersion) -> int | None:
    value = getattr(version, "iteration", None)
    return value if isinstance(value, int) else None


def _row(version: ArtifactVersion) -> ComparedVersion:
    producer = version.producer
    return ComparedVersion(
        ref=version.ref,
        project=version.project,
        key=version.key,
        version=version.version,
        kind=version.kind,
        iteration=_iteration(version),
        tags=version.tags,
        created_at=version.created_at,
        producer_run=producer.flow_run_name or producer.flow_run_id,
        producer_flow_run_id=producer.flow_run_id,
        metrics=dict(getattr(version, "metrics", {}) or {}),
        parameters=dict(getattr(version, "parameters", {}) or {}),
    )


def last_versions(repo: Repository, refs: list[Any], last: int, project: str | None) -> list[Any]:
    """The last ``last`` versions of each key ``refs`` name (a glob: the newest ``last`` among
    its keys), by key and number (``compare --last``)."""
    if not isinstance(last, int) or isinstance(last, bool) or not 1 <= last <= 1000:
        raise InvalidArgumentError(f"last must be a whole number from 1 to 1000, got {last!r}")
    out: list[Any] = []
    for ref in refs:
        if not isinstance(ref, str):
            raise InvalidArgumentError("last= takes keys (or globs), not versions")
        found = repo.list(key=ref, all_versions=True, sort="-version", limit=last, project=project)
        if not found:
            raise ArtifactNotFoundError(f"no versions of {ref!r} to compare")
        out += sorted(found, key=lambda v: (v.key, v.version))
    return out
