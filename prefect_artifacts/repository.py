"""The repository: the one write path (:meth:`Repository.log`) and the read paths every
surface (context, decorator, CLI, web UI) goes through.

Commit protocol: serialize into a temporary object while hashing → move it to its content
address → in one catalog transaction allocate the version, write the manifest, commit. A crash
leaves at most an orphan blob for ``gc``, never a version without its bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from . import registration
from .catalog import (
    BlobsMissing,
    Catalog,
    ListQuery,
    NewVersion,
    release_orphan,
    utcnow,
)
from .errors import (
    ArtifactNotFoundError,
    IntegrityError,
    InvalidArgumentError,
    StorageError,
    UnsupportedTypeError,
)
from .keys import (
    Ref,
    parse_ref,
    safe_filename,
    validate_key,
    validate_key_pattern,
    validate_labels,
    validate_name,
    validate_project,
    validate_tag,
)
from .lineage import Lineage, walk_lineage
from .materializers import content_type, registry
from .materializers.summary import json_safe
from .models import (
    ArtifactVersion,
    ExtraData,
    LineageRecord,
    Producer,
    version_from_record,
)
from .runtime import current_producer, current_run
from .settings import ArtifactSettings
from .storage import Storage, WriteCancelled, check_hash

logger = logging.getLogger("prefect_artifacts")
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="prefect-artifacts")


def _new_pool_after_fork() -> None:
    """A forked child inherits the pool's state but not its threads: give it a fresh one."""
    global _pool
    _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="prefect-artifacts")


os.register_at_fork(after_in_child=_new_pool_after_fork)

# Fields a materializer or caller may set on a version; anything else goes to ``meta``.
KIND_FIELDS = {
    "rows",
    "columns",
    "schema",
    "preview",
    "stats",
    "python_type",
    "model_file",
    "framework",
    "algorithm",
    "metrics",
    "parameters",
    "width",
    "height",
}
DETAIL_FIELDS = ("preview", "stats")
IN_MEMORY_MAX = (
    64 << 20
)  # larger versions are verified by streaming and parsed from a file  # large: loaded for one version, not for lists
IDENTITY_FIELDS = ("model_file", "framework", "algorithm", "metrics", "parameters")


class Repository:
    """Storage + catalog + a default project."""

    def __init__(
        self,
        storage: Storage,
        catalog: Catalog,
        *,
        project: str = "default",
        owner: str | None = None,
        ui_url: str | None = None,
        ui_registration: str = "background",
    ) -> None:
        self.storage = storage
        self.catalog = catalog
        self.project = validate_project(project)
        self.owner = owner
        self.ui_url = ui_url
        self.ui_registration = ui_registration  # background | sync | off

    @classmethod
    def from_settings(cls, settings: ArtifactSettings | None = None) -> Repository:
        settings = settings or ArtifactSettings()
        return cls(
            Storage.from_url(settings.resolved_storage_url(), settings.storage_options),
            Catalog(settings.resolved_catalog_url(), retry_seconds=settings.catalog_retry_seconds),
            project=settings.project,
            owner=settings.resolved_owner(),
            ui_url=settings.ui_url,
            ui_registration=settings.registration,
        )

    def __repr__(self) -> str:
        return f"Repository(storage={self.storage.url!r}, project={self.project!r})"

    # -- the write path ----------------------------------------------------------------------
    def log(
        self,
        key: str,
        obj: Any,
        *,
        kind: str | None = None,
        format: str | None = None,
        labels: dict[str, Any] | None = None,
        tag: str | None = None,
        description: str | None = None,
        options: dict[str, Any] | None = None,
        fields: dict[str, Any] | None = None,
        extra_data: dict[str, Any] | None = None,
        project: str | None = None,
        producer: Producer | None = None,
    ) -> ArtifactVersion:
        """Store ``obj`` as the next version of ``key`` (or return the latest version when its
        content is identical). ``options`` go to the materializer (``preview``, ``stats``,
        ``model_file``); ``fields`` are kind-specific metadata (``metrics``, ``parameters``)."""
        key = validate_key(key)
        project = validate_project(project) if project else self.project
        labels = validate_labels(labels)
        tag = validate_tag(tag) if tag is not None else None
        options = {k: v for k, v in (options or {}).items() if v is not None}
        fields = _check_fields({k: v for k, v in (fields or {}).items() if v is not None})
        fmt = format.lower().lstrip(".") if format else None
        if fmt is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_+-]{0,15}", fmt):
            raise InvalidArgumentError(
                f"format {format!r:.40} is not a format name; use e.g. 'parquet', 'png', 'json'"
            )
        materializer = registry.resolve(obj, kind=kind, fmt=fmt)
        fmt = fmt or materializer.default_format(obj, options)
        producer = producer or current_producer(self.owner)
        prepared = materializer.prepare(obj, fmt, options)
        extras, blobs = self._store_extras(extra_data or {})
        identity = {
            "kind": materializer.kind,
            "format": fmt,
            "extras": {e["name"]: e["hash"] for e in extras},
        }
        latest = self.catalog.latest(project, key)
        same_identity = bool(latest) and latest["meta_digest"] == _digest(
            {**identity, **_identity_fields(fields)}
        )
        unchanged = threading.Event()

        def describe() -> tuple[str | None, dict[str, Any] | None]:
            """On the second core while the bytes are written: the cheap fingerprint first —
            if it matches the latest version the write is cancelled (nothing new to store) —
            then the kind-specific metadata (preview, statistics, ...)."""
            fingerprint = materializer.fingerprint(prepared, fmt)
            if same_identity and fingerprint and fingerprint == latest["fingerprint"]:
                unchanged.set()
                return fingerprint, None
            return fingerprint, materializer.metadata(prepared, fmt, options)

        side = _pool.submit(describe)
        try:
            blob = self.storage.write_blob(
                lambda sink: materializer.save(prepared, sink, fmt), cancel=unchanged
            )
        except WriteCancelled:
            side.result()
            return self._relogged(latest["id"], producer, tag, labels, description)
        except BaseException:
            with contextlib.suppress(BaseException):
                side.result()
            raise
        fingerprint, metadata = side.result()
        if metadata is None:  # the write won the race against the fingerprint: same content
            return self._relogged(latest["id"], producer, tag, labels, description)
        merged = {**metadata, **fields}
        if "parameters" in metadata and "parameters" in fields:
            merged["parameters"] = {**metadata["parameters"], **fields["parameters"]}
        custom = {k: v for k, v in merged.items() if k not in KIND_FIELDS}
        kind_fields = {k: v for k, v in merged.items() if k in KIND_FIELDS}
        meta = {k: v for k, v in kind_fields.items() if k not in DETAIL_FIELDS}
        if custom:
            meta["meta"] = json_safe(custom)
        details = {k: kind_fields[k] for k in DETAIL_FIELDS if k in kind_fields}
        new = NewVersion(
            uid=uuid.uuid4().hex,
            project=project,
            key=key,
            kind=materializer.kind,
            format=fmt,
            materializer=materializer.name(),
            hash=blob.hash,
            size=blob.size,
            fingerprint=fingerprint,
            meta_digest=_digest({**identity, **_identity_fields(meta)}),
            filename=safe_filename(materializer.filename(prepared, fmt, options), f"{key}.{fmt}"),
            content_type=content_type(fmt),
            description=description,
            owner=self.owner,
            producer=producer.model_dump(mode="json"),
            meta=meta,
            details=details or None,
            labels=labels,
            extras=extras,
            tag=tag,
            blobs={blob.hash: blob.size, **blobs},
        )
        run = producer.model_dump(include=set(_RUN_KEYS)) if producer.kind == "prefect" else {}
        vid, created, at = self._commit(
            new,
            run,
            rewrite={
                blob.hash: (
                    lambda: self.storage.write_blob(
                        lambda sink: materializer.save(prepared, sink, fmt)
                    )
                )
            },
        )
        version = self._version(self.catalog.by_ids([vid], details=True)[0])
        if not created:
            if at is not None:
                self._journal_run(version, "producer", run, at)
            logger.info("%s: content identical to version %s; no new version", key, version.version)
            version = self._annotate(version, tag, labels, description)
        registration.schedule(self, version, run, created=created, mode=self.ui_registration)
        return version

    def _commit(
        self, new: NewVersion, run: dict[str, Any], rewrite: dict[str, Any]
    ) -> tuple[int, bool, datetime | None]:
        def publish(record: dict[str, Any]) -> None:
            self.storage.write_json(
                self.storage.manifest_path(record["project"], record["key"], record["version"]),
                _manifest(record),
            )

        def missing(hashes: list[str]) -> list[str]:
            return [h for h in hashes if not self.storage.blob_exists(h)]

        for _ in range(3):
            try:
                return self.catalog.commit(new, run, blobs_exist=missing, publish=publish)
            except BlobsMissing as gone:  # deleted meanwhile by a concurrent delete: write again
                for digest in gone.hashes:
                    if digest not in rewrite:
                        raise IntegrityError(
                            f"extra data with sha256 {digest} was deleted while logging "
                            f"{new.key}; log it again"
                        ) from None
                    writer = rewrite.pop(digest)
                    blob = writer()
                    if blob.hash != digest:  # a serializer that is not byte-for-byte stable
                        del new.blobs[digest]
                        new.hash, new.size = blob.hash, blob.size
                        new.blobs[blob.hash] = blob.size
                    rewrite[blob.hash] = writer
        raise IntegrityError(f"the bytes of {new.key} keep disappearing from storage; retry")

    def _relogged(
        self,
        vid: int,
        producer: Producer,
        tag: str | None,
        labels: dict[str, str],
        description: str | None,
    ) -> ArtifactVersion:
        run = producer.model_dump(include=set(_RUN_KEYS)) if producer.kind == "prefect" else {}
        at = utcnow()
        added = bool(run) and self.catalog.add_run(vid, "producer", run, at)
        version = self._version(self.catalog.by_ids([vid], details=True)[0])
        if added:
            self._journal_run(version, "producer", run, at)
        version = self._annotate(version, tag, labels, description)
        registration.schedule(self, version, run, created=False, mode=self.ui_registration)
        return version

    def _annotate(
        self,
        version: ArtifactVersion,
        tag: str | None,
        labels: dict[str, str],
        description: str | None,
    ) -> ArtifactVersion:
        """Re-logging identical content: the tag, labels and description given still apply."""
        if labels and any(version.labels.get(k) != v for k, v in labels.items()):
            version = self.set_labels(version.ref, labels)
        if description is not None and description != version.description:
            at = utcnow()
            self.catalog.set_description(self._row_id(version), description, at)
            self.storage.journal(
                version.project,
                {
                    "op": "description",
                    "key": version.key,
                    "version": version.version,
                    "description": description,
                },
                at,
            )
            version = self.get(version.ref)
        if tag and tag not in version.tags:
            version = self.tag(version.ref, tag)
        return version

    def _store_extras(
        self, extra_data: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        if not isinstance(extra_data, dict):
            raise InvalidArgumentError(
                "extra_data must be a dict of name → bytes, path or artifact"
            )
        extras = [
            {"name": validate_name(name, "extra_data name"), **self._store_extra(name, value)}
            for name, value in extra_data.items()
        ]
        return extras, {e["hash"]: e["size"] for e in extras}

    def _store_extra(self, name: str, value: Any) -> dict[str, Any]:
        if isinstance(value, (bytes, bytearray, memoryview)):
            blob = self.storage.put_bytes(bytes(value))
            return {
                "hash": blob.hash,
                "size": blob.size,
                "source": "bytes",
                "filename": None,
                "artifact": None,
            }
        if isinstance(value, ArtifactVersion):
            return {
                "hash": value.hash,
                "size": value.size,
                "source": "artifact",
                "filename": value.filename,
                "artifact": value.ref,
            }
        if isinstance(value, ExtraData):
            return {
                "hash": value.hash,
                "size": value.size,
                "source": value.source,
                "filename": value.filename,
                "artifact": value.artifact,
            }
        if isinstance(value, (str, Path)):
            text = str(value)
            digest = self.storage.hash_of_url(text)
            if digest is not None:
                owner = self._owner_of(digest)
                size = (
                    self.storage.fs.size(self.storage.blob_path(digest))
                    if owner is None
                    else owner.size
                )
                return {
                    "hash": digest,
                    "size": size,
                    "source": "artifact" if owner else "url",
                    "filename": owner.filename if owner else None,
                    "artifact": owner.ref if owner else None,
                }
            if text.startswith("artifact://"):
                return self._store_extra(name, self.get(text))
            local = Path(text).expanduser()
            if local.is_file():
                blob = self.storage.write_blob(lambda sink: _copy_file(local, sink))
                return {
                    "hash": blob.hash,
                    "size": blob.size,
                    "source": "file",
                    "filename": local.name,
                    "artifact": None,
                }
            if "://" in text:
                import fsspec

                with fsspec.open(text, "rb") as source:
                    blob = self.storage.write_blob(lambda sink: _copy(source, sink))
                return {
                    "hash": blob.hash,
                    "size": blob.size,
                    "source": "url",
                    "filename": safe_filename(text.rstrip("/").rsplit("/", 1)[-1], name),
                    "artifact": None,
                }
            raise InvalidArgumentError(
                f"extra_data[{name!r}] = {text[:120]!r} is not an existing file, an artifact's "
                "target_path or a URL; pass bytes, a file path or an ArtifactVersion"
            )
        raise UnsupportedTypeError(
            f"extra_data[{name!r}] is a {type(value).__name__}; pass bytes, a file path, an "
            "ArtifactVersion or its target_path (log other objects first, e.g. with log_plot)"
        )

    def _owner_of(self, digest: str) -> ArtifactVersion | None:
        """The first version whose bytes are ``digest``, if any."""
        vid = self.catalog.version_with_hash(digest)
        return self._version(self.catalog.by_ids([vid])[0]) if vid else None

    # -- the read paths ----------------------------------------------------------------------
    def get(
        self,
        ref: str,
        *,
        version: int | None = None,
        tag: str | None = None,
        project: str | None = None,
    ) -> ArtifactVersion:
        """The version ``ref`` names: ``key`` (latest), ``key:3``, ``key@prod``."""
        parsed = parse_ref(ref, version=version, tag=tag, project=project)
        record = self.catalog.find(
            parsed.project or self.project, parsed.key, version=parsed.version, tag=parsed.tag
        )
        if record is None:
            raise ArtifactNotFoundError(self._not_found(parsed))
        return self._version(record)

    def _not_found(self, ref: Ref) -> str:
        project = ref.project or self.project
        exists = self.catalog.find(project, ref.key)
        if exists is None:
            return (
                f"artifact {ref.key!r} not found in project {project!r}; "
                "`prefect-artifacts ls` lists the keys"
            )
        what = f"version {ref.version}" if ref.version is not None else f"tag {ref.tag!r}"
        return (
            f"artifact {ref.key!r} has no {what} in project {project!r} (latest is "
            f"version {exists['version']}, tags: {', '.join(exists['tags']) or 'none'})"
        )

    def list(
        self,
        *,
        key: str | None = None,
        kind: str | None = None,
        labels: dict[str, Any] | list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        tag: str | None = None,
        producer: str | None = None,
        project: str | None = None,
        all_versions: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ArtifactVersion]:
        """Latest version of each matching key (or every version), newest update first.
        Records come without ``preview`` and ``stats``; :meth:`get` gives the full record."""
        query = self.query(
            key=key,
            kind=kind,
            labels=labels,
            since=since,
            until=until,
            tag=tag,
            producer=producer,
            project=project,
            all_versions=all_versions,
            limit=limit,
            offset=offset,
        )
        return [self._version(r) for r in self.catalog.list(query)]

    def query(
        self,
        *,
        key: str | None = None,
        kind: str | None = None,
        labels: dict[str, Any] | list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        tag: str | None = None,
        producer: str | None = None,
        project: str | None = None,
        all_versions: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> ListQuery:
        """Validate list filters into a catalog query (shared by the API, CLI and web UI)."""
        label_values: dict[str, str] = {}
        label_names: list[str] = []
        if isinstance(labels, dict):
            label_values = validate_labels(labels)
        elif labels is not None:
            label_names = list(validate_labels(dict.fromkeys(labels, "")))  # names must exist
        if key is not None:
            validate_key_pattern(key)
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise InvalidArgumentError(f"limit must be a non-negative integer, got {limit!r}")
        return ListQuery(
            project=None if project == "*" else validate_project(project or self.project),
            key=key or None,
            kind=kind,
            labels=label_values,
            label_names=label_names,
            since=since,
            until=until,
            tag=validate_tag(tag) if tag else None,
            producer=producer,
            all_versions=all_versions,
            limit=limit,
            offset=offset,
        )

    def versions(self, ref: str, *, project: str | None = None) -> list[ArtifactVersion]:
        """Every version of a key, newest first."""
        parsed = parse_ref(ref, project=project)
        return [
            self._version(r)
            for r in self.catalog.versions_of(parsed.project or self.project, parsed.key)
        ]

    def load(self, version: ArtifactVersion, *, as_pandas: bool = False) -> Any:
        """Read, verify and deserialize a version; records the consumer inside a Prefect run."""
        materializer = registry.by_name(version.materializer)
        if materializer is None:
            raise UnsupportedTypeError(
                f"{version} was stored by {version.materializer}, which is not registered in this "
                "process; import the module that registers it, or use .open()/.download() for "
                "the raw bytes"
            )
        options = {"as_pandas": True} if as_pandas else {}
        if version.size > IN_MEMORY_MAX and hasattr(materializer, "load_file"):
            # Large: verify by streaming (no copy in memory), then parse from the file.
            try:
                with self.storage.verified_file(version.hash, version.ref) as path:
                    value = materializer.load_file(path, version, **options)
            except FileNotFoundError:
                raise IntegrityError(
                    f"the bytes of {version.ref} are missing from storage ({version.target_path})"
                ) from None
            self.record_consumer(version)
            return value
        data = self._read(version.hash, f"{version.ref}")
        if getattr(materializer, "parse_before_verify", False):
            # Parsing a table runs no stored code: hash on one core while parsing on the other.
            check = _pool.submit(check_hash, data, version.hash, f"bytes of {version.ref}")
            try:
                value = materializer.load(data, version, **options)
            except Exception:
                check.result()  # a corrupt file is reported as corruption, not a parse error
                raise
            check.result()
        else:  # never unpickle unverified bytes
            check_hash(data, version.hash, f"bytes of {version.ref}")
            value = materializer.load(data, version)
        self.record_consumer(version)
        return value

    def _read(self, digest: str, what: str) -> bytes:
        try:
            return self.storage.read_blob(digest, verify=False)
        except FileNotFoundError:
            raise IntegrityError(
                f"the bytes of {what} are missing from storage "
                f"({self.storage.blob_url(digest)}); restore them or delete the version"
            ) from None

    def read_blob(self, digest: str) -> bytes:
        data = self._read(digest, f"blob {digest[:12]}")
        check_hash(data, digest, f"blob {self.storage.blob_url(digest)}")
        return data

    def open_blob(self, digest: str, size: int | None = None) -> BinaryIO:
        try:
            return self.storage.open_blob(digest)
        except FileNotFoundError:
            raise IntegrityError(
                f"blob {self.storage.blob_url(digest)} is missing from storage"
            ) from None

    def download_blob(self, digest: str, path: str | Path | None, filename: str) -> Path:
        target = Path(path).expanduser() if path is not None else Path.cwd()
        if target.is_dir() or (path is not None and str(path).endswith(("/", "\\"))):
            target = target / safe_filename(filename, digest[:16])
        try:
            return self.storage.download_blob(digest, target)
        except FileNotFoundError:
            raise IntegrityError(
                f"blob {self.storage.blob_url(digest)} is missing from storage"
            ) from None

    def record_consumer(self, version: ArtifactVersion) -> None:
        """Inside a Prefect run, note that this run consumed ``version``."""
        run = current_run()
        if not run:
            return
        run = {k: run.get(k) for k in _RUN_KEYS}
        at = utcnow()
        try:
            if self.catalog.add_run(self._row_id(version), "consumer", run, at):
                self._journal_run(version, "consumer", run, at)
        except Exception as exc:  # lineage is best effort; the load itself succeeded
            logger.warning("could not record that this run consumed %s: %s", version.ref, exc)

    def record_inputs_from(self, upstream_run_ids: list[str]) -> list[ArtifactVersion]:
        """Inside a Prefect run: versions produced by ``upstream_run_ids`` (the task runs whose
        results this run received) become this run's inputs. Returns those versions."""
        vids = self.catalog.run_versions(upstream_run_ids, "producer") if upstream_run_ids else []
        versions = [self._version(r) for r in self.catalog.by_ids(vids)]
        for version in versions:
            self.record_consumer(version)
        return versions

    def runs_of(self, version: ArtifactVersion, *, role: str) -> list[LineageRecord]:
        return [LineageRecord(**r) for r in self.catalog.runs(self._row_id(version), role)]

    def inputs_of_run(self, run_id: str | None) -> list[ArtifactVersion]:
        """The versions a run (task run id, or flow run id for the flow body) consumed."""
        vids = self.catalog.run_versions([run_id], "consumer") if run_id else []
        return [self._version(r) for r in self.catalog.by_ids(vids)]

    def outputs_of_run(self, run_id: str | None) -> list[ArtifactVersion]:
        """The versions a run produced (including identical re-logs)."""
        vids = self.catalog.run_versions([run_id], "producer") if run_id else []
        return [self._version(r) for r in self.catalog.by_ids(vids)]

    def lineage(
        self, ref: str, *, direction: str = "up", depth: int = 3, project: str | None = None
    ) -> Lineage:
        """Walk the graph from ``ref``: ``up`` to the runs that produced it and their inputs,
        ``down`` to the runs that consumed it and their outputs, ``depth`` artifact hops."""
        return walk_lineage(self, self.get(ref, project=project), direction=direction, depth=depth)

    # -- changing versions -----------------------------------------------------------------
    def tag(self, ref: str, tag: str, *, project: str | None = None) -> ArtifactVersion:
        """Point ``tag`` at the version ``ref`` names (moving it if another version had it)."""
        tag = validate_tag(tag)
        version = self.get(ref, project=project)
        at = utcnow()
        self.catalog.set_tag(self._row_id(version), tag, at)
        self.storage.journal(
            version.project,
            {"op": "tag", "key": version.key, "version": version.version, "tag": tag},
            at,
        )
        return self.get(version.ref)

    def untag(self, ref: str, tag: str | None = None, *, project: str | None = None) -> int:
        """Remove a tag (``untag("k@prod")`` or ``untag("k", "prod")``); returns the version
        it pointed at."""
        parsed = parse_ref(ref, project=project)
        tag = validate_tag(tag) if tag else parsed.tag
        if not tag:
            raise InvalidArgumentError(f"name the tag to remove: untag('{parsed.key}@prod')")
        project = parsed.project or self.project
        at = utcnow()
        number = self.catalog.remove_tag(project, parsed.key, tag, at)
        if number is None:
            raise ArtifactNotFoundError(
                f"artifact {parsed.key!r} has no tag {tag!r} in project {project!r}"
            )
        self.storage.journal(project, {"op": "untag", "key": parsed.key, "tag": tag}, at)
        return number

    def set_labels(
        self, ref: str, labels: dict[str, Any], *, replace: bool = False, project: str | None = None
    ) -> ArtifactVersion:
        """Add or change labels of a version (``replace=True`` drops the others)."""
        clean = validate_labels(labels)
        version = self.get(ref, project=project)
        at = utcnow()
        self.catalog.set_labels(self._row_id(version), clean, at, replace=replace)
        self.storage.journal(
            version.project,
            {
                "op": "labels",
                "key": version.key,
                "version": version.version,
                "labels": clean,
                "replace": replace,
            },
            at,
        )
        return self.get(version.ref)

    def delete(
        self,
        ref: str,
        *,
        data: bool = True,
        strategy: str | None = None,
        project: str | None = None,
    ) -> list[int]:
        """Delete one version (``key:3``, ``key@prod``) or every version of a key (``key``);
        returns the deleted version numbers. Bytes that no remaining version references are
        handled by ``strategy`` (MLRun's deletion strategies):

        - ``"metadata-only"`` (``data=False``): catalog entries only; the bytes stay (for gc).
        - ``"data-optional"`` (``data=True``, the default): then remove the bytes; a failure to
          remove them is a warning and leaves them for ``gc``.
        - ``"data-required"``: remove the bytes inside the catalog transaction, under the blob
          locks. If the first removal fails nothing is deleted and the error is raised; if a
          later one fails the versions are deleted, the bytes removed so far stay removed,
          and a StorageError names the bytes left for ``gc``.
        """
        strategy = strategy or ("data-optional" if data else "metadata-only")
        if strategy not in DELETE_STRATEGIES:
            raise InvalidArgumentError(
                f"strategy must be one of {', '.join(DELETE_STRATEGIES)}, got {strategy!r}"
            )
        parsed = parse_ref(ref, project=project)
        project = parsed.project or self.project
        number = parsed.version
        if parsed.tag or parsed.latest:
            number = self.get(str(parsed), project=project).version
        left: list[str] = []

        def remove_bytes(hashes: list[str]) -> None:
            for position, digest in enumerate(hashes):
                try:
                    self.storage.delete_blob(digest)
                except Exception:
                    if position == 0:
                        raise  # nothing removed yet: roll back, nothing deleted
                    left.extend(hashes[position:])
                    return

        at = utcnow()
        deleted, free = self.catalog.delete(
            project,
            parsed.key,
            number,
            at,
            before_commit=remove_bytes if strategy == "data-required" else None,
        )
        if not deleted:
            raise ArtifactNotFoundError(self._not_found(parsed))
        try:  # the catalog is the authority; storage bookkeeping failures are warnings
            self.storage.journal(
                project, {"op": "delete", "key": parsed.key, "versions": deleted}, at
            )
            for n in deleted:
                self.storage.delete(self.storage.manifest_path(project, parsed.key, n))
        except Exception as exc:
            logger.warning(
                "deleted %s versions %s, but could not record it in storage (%s); "
                "`reindex` may restore them",
                parsed.key,
                deleted,
                exc,
            )
        if strategy == "data-optional":
            for digest in free:  # locked and re-checked: a concurrent log may have reused them
                try:
                    release_orphan(
                        self.catalog, digest, lambda d=digest: self.storage.delete_blob(d)
                    )
                except Exception as exc:
                    logger.warning("could not remove the bytes %s (left for gc): %s", digest, exc)
        if left:
            raise StorageError(
                f"deleted {parsed.key} versions {deleted}, but could not remove the bytes "
                f"{', '.join(left)}; `prefect-artifacts gc` removes them once storage allows"
            )
        return deleted

    # -- helpers -----------------------------------------------------------------------------
    def _version(self, record: dict[str, Any]) -> ArtifactVersion:
        version = version_from_record(self._public(record), self)
        version._row_id = record["id"]
        return version

    def _public(self, record: dict[str, Any]) -> dict[str, Any]:
        """Catalog record → the fields of ArtifactVersion."""
        out = {k: v for k, v in record.items() if k not in ("meta", "details", "extras")}
        out.update(record.get("meta") or {})
        out.update(record.get("details") or {})
        out["target_path"] = self.storage.blob_url(record["hash"])
        out["uri"] = f"artifact://{record['project']}/{record['key']}:{record['version']}"
        out["extra_data"] = {
            e["name"]: {**e, "target_path": self.storage.blob_url(e["hash"])}
            for e in record.get("extras", [])
        }
        return out

    def _row_id(self, version: ArtifactVersion) -> int:
        row_id = getattr(version, "_row_id", None)
        if row_id is None:
            record = self.catalog.find(version.project, version.key, version=version.version)
            if record is None:
                raise ArtifactNotFoundError(f"{version.ref} no longer exists")
            row_id = record["id"]
        return row_id

    def _journal_run(
        self, version: ArtifactVersion, role: str, run: dict[str, Any], at: datetime
    ) -> None:
        if run:
            with contextlib.suppress(Exception):
                self.storage.journal(
                    version.project,
                    {
                        "op": role,
                        "key": version.key,
                        "version": version.version,
                        **{k: run.get(k) for k in _RUN_KEYS},
                    },
                    at,
                )


_RUN_KEYS = ("flow_name", "flow_run_id", "flow_run_name", "task_run_id", "task_run_name")
DELETE_STRATEGIES = ("metadata-only", "data-optional", "data-required")


def _check_fields(fields: dict[str, Any]) -> dict[str, Any]:
    metrics = fields.get("metrics")
    if metrics is not None:
        if not isinstance(metrics, dict):
            raise InvalidArgumentError(
                "metrics must be a dict of name → number, e.g. {'accuracy': 0.9}"
            )
        clean = {}
        for name, value in metrics.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(float(value))
            ):
                raise InvalidArgumentError(
                    f"metric {name!r} is {value!r}; metrics must be finite numbers (not NaN, inf, "
                    "strings or None) — drop it or record it as a parameter"
                )
            clean[str(name)] = float(value)
        fields["metrics"] = clean
    parameters = fields.get("parameters")
    if parameters is not None:
        if not isinstance(parameters, dict):
            raise InvalidArgumentError("parameters must be a dict, e.g. {'max_depth': 5}")
        fields["parameters"] = {str(k): json_safe(v) for k, v in parameters.items()}
    return fields


def _identity_fields(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: meta[k] for k in IDENTITY_FIELDS if k in meta}


def _digest(document: dict[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _manifest(record: dict[str, Any]) -> dict[str, Any]:
    """The self-describing copy of a version kept in storage (what ``reindex`` reads)."""
    return {"manifest": 1, **{k: v for k, v in record.items() if k != "id"}}


def _copy_file(path: Path, sink: BinaryIO) -> None:
    with path.open("rb") as source:
        _copy(source, sink)


def _copy(source: BinaryIO, sink: BinaryIO) -> None:
    while chunk := source.read(1 << 20):
        sink.write(chunk)
