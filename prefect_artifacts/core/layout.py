"""Where things live under the storage root: every path is built here and nowhere else.

::

    repository.json                        the repository's identity (id, created, first catalog)
    writers/<digest>.json                  one record per machine + catalog that has written here
    blobs/sha256/ab/cdef…                  the bytes, stored once per content
    manifests/<project>/<key>/<n>-<uid>.json   every version's full metadata (the catalog can be
                                           rebuilt); release ≤ 0.6 named them <n>.json
    journal/<project>/<time>-<id>.json     later changes: tags, labels, consumers, deletions
    metrics/<project>/<run>/<time>-<batch>.json   step metrics and results of runs, per batch
    tmp/<id>                               writes in flight (moved into blobs/ when complete)
    leases/<id>.json                       writes in flight that gc must leave alone
    signing.json                           the key that signs this repository's records, if any

Manifests, journal entries, the repository document and writer records are created once and
never overwritten (see ``Storage.create_json``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

BLOBS = "blobs/sha256"
MANIFESTS = "manifests"
JOURNAL = "journal"
METRICS = "metrics"
TMP = "tmp"
SIGNING = "signing.json"
LEASES = "leases"
REPOSITORY = "repository.json"
WRITERS = "writers"


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


def manifest(project: str, key: str, version: int, uid: str | None = None) -> str:
    """A version's manifest, named by its number and uid (``uid=None``: the old name
    ``<n>.json``, which two catalogs sharing a storage could both claim)."""
    name = f"{version}-{uid}" if uid else str(version)
    return f"{MANIFESTS}/{project}/{key}/{name}.json"


def manifest_number(relative_name: str) -> int | None:
    """The version number in a manifest's file name (``3-<uid>.json`` or ``3.json``)."""
    stem = relative_name.rsplit("/", 1)[-1].removesuffix(".json")
    number = stem.split("-", 1)[0]
    return int(number) if number.isdigit() else None


def writer(digest: str) -> str:
    return f"{WRITERS}/{digest}.json"


def journal(project: str, at: datetime) -> str:
    return f"{JOURNAL}/{project}/{at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}.json"


def metrics(project: str, run_id: str, at: datetime, batch: str) -> str:
    return f"{METRICS}/{project}/{run_id}/{at:%Y%m%dT%H%M%S%f}-{batch}.json"


def tmp() -> str:
    return f"{TMP}/{uuid.uuid4().hex}"


def lease() -> str:
    return f"{LEASES}/{uuid.uuid4().hex}.json"
