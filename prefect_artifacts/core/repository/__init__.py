"""The repository: storage + catalog + a default project, and the façade every surface uses.

The work lives in small modules: ``writer`` (the one write path; ``validators`` check what
callers give it, ``executor`` runs work beside it), ``extras`` (extra data),
``reader`` (the read path), ``runs`` (lineage records) and ``changes`` (tags, labels,
descriptions, deletion). After every change the repository drains the catalog's outbox — the
manifests and journal entries committed with the change — into storage.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal, overload

from .. import integration, layout
from ..catalog import Catalog, VersionRecord
from ..errors import ArtifactNotFoundError, RepositoryMismatchError, SigningKeyRequiredError
from ..faults import fault_point
from ..filters import ArtifactFilter
from ..keys import validate_project
from ..lineage import Lineage, walk_lineage
from ..models import ArtifactVersion, DatasetVersion, LineageRecord, ModelVersion, PlotVersion
from ..settings import ArtifactSettings
from ..signing import Signer
from ..storage import Storage
from . import assemble, changes, folders, identity, partsread, reader, references, runs, writer
from .changes import DELETE_STRATEGIES

__all__ = ["DELETE_STRATEGIES", "Repository", "opened_repositories"]
FULL_DRAIN_SECONDS = 60.0
SIGNING_RECHECK_SECONDS = 60.0
LOOK_AGAIN = 5.0  # seconds: a repository without an id yet is looked at again this often
logger = logging.getLogger("prefect_artifacts")
_opened_repositories: weakref.WeakValueDictionary[int, Repository] = weakref.WeakValueDictionary()


def opened_repositories() -> list[Repository]:
    """The repositories this process has opened (and still uses)."""
    return list(_opened_repositories.values())


class Repository:
    """Storage + catalog + a default project. ``settings`` are those it was made from (the
    Prefect integration reads its registration mode and UI URL there)."""

    def __init__(
        self,
        storage: Storage,
        catalog: Catalog,
        *,
        project: str = "default",
        owner: str | None = None,
        settings: ArtifactSettings | None = None,
    ) -> None:
        integration.ensure()  # the integrations' listeners and run provider are in place
        self.storage = storage
        self.catalog = catalog
        self.project = validate_project(project)
        self.owner = owner
        self.settings = settings or ArtifactSettings(project=self.project, owner=owner)
        key = self.settings.signing_key
        self.signer = Signer(key.get_secret_value()) if key else None
        if self.signer is not None and self.signer.can_sign:
            catalog.seal = self.signer.seal  # every manifest and journal entry, every field
        self._scanned = float("-inf")  # when the outbox was last drained whole
        self._signing: tuple[float, dict[str, Any] | None] | None = None  # (when read, marker)
        storage.locate_with(references.RegisteredBytes(catalog, storage.fs))
        self._binding: identity.Binding | None = None  # catalog and storage agree (cached)
        self._seen: identity.Binding | None = None  # what the first read saw
        self._looked: float | None = None  # when _seen was read
        self._checking = False
        self._binding_lock = threading.Lock()
        catalog.before_write = self.check_binding
        catalog.db.on_open.append(self._opened)
        catalog.db.on_reopen.append(self._forget_binding)
        _opened_repositories[id(self)] = self

    @classmethod
    def from_settings(cls, settings: ArtifactSettings | None = None) -> Repository:
        settings = settings or ArtifactSettings()
        return cls(
            Storage.from_url(
                settings.resolved_storage_url(),
                settings.storage_options,
                fsync=settings.fsync == "always",
                verified_state=settings.resolved_verified_state(),
            ),
            Catalog(
                settings.resolved_catalog_url(),
                retry_seconds=settings.catalog_retry_seconds,
                auto_upgrade=settings.catalog_auto_upgrade,
            ),
            project=settings.project,
            owner=settings.resolved_owner(),
            settings=settings,
        )

    def __repr__(self) -> str:
        return f"Repository(storage={self.storage.url!r}, project={self.project!r})"

    # -- identity --------------------------------------------------------------------------------
    @property
    def repository_id(self) -> str:
        """This repository's id (a uuid): what its catalog and its storage's
        ``repository.json`` both hold. A new repository gets one here (as on its first write);
        RepositoryMismatchError when the catalog and the storage disagree."""
        self.check_binding()
        assert self._binding is not None and self._binding.catalog_id is not None
        return self._binding.catalog_id

    def known_repository_id(self) -> str | None:
        """The id as far as this process has seen it, without creating one (None: a new
        repository; looked at again at most every few seconds until another process gives
        it one)."""
        if self._binding is not None:
            return self._binding.catalog_id
        if self._looked is None:
            self.catalog.db.ensure_schema()  # its first use looks (see _opened)
        seen = self._seen
        if self._looked is None or (
            (seen is None or seen.id is None) and time.monotonic() - self._looked > LOOK_AGAIN
        ):
            self._opened()
            seen = self._seen
        return seen.id if seen is not None else None

    def home(self) -> dict[str, Any]:
        """What a pickled record carries to find this repository again: its id, project and
        locations — the catalog URL without its password, storage options without secrets
        (the unpickling process supplies credentials through its own environment)."""
        return {
            "repository_id": self.known_repository_id(),
            "storage_url": self.storage.url,
            "storage_options": identity.without_secrets(
                getattr(self.storage.fs, "storage_options", {}) or {}
            ),
            "catalog_url": identity.without_password(self.catalog.url),
            "project": self.project,
        }

    def check_binding(self) -> None:
        """Before a write: the catalog and the storage belong to the same repository (checked
        once per process, then cached; a new repository gets its id). Raises
        RepositoryMismatchError otherwise."""
        if self._binding is not None:
            return
        with self._binding_lock:
            if self._binding is None:
                self._checking = True  # a refusal raises: no "reading only" warning too
                try:
                    binding = identity.bind(self)
                finally:
                    self._checking = False
                identity.record_writer(self)
                self._binding = self._seen = binding

    def _opened(self) -> None:
        self._looked = time.monotonic()
        if self._binding is None:
            self._seen = identity.warn_at_first_use(self, warn=not self._checking)

    def _forget_binding(self) -> None:
        self._binding = self._seen = self._looked = None

    # -- writing: the module functions, bound as methods ---------------------------------------
    @overload
    def log(
        self, key: str, obj: Any, *, kind: Literal["dataset"], **options: Any
    ) -> DatasetVersion: ...
    @overload
    def log(
        self, key: str, obj: Any, *, kind: Literal["model"], **options: Any
    ) -> ModelVersion: ...
    @overload
    def log(self, key: str, obj: Any, *, kind: Literal["plot"], **options: Any) -> PlotVersion: ...
    @overload
    def log(
        self, key: str, obj: Any, *, kind: str | None = None, **options: Any
    ) -> ArtifactVersion: ...
    def log(self, key: str, obj: Any, *, kind: str | None = None, **options: Any) -> Any:
        """Store ``obj`` as the next version of ``key`` (``writer.log``); the version's class
        follows ``kind``."""
        return writer.log(self, key, obj, kind=kind, **options)

    tag = changes.tag
    untag = changes.untag
    set_labels = changes.set_labels
    set_description = changes.set_description
    revise = changes.revise
    revisions = changes.revisions
    delete = changes.delete

    def require_signer(self, version: ArtifactVersion | None = None) -> None:
        """With signing on — the storage names a signing key, or ``version`` is signed — only a
        process holding that key may change the repository: others are refused here, before
        anything changes (their unsigned records would make signed versions untrusted). A
        process that signs marks the storage as signed on its first change."""
        marker = self._signing_marker()
        signer = self.signer if self.signer is not None and self.signer.can_sign else None
        if signer is not None and marker is None:
            marker = {"key": signer.key_id, "alg": signer.algorithm}
            path = self.storage.path(layout.SIGNING)
            try:
                self.storage.create_json(path, marker)
            except FileExistsError:  # another process named another key first: it stands
                marker = self.storage.read_json(path)
            self._signing = (time.monotonic(), marker)
        if signer is not None and marker is not None and marker.get("key") == signer.key_id:
            return
        expected = (marker or {}).get("key") or (
            (version.signature or {}).get("key") if version else None
        )
        if expected is None:
            return
        have = (
            "no signing key"
            if self.signer is None
            else f"key {self.signer.key_id}"
            + ("" if signer is not None else ", which only verifies (ed25519-public)")
        )
        raise SigningKeyRequiredError(
            f"this repository signs its records with key {str(expected)[:16]} and this process "
            f"has {have}; nothing was changed. Set PREFECT_ARTIFACTS_SIGNING_KEY to that key "
            "(hmac:… or ed25519:…) on machines that log or change versions"
        )

    def _signing_marker(self) -> dict[str, Any] | None:
        """The storage's signing marker (re-read at most once a minute while absent)."""
        now = time.monotonic()
        if self._signing is not None and (
            self._signing[1] is not None or now - self._signing[0] < SIGNING_RECHECK_SECONDS
        ):
            return self._signing[1]
        path = self.storage.path(layout.SIGNING)
        try:
            marker = self.storage.read_json(path)
        except FileNotFoundError:
            marker = None
        except ValueError:
            marker = {"key": "unreadable"}
        marker = marker if isinstance(marker, dict) or marker is None else {"key": "unreadable"}
        self._signing = (now, marker)
        return marker

    def drain(self, *, full: bool = False) -> int:
        """Write committed manifests and journal entries to storage: those this process just
        committed, and — on ``full``, the first drain of a process, after a failed one, and at
        least once a minute — every record any process left in the catalog's outbox (a crash
        between a commit and its drain). A failure is a warning: the records stay queued.
        Returns how many were written."""
        fault_point("after-commit")
        records = self.catalog.take_unwritten()
        full = full or time.monotonic() - self._scanned > FULL_DRAIN_SECONDS
        written = 0
        try:
            while True:
                if full:
                    seen = {r.id for r in records}
                    records += [r for r in self.catalog.pending() if r.id not in seen]
                if records:
                    self.check_binding()  # never into another repository's storage
                for item in records:
                    self._write_record(item.path, item.document)
                if full:
                    self.catalog.written([r.id for r in records])
                else:
                    self.catalog.mark_written([r.id for r in records])
                written += len(records)
                if not full or len(records) < 500:
                    break
                records = []
            if full:
                self._scanned = time.monotonic()
            fault_point("after-drain")
        except RepositoryMismatchError as exc:
            self._scanned = float("-inf")
            logger.warning("not writing queued records to storage: %s", exc)
        except Exception as exc:
            self._scanned = float("-inf")  # the next drain looks at everything again
            logger.warning(
                "could not write manifests and journal entries to storage yet (%s: %s); the "
                "change is committed and the records stay queued for the next write or "
                "`prefect-artifacts reindex`",
                type(exc).__name__,
                exc,
            )
        return written

    def _write_record(self, relative: str, document: dict[str, Any] | None) -> None:
        """One outbox record into storage: a removal, or a document created where nothing is
        (never replacing another writer's). A manifest queued under its old name that another
        catalog already took goes under its uid-named path instead."""
        path = self.storage.path(relative)
        if document is None:
            self.storage.delete(path)
            return
        try:
            self.storage.create_json(path, document)
        except FileExistsError:
            uid = document.get("uid")
            number = document.get("version")
            if "manifest" in document and uid and isinstance(number, int):
                moved = layout.manifest(document["project"], document["key"], number, uid)
                if moved != relative:
                    self.storage.create_json(self.storage.path(moved), document)
                    return
            logger.warning(
                "%s already holds another record; it was not replaced (`prefect-artifacts "
                "reindex` reports such conflicts)",
                self.storage.fs.unstrip_protocol(path),
            )

    # -- reading -------------------------------------------------------------------------------
    def get(
        self,
        ref: str,
        *,
        version: int | None = None,
        tag: str | None = None,
        project: str | None = None,
    ) -> ArtifactVersion:
        """The version ``ref`` names: ``key`` (latest), ``key:3``, ``key@prod``."""
        return reader.get(self, ref, version_number=version, tag=tag, project=project)

    def list(self, query: ArtifactFilter | None = None, /, **filters: Any) -> list[ArtifactVersion]:
        """Latest version of each matching key (or every version), newest update first: an
        :class:`ArtifactFilter` or its fields as keywords. Records come without ``preview`` and
        ``stats``; :meth:`get` gives the full record."""
        return reader.search(self, ArtifactFilter.of(query, **filters))

    def count(self, query: ArtifactFilter | None = None, /, **filters: Any) -> int:
        """How many versions :meth:`list` would return without a limit."""
        return reader.count(self, ArtifactFilter.of(query, **filters))

    def projects(self) -> builtins.list[Any]:
        """Projects with their number of keys and last update."""
        return self.catalog.projects()

    def versions(self, ref: str, *, project: str | None = None) -> builtins.list[ArtifactVersion]:
        """Every version of a key, newest first."""
        return reader.versions(self, ref, project)

    def metric_history(
        self, ref: str, *, project: str | None = None
    ) -> builtins.list[tuple[int, dict[str, Any]]]:
        """``(version number, metrics)`` of every version of a key, oldest first (for charts;
        cheaper than :meth:`versions`)."""
        return reader.metric_history(self, ref, project)

    def version_by_id(self, row_id: int) -> ArtifactVersion:
        found = self.catalog.by_ids([row_id], details=True)
        if not found:
            raise ArtifactNotFoundError("the version was deleted while this operation ran")
        return reader.version(self, found[0])

    def versions_by_id(self, row_ids: builtins.list[int]) -> builtins.list[ArtifactVersion]:
        return [reader.version(self, r) for r in self.catalog.by_ids(row_ids)]

    def version_with_hash(self, digest: str) -> ArtifactVersion | None:
        """The first version whose bytes are ``digest``, if any."""
        vid = self.catalog.version_with_hash(digest)
        return self.versions_by_id([vid])[0] if vid else None

    def record(self, record: VersionRecord) -> ArtifactVersion:
        return reader.version(self, record)

    def row_id(self, version: ArtifactVersion) -> int:
        row_id = getattr(version, "_row_id", None)
        if row_id is None:
            record = self.catalog.find(version.project, version.key, version=version.version)
            if record is None:
                raise ArtifactNotFoundError(f"{version.ref} no longer exists")
            row_id = record.id
        return row_id

    def load(
        self,
        version: ArtifactVersion,
        *,
        as_pandas: bool = False,
        trusted: bool | None = None,
        verify: bool | None = None,
    ) -> Any:
        """Read, verify and deserialize a version; records the consumer inside a run.
        ``trusted``: may a version that runs stored code (a pickle) load (default: the
        ``trust_pickles`` setting)? With a signing key, such a version must be signed.
        ``verify=True`` hashes the bytes on this load whatever the ``verify`` setting says."""
        if folders.is_folder_version(version):  # a folder: a verified local copy of it
            import tempfile

            cache = Path(tempfile.gettempdir()) / "prefect-artifacts" / "folders" / version.hash
            value: Any = folders.download(self, version, cache)
        else:
            value = reader.load(self, version, as_pandas=as_pandas, trusted=trusted, verify=verify)
        runs.record_consumer(self, version)
        return value

    def load_dataset(
        self,
        version: ArtifactVersion,
        *,
        columns: builtins.list[str] | None = None,
        filters: Any = None,
        as_type: str | None = None,
    ) -> Any:
        """A dataset read whole (every byte sha256-checked) or, with ``columns``/``filters``,
        pushed down (page checksums checked); ``as_type``: "pandas", "arrow" or "polars"
        (default: what it was logged from). Records the consumer inside a run."""
        if columns is None and filters is None:
            if partsread.is_parts(version) or version.format == "parquet":
                value = partsread.load_all(self, version, as_type=as_type)
            else:
                value = reader.load(self, version, as_pandas=as_type == "pandas")
        else:
            value = partsread.load_some(
                self, version, columns=columns, filters=filters, as_type=as_type
            )
        runs.record_consumer(self, version)
        return value

    def dataset_rows(
        self,
        version: ArtifactVersion,
        *,
        offset: int,
        limit: int = 50,
        columns: builtins.list[str] | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Rows ``offset`` to ``offset + limit`` of a Parquet dataset, reading only the row
        groups that hold them (page checksums verified); for previews, not recorded as a use."""
        return partsread.rows(self, version, offset=offset, limit=limit, columns=columns)

    def open_dataset(self, version: ArtifactVersion, how: str, **options: Any) -> Any:
        """A lazy view of a Parquet dataset: ``how`` is "arrow" (a pyarrow Dataset), "dask",
        "polars" (a LazyFrame) or "duckdb" (a relation). Records the consumer inside a run."""
        opener = {
            "arrow": partsread.arrow_dataset,
            "dask": partsread.to_dask,
            "polars": partsread.to_polars,
            "duckdb": partsread.to_duckdb,
        }[how]
        value = opener(self, version, **options)
        runs.record_consumer(self, version)
        return value

    def read_blob(self, digest: str) -> bytes:
        return reader.read_blob(self, digest)

    def open_blob(self, digest: str, size: int | None = None) -> BinaryIO:
        return reader.open_blob(self, digest)

    def open_blob_at(self, digest: str, offset: int) -> BinaryIO:
        """The bytes of a blob from ``offset`` on, for byte-range requests: the whole blob is
        verified first unless its verified-state record vouches for it as it is."""
        return reader.open_blob_at(self, digest, offset)

    def download_blob(
        self,
        digest: str,
        path: str | Path | None,
        filename: str,
        on_chunk: Callable[[int], Any] | None = None,
    ) -> Path:
        """Write verified bytes to a file or folder (see ``reader.download_blob``)."""
        return reader.download_blob(self, digest, path, filename, on_chunk)

    def folder_files(self, version: ArtifactVersion) -> builtins.list[dict[str, Any]]:
        """A folder artifact's files: ``{path, hash, size, mode}``."""
        return folders.listing(self, version)

    def open_file(self, version: ArtifactVersion, name: str) -> BinaryIO:
        """One file of a folder artifact, verified when read to its end."""
        return folders.open_file(self, version, name)

    def download(
        self,
        version: ArtifactVersion,
        path: str | Path | None = None,
        *,
        parts: bool = False,
        name: str | None = None,
        on_chunk: Callable[[int], Any] | None = None,
    ) -> Path:
        """Write a version's data to a file or folder (default: the current folder), verified:
        its stored file (named ``name``, default the version's file name); a multi-part dataset as one Parquet file
        ``key-vN.parquet`` (built part by part) or, with ``parts=True``, a folder of its part
        files ``key-vN-parts/``; a folder artifact as the folder ``path`` (default ``./key``)."""
        if folders.is_folder_version(version):
            return folders.download(self, version, path)
        if not partsread.is_parts(version):
            name = name or version.filename
            return reader.download_blob(self, version.hash, path, name, on_chunk)
        stem = assemble.file_name(version)
        if parts:
            folder = assemble.target_of(path, stem.removesuffix(".parquet") + "-parts")
            return assemble.copy_parts(self, version, folder, on_chunk)
        return assemble.write_parquet(self, version, assemble.target_of(path, stem), on_chunk)

    # -- lineage ---------------------------------------------------------------------------------
    def record_consumer(self, version: ArtifactVersion) -> None:
        """Inside a run, note that this run consumed ``version``."""
        runs.record_consumer(self, version)

    def record_inputs_from(
        self, upstream_run_ids: builtins.list[str]
    ) -> builtins.list[ArtifactVersion]:
        """Inside a run: versions produced by ``upstream_run_ids`` become its inputs."""
        return runs.record_inputs_from(self, upstream_run_ids)

    def runs_of(self, version: ArtifactVersion, *, role: str) -> builtins.list[LineageRecord]:
        return runs.runs_of(self, version, role)

    def inputs_of_run(self, run_id: str | None) -> builtins.list[ArtifactVersion]:
        return runs.inputs_of_run(self, run_id)

    def outputs_of_run(self, run_id: str | None) -> builtins.list[ArtifactVersion]:
        return runs.outputs_of_run(self, run_id)

    def lineage(
        self, ref: str, *, direction: str = "up", depth: int = 3, project: str | None = None
    ) -> Lineage:
        """Walk the graph from ``ref``: ``up`` to the runs that produced it and their inputs,
        ``down`` to the runs that consumed it and their outputs, ``depth`` artifact hops."""
        return walk_lineage(self, self.get(ref, project=project), direction=direction, depth=depth)
