"""The repository's identity: ``repository.json`` in storage and the same id in the catalog.

A process checks the pair once (cached) before its first write: a catalog that holds another
id — or none, on a storage that already has a repository document — is refused with
:class:`RepositoryMismatchError`, so two catalogs never write into one storage unnoticed. The
first write (or ``prefect-artifacts init``) of a new repository creates both; an existing
catalog (stamped with an id by migration 0007) writes its id to a storage without one.
Each machine + catalog that writes leaves one record under ``writers/`` (for ``info``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from .. import layout
from ..catalog.database import safe_url
from ..errors import RepositoryMismatchError, StorageError

if TYPE_CHECKING:
    from .protocol import Repo

FORMAT = 1
logger = logging.getLogger("prefect_artifacts")
_warned: set[tuple[str, str]] = set()  # (what, storage URL): warnings given once per process


@dataclass(frozen=True)
class Binding:
    """What the catalog and the storage say about the repository's identity."""

    catalog_id: str | None
    document: dict[str, Any] | None  # the storage's repository.json
    catalog_has_keys: bool = False

    @property
    def storage_id(self) -> str | None:
        return self.document["id"] if self.document else None

    @property
    def state(self) -> str:
        """``bound`` (same id), ``new`` (no document yet: the first write creates it) or
        ``mismatch`` (another id, or none on a storage that has a document)."""
        if self.document is None:
            return "new"
        return "bound" if self.catalog_id == self.storage_id else "mismatch"

    @property
    def id(self) -> str | None:
        return self.catalog_id or self.storage_id


def check(repo: Repo) -> Binding:
    """Read both sides (one storage read, one catalog transaction) — the document first: a
    new repository's catalog claims its id before the document is created, so a process that
    sees the document also sees the claim (first writers racing are never refused)."""
    document = read_document(repo)
    catalog_id, has_keys = repo.catalog.identity()
    return Binding(catalog_id, document, has_keys)


def read_document(repo: Repo) -> dict[str, Any] | None:
    path = repo.storage.path(layout.REPOSITORY)
    document: dict[str, Any] | None
    try:
        document = repo.storage.read_json(path)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        document, why = None, f"not JSON ({exc})"
    else:
        why = "" if _valid(document) else "not a repository document"
    if why:
        raise StorageError(
            f"{repo.storage.fs.unstrip_protocol(path)} is {why}: it names the repository this "
            "storage belongs to. Restore it from a backup, or remove it and run "
            "`prefect-artifacts init` to give the storage its catalog's id again"
        )
    return document


def _valid(document: Any) -> bool:
    if not isinstance(document, dict) or not isinstance(document.get("id"), str):
        return False
    try:
        uuid.UUID(document["id"])
    except ValueError:
        return False
    return True


def bind(repo: Repo) -> Binding:
    """The pair as it is, made whole when it is new: the catalog claims an id (its own, or a
    new one), then the storage's document is created with it unless one exists. Raises
    RepositoryMismatchError when the two disagree."""
    binding = check(repo)
    if binding.state == "new":
        held = repo.catalog.claim_identity(binding.catalog_id or str(uuid.uuid4()))
        document = new_document(repo, held)
        # another process may have created it first: compared below
        with contextlib.suppress(FileExistsError):
            repo.storage.create_json(repo.storage.path(layout.REPOSITORY), document)
        binding = Binding(held, read_document(repo), True)
    if binding.state != "bound":
        raise mismatch_error(repo, binding)
    return binding


def adopt(repo: Repo) -> tuple[str, str | None]:
    """Make the catalog take the storage's id (``reindex --adopt``); a storage without a
    document takes the catalog's. Returns (the id now, the catalog's id before)."""
    binding = check(repo)
    if binding.document is None:
        return bind(repo).catalog_id or "", binding.catalog_id
    repo.catalog.claim_identity(binding.storage_id or "", replace=True)
    return binding.storage_id or "", binding.catalog_id


def new_document(repo: Repo, repository_id: str) -> dict[str, Any]:
    return {
        "repository": FORMAT,
        "id": repository_id,
        "created": datetime.now(UTC).isoformat(),
        "catalog": fingerprint(repo.catalog.url),
        "created_by": f"prefect-artifacts {_release()}",
    }


def record_writer(repo: Repo) -> None:
    """Leave this machine + catalog's record under ``writers/`` (once; best effort)."""
    catalog = fingerprint(repo.catalog.url)
    host = socket.gethostname()
    name = hashlib.sha256(f"{host}\n{sorted(catalog.items())}".encode()).hexdigest()[:16]
    record = {
        "host": host,
        "catalog": catalog,
        "first_write": datetime.now(UTC).isoformat(),
        "release": _release(),
    }
    try:
        repo.storage.create_json(repo.storage.path(layout.writer(name)), record)
    except FileExistsError:
        pass  # recorded by an earlier process
    except Exception as exc:
        logger.info("could not record this writer in %s: %s", repo.storage.url, exc)


def writers(repo: Repo) -> list[dict[str, Any]]:
    """The writer records in storage (machines + catalogs that have written)."""
    out = []
    for path in repo.storage.find(layout.WRITERS):
        try:
            record = repo.storage.read_json(path)
        except (ValueError, FileNotFoundError):
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def fingerprint(url: str) -> dict[str, Any]:
    """The catalog's backend and database identity, never its credentials."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = os.path.abspath(parsed.database) if parsed.database else ":memory:"
        return {"backend": "sqlite", "host": socket.gethostname(), "database": path}
    return {
        "backend": parsed.get_backend_name(),
        "host": parsed.host,
        "port": parsed.port or 5432,
        "database": parsed.database,
    }


def describe(catalog: Any) -> str:
    if not isinstance(catalog, dict):
        return "an unknown catalog"
    if catalog.get("backend") == "sqlite":
        return f"SQLite {catalog.get('database')} on {catalog.get('host')}"
    return (
        f"{catalog.get('backend')} {catalog.get('host')}:{catalog.get('port')}"
        f"/{catalog.get('database')}"
    )


_SECRET = re.compile(r"secret|password|passwd|token|credential|session|^key$|private", re.I)


def without_secrets(options: dict[str, Any]) -> dict[str, Any]:
    """Storage options with every secret-looking entry left out (at any depth)."""
    return {
        k: without_secrets(v) if isinstance(v, dict) else v
        for k, v in options.items()
        if not _SECRET.search(str(k))
    }


def without_password(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(password=None).render_as_string(hide_password=False)


def redact(url: str) -> str:
    """A storage URL without credentials (``scheme://user:secret@...``)."""
    return re.sub(r"://[^/@]*@", "://***@", url)


def mismatch_error(repo: Repo, binding: Binding) -> RepositoryMismatchError:
    storage, catalog = redact(repo.storage.url), safe_url(repo.catalog.url)
    document = binding.document or {}
    if binding.catalog_id is None:
        what = (
            f"this catalog ({catalog}) is empty and has no repository id, but the storage "
            f"{storage} already holds repository {binding.storage_id} (created "
            f"{document.get('created', '?')[:19]} with the catalog "
            f"{describe(document.get('catalog'))})"
        )
    else:
        what = (
            f"this catalog ({catalog}) belongs to repository {binding.catalog_id}, but the "
            f"storage {storage} holds repository {binding.storage_id}"
        )
    return RepositoryMismatchError(
        f"{what}: writing would mix two repositories, so writes are refused. Either point at "
        "the storage's own catalog (set PREFECT_ARTIFACTS_CATALOG_URL to the catalog the other "
        "machines use), rebuild this catalog from the storage on purpose (`prefect-artifacts "
        "reindex --adopt`), or use another storage prefix (PREFECT_ARTIFACTS_STORAGE_URL)"
    )


def warn_at_first_use(repo: Repo, *, warn: bool = True) -> Binding | None:
    """At a catalog's first use: one warning when this process's reads see another
    repository's storage, or an object store with a local SQLite catalog. Never raises."""
    storage_url = repo.storage.url
    if (
        repo.storage.object_store
        and repo.catalog.dialect == "sqlite"
        and repo.settings.catalog_url is None
        and ("sqlite", storage_url) not in _warned
    ):
        _warned.add(("sqlite", storage_url))
        logger.warning(
            "the storage %s is an object store that other machines can share, but the catalog "
            "is this machine's own SQLite file (%s): another machine using the same storage "
            "would keep a separate catalog. Set PREFECT_ARTIFACTS_CATALOG_URL to a PostgreSQL "
            "database every machine uses (see docs/how-to/share-a-repository.md)",
            redact(storage_url),
            safe_url(repo.catalog.url),
        )
    try:
        binding = check(repo)
    except Exception as exc:  # checked again before the first write
        logger.debug("could not check the repository's identity yet: %s", exc)
        return None
    if warn and binding.state == "mismatch" and ("mismatch", storage_url) not in _warned:
        _warned.add(("mismatch", storage_url))
        logger.warning("reading only: %s", mismatch_error(repo, binding))
    return binding


def _release() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prefect-artifacts")
    except PackageNotFoundError:
        return "unknown"
