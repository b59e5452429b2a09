"""Versions whose own blob is a JSON index of other blobs — a folder's files (``folders``), a
multi-part dataset's parts (``multipart``): what those modules stored, and the version it makes."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..catalog import ExtraRecord, NewVersion, PartRecord

if TYPE_CHECKING:
    from ..models import Producer
    from ..storage import Blob
    from .protocol import Repo


@dataclass
class Indexed:
    """The stored index and parts. ``identity`` (its kind, format and materializer are the
    version's) is digested to find identical content; ``suffix`` names the index file."""

    index: Blob
    identity: dict[str, Any]
    suffix: str
    size: int
    meta: dict[str, Any]
    blobs: dict[str, int]
    parts: list[PartRecord]
    details: dict[str, Any] | None = None
    extras: list[ExtraRecord] = field(default_factory=list)


def new_version(
    repo: Repo, key: str, project: str, stored: Indexed, producer: Producer, change: dict[str, Any]
) -> NewVersion:
    """The version to commit, with the change's tag, labels and description."""
    identity = stored.identity
    return NewVersion(
        uid=uuid.uuid4().hex,
        project=project,
        key=key,
        kind=identity["kind"],
        format=identity["format"],
        materializer=identity["materializer"],
        hash=stored.index.hash,
        size=stored.size,
        fingerprint=None,
        meta_digest=hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest(),
        filename=f"{key}.{stored.suffix}.json",
        content_type="application/json",
        description=change["description"],
        owner=repo.owner,
        producer=producer.model_dump(mode="json"),
        meta=stored.meta,
        details=stored.details,
        labels=change["labels"],
        extras=stored.extras,
        tag=change["tag"],
        blobs=stored.blobs,
        parts=stored.parts,
    )
