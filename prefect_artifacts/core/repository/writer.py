"""The one write path: every logging call (context, module function, decorator) ends here.

Commit protocol: serialize into a temporary object while hashing → move it to its content
address → in one catalog transaction allocate the version and queue its manifest → commit →
write the manifest to storage. A crash leaves at most an orphan blob for ``gc``, never a version
without its bytes, and never a manifest of a version that does not exist.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..catalog import BlobsMissing, Committed, ExtraRecord, NewVersion, utcnow
from ..errors import IntegrityError, InvalidArgumentError, LossyFormatError
from ..events import TagMoved, VersionLogged, emit
from ..faults import fault_point
from ..keys import safe_filename, validate_key, validate_labels, validate_project, validate_tag
from ..materializers import Materializer, content_type, registry
from ..materializers.dataset import TABLE_FILES, read_table_file
from ..materializers.summary import json_safe
from ..models import ArtifactVersion, Producer
from ..runs import current_producer, current_run
from ..storage import Blob, WriteCancelled, leases
from . import executor, extras, folders, indexed, multipart
from .validators import check_depth, check_description, check_fields

if TYPE_CHECKING:
    from .protocol import Repo

logger = logging.getLogger("prefect_artifacts")

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
    "iteration",
    "label_column",
    "inputs",
    "outputs",
    "feature_stats",
    "source",
    "lossy",
}
DETAIL_FIELDS = (
    "preview",
    "stats",
    "feature_stats",
)  # large: loaded for one version, not for lists
IDENTITY_FIELDS = (
    "model_file",
    "framework",
    "algorithm",
    "metrics",
    "parameters",
    "iteration",
    "source",
)


def log(
    repo: Repo,
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
    source: str | None = None,
) -> ArtifactVersion:
    """Store ``obj`` as the next version of ``key`` (or return the latest version when its
    content is identical). ``options`` go to the materializer (``preview``, ``stats``,
    ``model_file``); ``fields`` are kind-specific metadata (``metrics``, ``parameters``).
    ``source`` (instead of ``obj``): register the bytes at that URL in place — hashed while
    streaming and pinned by ETag and size, never copied (MLRun's ``target_path`` with
    ``upload=False``). A Dask DataFrame or a stream of batches becomes a multi-part dataset
    (``multipart``)."""
    key = validate_key(key)
    project = validate_project(project) if project else repo.project
    repo.check_binding()  # before any byte is written (cached after the first call)
    labels = validate_labels(labels)
    description = check_description(description)
    tag = validate_tag(tag) if tag is not None else None
    options = {k: v for k, v in (options or {}).items() if v is not None}
    lossy = _lossy_option(options)
    fields = check_fields({k: v for k, v in (fields or {}).items() if v is not None})
    fmt = format.lower().lstrip(".") if format else None
    if fmt is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_+-]{0,15}", fmt):
        raise InvalidArgumentError(
            f"format {format!r:.40} is not a format name; use e.g. 'parquet', 'png', 'json'"
        )
    check_depth(obj, "the value")
    producer = producer or current_producer(repo.owner)
    repo.require_signer()
    change = {"tag": tag, "labels": labels, "description": description}
    if source is not None:
        return _register(
            repo, key, source, kind, fmt, options, fields, extra_data, project, producer, change
        )
    if kind in (None, "artifact") and folders.is_folder(obj):
        stored = folders.store(repo, obj, fields)
        new = indexed.new_version(repo, key, project, stored, producer, change)
        return _finish(repo, new, producer)
    if kind in (None, "dataset") and multipart.is_multipart(obj):
        with leases.hold(repo.storage):  # gc keeps the parts until the version commits
            stored = multipart.store(repo, obj, fmt, options, fields, extra_data)
            new = indexed.new_version(repo, key, project, stored, producer, change)
            return _finish(repo, new, producer)
    materializer = registry.resolve(obj, kind=kind, fmt=fmt)
    fmt = fmt or materializer.default_format(obj, options)
    prepared = materializer.prepare(obj, fmt, options)
    losses = materializer.losses(obj, prepared, fmt)
    if losses:
        check_losses(losses, lossy, f"{key} as {fmt}")
        fields = {**fields, "lossy": losses}
    extra_data = {**materializer.extras(prepared, fmt, options), **(extra_data or {})}
    stored_extras = extras.store(repo, extra_data)
    identity = {
        "kind": materializer.kind,
        "format": fmt,
        "extras": {e.name: e.hash for e in stored_extras},
    }
    small = _small(prepared)  # written at once: the commit itself finds identical content
    latest = None if small else repo.catalog.latest(project, key)
    same_identity = (
        latest is not None
        and latest.meta_digest == digest({**identity, **_identity_fields(fields)})
        and _vouched(repo, latest.hash)
    )
    unchanged = threading.Event()

    def describe() -> tuple[str | None, dict[str, Any] | None]:
        """On the second core while the bytes are written: the cheap fingerprint first — if
        it matches the latest version the write is cancelled (nothing new to store) — then the
        kind-specific metadata (preview, statistics, ...)."""
        fingerprint = materializer.fingerprint(prepared, fmt)
        if same_identity and latest and fingerprint and fingerprint == latest.fingerprint:
            unchanged.set()
            return fingerprint, None
        return fingerprint, materializer.metadata(prepared, fmt, options)

    side = _inline(describe) if small else executor.submit(describe)

    def save(cancel: threading.Event | None = None) -> Any:
        return repo.storage.write_blob(
            lambda sink: materializer.save(prepared, sink, fmt),
            cancel,
            source=materializer.source(prepared, fmt),
        )

    asked = {"preview", "stats"} & set(options)  # asked for: an identical relog honours them

    def rederive() -> dict[str, Any] | None:
        details = _split(materializer.metadata(prepared, fmt, options), fields)[1]
        return {k: details.get(k) for k in asked} if details else None

    relog: dict[str, Any] = {**change, "rederive": rederive if asked else None}
    try:
        blob = save(unchanged)
    except WriteCancelled:
        side.result()
        assert latest is not None  # only a vouched latest version cancels the write
        found = _relogged(repo, latest.id, producer, **relog)
        if found is not None:
            return found
        blob = save()  # the latest version was deleted meanwhile: store the bytes after all
    except BaseException:
        with contextlib.suppress(BaseException):
            side.result()
        raise
    fingerprint, metadata = side.result()
    if metadata is None:  # the write won the race against the fingerprint: same content
        assert latest is not None  # describe() found it unchanged
        found = _relogged(repo, latest.id, producer, **relog)
        if found is not None:
            return found
        metadata = materializer.metadata(prepared, fmt, options)
    fault_point("after-blob")
    new = _new_version(
        repo, key, project, materializer, fmt, blob, identity, metadata, fields, stored_extras,
        producer, change, fingerprint=fingerprint,
        filename=materializer.filename(prepared, fmt, options),
        blobs={blob.hash: blob.size, **{e.hash: e.size for e in stored_extras}},
    )  # fmt: skip
    return _finish(repo, new, producer, {blob.hash: save})


def _new_version(
    repo: Repo,
    key: str,
    project: str,
    materializer: Materializer,
    fmt: str,
    blob: Blob,
    identity: dict[str, Any],
    metadata: dict[str, Any],
    fields: dict[str, Any],
    stored_extras: list[ExtraRecord],
    producer: Producer,
    change: dict[str, Any],
    *,
    fingerprint: str | None,
    filename: str | None,
    blobs: dict[str, int],
) -> NewVersion:
    """The version to commit: the materializer's metadata and the caller's fields split into
    row metadata and details, its identity digested, the change's tag, labels, description."""
    meta, details = _split(metadata, fields)
    return NewVersion(
        uid=uuid.uuid4().hex,
        project=project,
        key=key,
        kind=materializer.kind,
        format=fmt,
        materializer=materializer.name,
        hash=blob.hash,
        size=blob.size,
        fingerprint=fingerprint,
        meta_digest=digest({**identity, **_identity_fields(meta)}),
        filename=safe_filename(filename, f"{key}.{fmt}"),
        content_type=content_type(fmt),
        description=change["description"],
        owner=repo.owner,
        producer=producer.model_dump(mode="json"),
        meta=meta,
        details=details or None,
        labels=change["labels"],
        extras=stored_extras,
        tag=change["tag"],
        blobs=blobs,
    )


INLINE_BYTES = 1 << 20


def _small(prepared: Any) -> bool:
    """Bytes small enough that describing them on this thread costs less than handing the
    work to another (a thread switch on a busy machine takes milliseconds)."""
    return isinstance(prepared, (bytes, bytearray)) and len(prepared) <= INLINE_BYTES


def _inline(fn: Callable[[], Any]) -> Future[Any]:
    """``fn()`` run now, as a finished future."""
    future: Future[Any] = Future()
    try:
        future.set_result(fn())
    except BaseException as exc:
        future.set_exception(exc)
    return future


def _finish(
    repo: Repo, new: NewVersion, producer: Producer, rewrite: dict[str, Any] | None = None
) -> ArtifactVersion:
    """Commit the new version (or find identical content and apply its tag, labels and
    description), tell listeners. ``rewrite``: how to write again bytes a delete removed."""
    run = producer.lineage() if producer.kind == "prefect" else {}
    committed = _commit(repo, new, run, rewrite or {})
    version = (
        repo.record(committed.record) if committed.record else repo.version_by_id(committed.id)
    )
    if not committed.created:
        logger.info("%s: content identical to version %s; no new version", new.key, version.version)
        version = _apply(repo, version, tag=new.tag, labels=new.labels, description=new.description)
    emit(VersionLogged(repo, version, current_run(), committed.created))
    if committed.tag_moved and new.tag:
        emit(TagMoved(repo, version, new.tag, committed.tag_left, logged=True))
    return version


REFERENCE_MATERIALIZERS = {"model": "model-bytes", "plot": "image-bytes"}


def _register(
    repo: Repo,
    key: str,
    url: str,
    kind: str | None,
    fmt: str | None,
    options: dict[str, Any],
    fields: dict[str, Any],
    extra_data: dict[str, Any] | None,
    project: str,
    producer: Producer,
    change: dict[str, Any],
) -> ArtifactVersion:
    """Register the bytes at ``url`` in place: no copy; a dataset's schema, preview and
    statistics are read from it."""
    from . import references

    blob, origin = references.register(repo, url)
    name = url.rstrip("/").rsplit("/", 1)[-1]
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    fmt = fmt or (suffix if re.fullmatch(r"[a-z0-9][a-z0-9_+-]{0,15}", suffix) else "bin")
    if kind == "dataset":
        fs, path = references.filesystem(repo, url)
        table = _read_table(fs, path, fmt, url)
        materializer = registry.resolve(table, kind="dataset", fmt=fmt)
        metadata = materializer.metadata(materializer.prepare(table, fmt, options), fmt, options)
    else:
        materializer = registry.named(REFERENCE_MATERIALIZERS.get(kind or "", "bytes"))
        metadata = {}
    fields = {**fields, "source": origin}
    stored_extras = extras.store(repo, extra_data or {})
    identity = {
        "kind": materializer.kind,
        "format": fmt,
        "extras": {e.name: e.hash for e in stored_extras},
    }
    new = _new_version(
        repo, key, project, materializer, fmt, blob, identity, metadata, fields, stored_extras,
        producer, change, fingerprint=None, filename=name,
        blobs={e.hash: e.size for e in stored_extras},  # the registered bytes are not ours
    )  # fmt: skip
    return _finish(repo, new, producer)


def _read_table(fs: Any, path: str, fmt: str, url: str) -> Any:
    if fmt not in TABLE_FILES:
        raise InvalidArgumentError(
            f"a dataset registered in place must be Parquet or CSV; {url} is {fmt!r} "
            "(say format='parquet' or 'csv' if its name does not)"
        )
    with fs.open(path, "rb") as handle:
        return read_table_file(handle, fmt)


def _vouched(repo: Repo, blob_hash: str) -> bool:
    """Whether the latest version's bytes can stand for a re-log without being written again:
    not when the verified-state record knows the local file changed since it was verified or
    failed its check (then the write goes ahead, and a damaged copy at the content address is
    replaced by it). A file the record has never seen (another machine wrote it) is trusted,
    as before the record existed."""
    storage = repo.storage
    return not storage.local or not storage.verified.changed(blob_hash, storage.identity(blob_hash))


LOSSY = (None, "refuse", "allow")


def _lossy_option(options: dict[str, Any]) -> str | None:
    lossy: str | None = options.pop("lossy", None)
    if lossy not in LOSSY:
        raise InvalidArgumentError(
            f"lossy={lossy!r} is not an option; use lossy='allow' to store a value its format "
            "cannot give back exactly (marked lossy), or leave it out to refuse such values"
        )
    return lossy


def check_losses(losses: list[str], lossy: str | None, what: str) -> None:
    """Refuse a value its format cannot give back exactly, or (``lossy="allow"``) warn."""
    if lossy != "allow":
        raise LossyFormatError(
            f"{what} would not load back as logged: {'; '.join(losses)}. Fix that, log another "
            "format (see the fidelity table in the docs), or pass lossy='allow' to store it "
            "anyway, marked lossy",
            losses,
        )
    logger.warning("%s is stored lossy (lossy='allow'): %s", what, "; ".join(losses))


def _split(
    metadata: dict[str, Any], fields: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata kept in the row, large per-version details) from a materializer's metadata
    and the caller's kind-specific fields (which win)."""
    merged = {**metadata, **fields}
    if "parameters" in metadata and "parameters" in fields:
        merged["parameters"] = {**metadata["parameters"], **fields["parameters"]}
    custom = {k: v for k, v in merged.items() if k not in KIND_FIELDS}
    kind_fields = {k: v for k, v in merged.items() if k in KIND_FIELDS}
    meta = {k: v for k, v in kind_fields.items() if k not in DETAIL_FIELDS}
    if custom:
        meta["meta"] = json_safe(custom, limit=None)
    return meta, {k: kind_fields[k] for k in DETAIL_FIELDS if k in kind_fields}


def _commit(repo: Repo, new: NewVersion, run: dict[str, Any], rewrite: dict[str, Any]) -> Committed:
    """The catalog transaction, retried when a concurrent delete removed bytes it references
    (they are written again), then the outbox drained to storage."""

    def missing(hashes: list[str]) -> list[str]:
        return [h for h in hashes if not repo.storage.blob_exists(h)]

    for _ in range(3):
        try:
            sign = repo.signer.sign if repo.signer is not None else None
            committed = repo.catalog.commit(new, run, missing=missing, sign=sign)
        except BlobsMissing as gone:  # deleted meanwhile by a concurrent delete: write again
            for lost in gone.hashes:
                if lost not in rewrite:
                    raise IntegrityError(
                        f"extra data with sha256 {lost} was deleted while logging {new.key}; "
                        "log it again"
                    ) from None
                writer = rewrite.pop(lost)
                blob = writer()
                if blob.hash != lost:  # a serializer that is not byte-for-byte stable
                    del new.blobs[lost]
                    new.hash, new.size = blob.hash, blob.size
                    new.blobs[blob.hash] = blob.size
                rewrite[blob.hash] = writer
            continue
        repo.drain()
        return committed
    raise IntegrityError(f"the bytes of {new.key} keep disappearing from storage; retry")


def _relogged(
    repo: Repo,
    vid: int,
    producer: Producer,
    *,
    tag: str | None,
    labels: dict[str, str],
    description: str | None,
    rederive: Callable[[], dict[str, Any] | None] | None = None,
) -> ArtifactVersion | None:
    """Identical content: the latest version, with this run among its producers and the tag,
    labels and description applied; with ``rederive`` (``preview=``/``stats=`` given) its
    derived metadata computed again and, when it differs, replaced as a recorded revision
    (content and number unchanged). None when that version was deleted meanwhile."""
    run = producer.lineage() if producer.kind == "prefect" else {}
    try:
        if run:
            repo.catalog.add_run(vid, "producer", run, utcnow())
            repo.drain()
        details = rederive() if rederive is not None else None
        if details is not None:
            updater = producer.model_dump(mode="json", exclude_none=True)
            number = repo.catalog.revise(
                vid, {"details": details}, [], updater, missing=lambda hashes: []
            )
            repo.drain()
            if number is not None:
                logger.info(
                    "identical content: its preview/statistics were computed again and "
                    "recorded as revision %s",
                    number,
                )
        version = repo.version_by_id(vid)
    except LookupError:
        return None
    version = _apply(repo, version, tag=tag, labels=labels, description=description)
    emit(VersionLogged(repo, version, current_run(), False))
    return version


def _apply(
    repo: Repo,
    version: ArtifactVersion,
    *,
    tag: str | None,
    labels: dict[str, str],
    description: str | None,
) -> ArtifactVersion:
    """Re-logging identical content: the tag, labels and description given still apply."""
    if labels and any(version.labels.get(k) != v for k, v in labels.items()):
        version = repo.set_labels(version.ref, labels)
    if description is not None and description != version.description:
        version = repo.set_description(version.ref, description)
    if tag and tag not in version.tags:
        version = repo.tag(version.ref, tag)
    return version


# Materializer metadata that changes what load() gives back for the same bytes (a CSV's
# column types, categories, an index frequency): part of a version's identity too.
LOAD_FIELDS = ("arrow_schema", "dictionaries", "index_freq")


def _identity_fields(meta: dict[str, Any]) -> dict[str, Any]:
    found = {k: meta[k] for k in IDENTITY_FIELDS if k in meta}
    custom = meta["meta"] if isinstance(meta.get("meta"), dict) else {}
    found.update({k: custom[k] for k in LOAD_FIELDS if k in custom})
    return found


def digest(document: dict[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
