"""What goes into the catalog and what comes out of it: typed records, never raw rows.

Times are naive UTC inside the database and aware UTC in records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def to_db_time(value: datetime) -> datetime:
    """Aware → naive UTC; naive values are taken as local time, as ``datetime.now()`` gives."""
    return value.astimezone(UTC).replace(tzinfo=None)


def from_db_time(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ExtraRecord:
    name: str
    hash: str
    size: int
    source: str  # "bytes" | "file" | "artifact" | "url"
    filename: str | None = None
    artifact: str | None = None


@dataclass(frozen=True)
class PartRecord:
    """One part of a multi-part dataset: a Parquet file stored as a content-addressed blob."""

    position: int
    hash: str
    size: int
    rows: int


@dataclass
class VersionFields:
    """What every version row holds, whether about to be inserted or read back."""

    uid: str
    project: str
    key: str
    kind: str
    format: str
    materializer: str
    hash: str
    size: int
    fingerprint: str | None
    meta_digest: str
    filename: str
    content_type: str
    description: str | None
    owner: str | None
    producer: dict[str, Any]
    meta: dict[str, Any]
    details: dict[str, Any] | None


@dataclass
class NewVersion(VersionFields):
    """A version to insert: the catalog allocates its number and times."""

    labels: dict[str, str] = field(default_factory=dict)
    extras: list[ExtraRecord] = field(default_factory=list)
    tag: str | None = None
    blobs: dict[str, int] = field(default_factory=dict)  # hash → size of every referenced blob
    parts: list[PartRecord] = field(default_factory=list)  # multi-part datasets, in order


@dataclass
class VersionRecord(VersionFields):
    """One version row with its labels, tags and extra data."""

    id: int
    version: int
    flow_name: str | None
    flow_run_id: str | None
    task_run_id: str | None
    created_at: datetime
    updated_at: datetime
    labels: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    extras: list[ExtraRecord] = field(default_factory=list)
    parts: list[PartRecord] = field(default_factory=list)  # read with details only

    def document(self) -> dict[str, Any]:
        """Everything but the row id, JSON-ready (the manifest's content)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "id"}
        out["created_at"] = self.created_at.isoformat()
        out["updated_at"] = self.updated_at.isoformat()
        out["extras"] = [vars(e) for e in self.extras]
        if self.parts:
            out["parts"] = [vars(p) for p in self.parts]
        else:
            out.pop("parts")
        return out


@dataclass(frozen=True)
class LatestRecord:
    """The identity of a key's latest version (what the identical-content check compares)."""

    id: int
    version: int
    hash: str
    fingerprint: str | None
    meta_digest: str


@dataclass(frozen=True)
class RunRecord:
    """A run that produced or consumed a version."""

    role: str  # "producer" | "consumer"
    project: str
    key: str
    version: int
    flow_name: str | None
    flow_run_id: str | None
    flow_run_name: str | None
    task_run_id: str | None
    task_run_name: str | None
    at: datetime


@dataclass(frozen=True)
class RevisionRecord:
    """One metadata revision of a version."""

    project: str
    key: str
    version: int
    revision: int
    at: datetime
    updater: dict[str, Any]
    changes: dict[str, Any]


@dataclass(frozen=True)
class ProjectRecord:
    project: str
    keys: int
    updated_at: datetime


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    path: str
    document: dict[str, Any] | None


@dataclass(frozen=True)
class Committed:
    """What a commit did: the version row, whether it is new, and the time it recorded."""

    id: int
    created: bool
    at: datetime | None  # None: nothing was recorded (identical content, run already known)
    record: VersionRecord | None = None  # the new version as committed
    tag_moved: bool = False  # the log's tag now points here (it was new or on another version)
    tag_left: int | None = None  # the version number the tag left, if any
