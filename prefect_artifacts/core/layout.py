"""Where things live under the storage root: every path is built here and nowhere else.

::

    blobs/sha256/ab/cdef…                  the bytes, stored once per content
    manifests/<project>/<key>/<n>.json     every version's full metadata (the catalog can be rebuilt)
    journal/<project>/<time>-<id>.json     later changes: tags, labels, consumers, deletions
    metrics/<project>/<run>/<time>-<batch>.json   step metrics and results of runs, per batch
    tmp/<id>                               writes in flight (moved into blobs/ when complete)
"""

from __future__ import annotations

import uuid
from datetime import datetime

BLOBS = "blobs/sha256"
MANIFESTS = "manifests"
JOURNAL = "journal"
METRICS = "metrics"
TMP = "tmp"


def blob(digest: str) -> str:
    return f"{BLOBS}/{digest[:2]}/{digest[2:]}"


def digest_of(relative: str) -> str | None:
    """The sha256 of a blob path relative to the root (``blobs/sha256/ab/cd…``), else None."""
    if not relative.startswith(BLOBS + "/"):
        return None
    parts = relative[len(BLOBS) + 1 :].split("/")
    if len(parts) == 2 and len(parts[0]) == 2 and len(parts[1]) == 62:
        return parts[0] + parts[1]
    return None


def manifest(project: str, key: str, version: int) -> str:
    return f"{MANIFESTS}/{project}/{key}/{version}.json"


def journal(project: str, at: datetime) -> str:
    return f"{JOURNAL}/{project}/{at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}.json"


def metrics(project: str, run_id: str, at: datetime, batch: str) -> str:
    return f"{METRICS}/{project}/{run_id}/{at:%Y%m%dT%H%M%S%f}-{batch}.json"


def tmp() -> str:
    return f"{TMP}/{uuid.uuid4().hex}"
