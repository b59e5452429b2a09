"""Differences between two versions: schema, rows and column statistics of datasets; metrics and
parameters of models; bytes of anything."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .models import ArtifactVersion, DatasetVersion, ModelVersion

STAT_FIELDS = ("count", "nulls", "mean", "std", "min", "max", "25%", "50%", "75%", "unique")


class ColumnChange(BaseModel):
    name: str
    change: str  # "added" | "removed" | "retyped"
    old_type: str | None = None
    new_type: str | None = None


class StatDrift(BaseModel):
    column: str
    stat: str
    old: Any
    new: Any
    delta: float | None = None
    relative: float | None = None  # delta / |old|


class MetricChange(BaseModel):
    name: str
    old: float | None
    new: float | None
    delta: float | None = None


class PartChanges(BaseModel):
    """Parts of multi-part datasets: what ``b`` adds, drops and shares with ``a``."""

    added: list[str] = Field(default_factory=list)  # sha256 of parts only in b
    removed: list[str] = Field(default_factory=list)  # sha256 of parts only in a
    shared: int = 0
    added_bytes: int = 0
    removed_bytes: int = 0


class VersionDiff(BaseModel):
    a: str
    b: str
    kind: str
    same_content: bool
    size_change: int
    rows: tuple[int | None, int | None] | None = None
    columns: list[ColumnChange] = Field(default_factory=list)
    stats: list[StatDrift] = Field(default_factory=list)
    metrics: list[MetricChange] = Field(default_factory=list)
    parameters: list[dict[str, Any]] = Field(default_factory=list)
    labels: list[dict[str, Any]] = Field(default_factory=list)
    parts: PartChanges | None = None


def diff_versions(a: ArtifactVersion, b: ArtifactVersion) -> VersionDiff:
    """What changed from ``a`` to ``b`` (usually two versions of one key, any two work)."""
    out = VersionDiff(
        a=a.ref,
        b=b.ref,
        kind=b.kind,
        same_content=a.hash == b.hash,
        size_change=b.size - a.size,
        labels=_dict_changes(a.labels, b.labels),
    )
    if isinstance(a, DatasetVersion) and isinstance(b, DatasetVersion):
        out.rows = (a.rows, b.rows)
        out.columns = _schema_changes(a.schema, b.schema)
        out.stats = _stat_drift(a.stats or {}, b.stats or {})
        if a.part_count or b.part_count:
            out.parts = _part_changes(a, b)
    if isinstance(a, ModelVersion) and isinstance(b, ModelVersion):
        out.metrics = [
            MetricChange(
                name=name,
                old=a.metrics.get(name),
                new=b.metrics.get(name),
                delta=(b.metrics[name] - a.metrics[name])
                if name in a.metrics and name in b.metrics
                else None,
            )
            for name in sorted(set(a.metrics) | set(b.metrics))
        ]
        out.parameters = _dict_changes(a.parameters, b.parameters)
    return out


def _part_changes(a: DatasetVersion, b: DatasetVersion) -> PartChanges:
    """A single-file version counts as one part (its file)."""
    old = {p.hash: p.size for p in a.parts} if a.part_count else {a.hash: a.size}
    new = {p.hash: p.size for p in b.parts} if b.part_count else {b.hash: b.size}
    added = [h for h in new if h not in old]
    removed = [h for h in old if h not in new]
    return PartChanges(
        added=added,
        removed=removed,
        shared=len(set(old) & set(new)),
        added_bytes=sum(new[h] for h in added),
        removed_bytes=sum(old[h] for h in removed),
    )


def _schema_changes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[ColumnChange]:
    before = {c["name"]: c["type"] for c in old}
    after = {c["name"]: c["type"] for c in new}
    changes = [
        ColumnChange(name=n, change="removed", old_type=t)
        for n, t in before.items()
        if n not in after
    ]
    changes += [
        ColumnChange(name=n, change="added", new_type=t)
        for n, t in after.items()
        if n not in before
    ]
    changes += [
        ColumnChange(name=n, change="retyped", old_type=before[n], new_type=t)
        for n, t in after.items()
        if n in before and before[n] != t
    ]
    return changes


def _stat_drift(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[StatDrift]:
    drift = []
    for column in [c for c in new if c in old]:
        for stat in STAT_FIELDS:
            x, y = old[column].get(stat), new[column].get(stat)
            if x == y or (x is None and y is None):
                continue
            delta: float | None = None
            relative: float | None = None
            if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                delta = float(y) - float(x)
                relative = delta / abs(x) if x not in (0, 0.0) else None
            drift.append(
                StatDrift(column=column, stat=stat, old=x, new=y, delta=delta, relative=relative)
            )
    return drift


def _dict_changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": k, "old": old.get(k), "new": new.get(k)}
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]
