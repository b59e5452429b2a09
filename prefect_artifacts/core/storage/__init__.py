"""Content-addressed blobs and JSON documents (manifests, journal) over any fsspec filesystem.
Paths come from :mod:`..layout`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .. import layout
from ..errors import IntegrityError, StorageError
from .streams import (
    CHUNK,
    HashingWriter,
    Progress,
    Spool,
    VerifyingReader,
    WriteCancelled,
    check_hash,
    corrupt,
)
from .verified import Identity, VerifiedState, backdate, local_identity

__all__ = [
    "Blob",
    "Identity",
    "Locator",
    "Storage",
    "VerifiedState",
    "WriteCancelled",
    "check_hash",
    "modified_time",
]
SYNC_AHEAD = 4 << 20  # local writes with fsync: start flushing to disk every 4 MB
SPOOL_IN_MEMORY = 64 << 20  # object-store writes larger than this spool to a local temp file
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "abfs", "az", "adl", "memory"}  # atomic PUTs
logger = logging.getLogger("prefect_artifacts.storage")


@dataclass(frozen=True)
class Blob:
    hash: str
    size: int


class Locator(Protocol):
    """Where bytes registered in place (not copied into the storage) live: ``digest`` →
    (filesystem, path), the source's pin (ETag, size) checked; None when nothing registered
    them. The repository gives its storage one that asks its catalog."""

    def __call__(self, digest: str) -> tuple[Any, str] | None: ...


class Storage:
    """Blobs and manifests under ``root`` on an fsspec filesystem; ``locator`` finds bytes
    registered in place (see :meth:`locate_with`)."""

    def __init__(
        self,
        fs: fsspec.AbstractFileSystem,
        root: str,
        *,
        fsync: bool = True,
        verified_state: str | Path | None = None,
        locator: Locator | None = None,
    ) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.fsync = fsync  # local storage: sync bytes and documents before they are named
        self.local = isinstance(fs, LocalFileSystem)
        self.locator = locator
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        self.object_store = bool(protocols & OBJECT_STORES)
        self.pinned_reads = "s3" in protocols  # reads can be pinned to an ETag (If-Match)
        self.conditional_puts: bool | None = None  # S3 If-None-Match: * (None: not tried yet)
        from ..settings import verified_state_path

        self.verified = VerifiedState(verified_state_path(verified_state), self.url)

    def locate_with(self, locator: Locator) -> None:
        """Find bytes registered in place with ``locator`` (a repository binds its catalog's
        when it takes this storage)."""
        self.locator = locator

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (to a Dask worker): the filesystem, root and settings; the copy reads and
        writes this storage's own blobs (bytes registered in place are located by the
        repository that owns this storage, not by a copy)."""
        return (_restored, (self.fs, self.root, self.fsync, self.verified.path))

    def __dask_tokenize__(self) -> tuple[str, str]:
        """Dask names tasks that read from this storage by its location."""
        return ("prefect-artifacts-storage", self.url)

    @classmethod
    def from_url(
        cls,
        url: str,
        options: dict[str, Any] | None = None,
        *,
        fsync: bool = True,
        verified_state: str | Path | None = None,
    ) -> Storage:
        options = dict(options or {})
        if "://" not in url or url.startswith("file://"):
            options.setdefault("auto_mkdir", True)
        try:
            fs, root = fsspec.core.url_to_fs(url, **options)
        except ImportError as exc:
            extra = " (pip install 'prefect-artifacts[s3]')" if url.startswith("s3") else ""
            raise StorageError(
                f"cannot open artifact storage {url!r}: its filesystem's package is not "
                f"installed{extra}: {exc}"
            ) from exc
        except (ValueError, TypeError) as exc:
            raise StorageError(
                f"cannot open artifact storage {url!r}: {exc}. Set PREFECT_ARTIFACTS_STORAGE_URL to "
                "a folder or an fsspec URL (s3://bucket/prefix) and PREFECT_ARTIFACTS_STORAGE_OPTIONS "
                "to its options as JSON"
            ) from exc
        return cls(fs, root, fsync=fsync, verified_state=verified_state)

    # -- paths ----------------------------------------------------------------------------
    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    @property
    def url(self) -> str:
        return str(self.fs.unstrip_protocol(self.root))

    def blob_path(self, digest: str) -> str:
        return self.path(layout.blob(digest))

    def blob_url(self, digest: str) -> str:
        return str(self.fs.unstrip_protocol(self.blob_path(digest)))

    def hash_of_url(self, url: str) -> str | None:
        """The sha256 of a blob from its target_path (or plain path), if it is one of ours."""
        for prefix in (self.fs.unstrip_protocol(self.root).rstrip("/") + "/", self.root + "/"):
            if url.startswith(prefix):
                return layout.digest_of(url[len(prefix) :])
        return None

    def manifest_path(self, project: str, key: str, version: int, uid: str | None = None) -> str:
        """A version's manifest: by its uid; without one, the manifest stored for that number
        (the first found, new or old name), else the old name ``<n>.json``."""
        if uid is not None:
            return self.path(layout.manifest(project, key, version, uid))
        found = self.manifests_of(project, key, version)
        return found[0] if found else self.path(layout.manifest(project, key, version))

    def manifests_of(self, project: str, key: str, version: int) -> list[str]:
        """Every manifest stored for ``project/key:version`` (more than one: a conflict)."""
        folder = self.path(layout.manifest(project, key, version)).rsplit("/", 1)[0]
        with self._guard("list", folder):
            try:
                names = self.fs.ls(folder, detail=False)
            except FileNotFoundError:
                return []
        return sorted(
            n for n in names if n.endswith(".json") and layout.manifest_number(n) == version
        )

    # -- blobs ----------------------------------------------------------------------------
    def write_blob(
        self,
        write: Callable[[BinaryIO], object],
        cancel: threading.Event | None = None,
        *,
        source: Path | None = None,
    ) -> Blob:
        """Stream ``write(sink)`` while hashing, then store the bytes at their content address;
        identical bytes already stored are kept. Object stores get one PUT (multipart when
        large) straight to the final key, atomic by nature; filesystems get a temporary file
        renamed into place. ``source``, a local file holding exactly what ``write`` writes, is
        uploaded to an object store from where it is instead of through a spooled copy.
        Setting ``cancel`` stops the write with WriteCancelled and leaves nothing behind."""
        if not self.object_store:
            return self._write_renamed(write, cancel)
        if source is not None and source.stat().st_size > SPOOL_IN_MEMORY:
            return self._upload_file(source, cancel)
        return self._write_spooled(write, cancel)

    def _write_renamed(
        self, write: Callable[[BinaryIO], object], cancel: threading.Event | None
    ) -> Blob:
        tmp = self.path(layout.tmp())
        sink: HashingWriter | None = None
        try:
            with self._guard("open", tmp):
                raw = self.fs.open(tmp, "wb")
            try:
                sink = HashingWriter(
                    raw,
                    lambda: self._guard("write", tmp),
                    cancel,
                    self.fs.unstrip_protocol(tmp),
                    sync_every=SYNC_AHEAD if self.local and self.fsync else 0,
                )
                write(cast(BinaryIO, sink))  # a materializer's own errors pass through unchanged
            except BaseException:
                if sink is not None:
                    sink.join_sync()
                with contextlib.suppress(Exception):
                    raw.close()
                raise
            sink.join_sync()
            with self._guard("write", tmp):
                raw.close()
            blob = Blob(sink.hexdigest(), sink.size)
            final = self.blob_path(blob.hash)
            with self._guard("store", final):
                before = local_identity(final) if self.local else None
                if self.intact(blob):
                    self.fs.rm(tmp)
                    if blob.size <= SPOOL_IN_MEMORY and before == local_identity(final):
                        self.verified.remember(blob.hash, before)  # intact() hashed it
                else:  # new, or the stored copy is damaged: this one takes its place
                    if self.local:
                        backdate(tmp)  # its identity is recorded as verified right away
                        if self.fsync:  # on disk before any catalog row names them
                            _sync(tmp)
                        self.fs.makedirs(self.fs._parent(final), exist_ok=True)
                    self.fs.mv(tmp, final)
                    if self.local:
                        if self.fsync:
                            _sync(os.path.dirname(final))
                        self.verified.remember(blob.hash, local_identity(final))
            return blob
        except BaseException:
            if sink is not None:
                sink.hexdigest()
            with contextlib.suppress(Exception):
                self.fs.rm(tmp)
            raise

    def _write_spooled(
        self, write: Callable[[BinaryIO], object], cancel: threading.Event | None
    ) -> Blob:
        with Spool(SPOOL_IN_MEMORY) as spool:
            sink = HashingWriter(spool, contextlib.nullcontext, cancel, f"spooling for {self.url}")
            try:
                write(cast(BinaryIO, sink))  # a write-only binary file
            finally:
                digest = sink.hexdigest()
            spool.finish()
            blob = Blob(digest, sink.size)
            if spool.path:
                self._upload(blob, path=spool.path)
            else:
                self._upload(blob, data=spool.getvalue())
            return blob

    def _upload_file(self, source: Path, cancel: threading.Event | None) -> Blob:
        """Hash a local file, then upload it from where it is; a file changed meanwhile is
        refused and its upload removed (its bytes would not match the address)."""
        before = source.stat()
        sha = hashlib.sha256()
        with source.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                if cancel is not None and cancel.is_set():
                    raise WriteCancelled
                sha.update(chunk)
        blob = Blob(sha.hexdigest(), before.st_size)
        uploaded = self._upload(blob, path=str(source))
        after = source.stat()
        if (after.st_size, after.st_mtime_ns, after.st_ctime_ns) != (
            before.st_size,
            before.st_mtime_ns,
            before.st_ctime_ns,
        ):
            if uploaded:
                self.fs.rm_file(self.blob_path(blob.hash))
                self.verified.forget(blob.hash)
            raise StorageError(
                f"{source} changed while it was being logged; log it again once it is complete"
            )
        return blob

    def _upload(self, blob: Blob, *, path: str | None = None, data: bytes = b"") -> bool:
        """Put the bytes of ``blob`` (from the local file ``path``, else ``data``) at its
        content address unless they are already there; the object is then remembered as
        verified by the ETag S3 answers. Returns whether anything was uploaded."""
        final = self.blob_path(blob.hash)
        with self._guard("upload", final):
            if self.intact(blob):
                return False
            if path:  # large: a multipart upload, aborted if it fails
                logger.info(
                    "uploading %s MB to %s",
                    f"{blob.size / 1e6:,.0f}",
                    self.fs.unstrip_protocol(final),
                )
                self.fs.put_file(path, final)
                info = self.fs.info(final)
            else:  # one PUT with its length: all or nothing
                answer = self.fs.pipe_file(final, data)
                answer = answer if isinstance(answer, dict) else {}
                info = {**answer, "size": blob.size} if self.pinned_reads else self.fs.info(final)
            if info.get("size") != blob.size:  # never leave wrong bytes at a content address
                self.fs.rm_file(final)
                raise StorageError(
                    f"uploaded {info.get('size')} of {blob.size} bytes to "
                    f"{self.fs.unstrip_protocol(final)}; the object was removed, retry"
                )
            if self.pinned_reads:  # hashed as written: its first load need not hash it again
                identity = Identity.of_info(info)
                if identity is not None:
                    self.verified.remember(blob.hash, identity)
            return True

    def intact(self, blob: Blob) -> bool:
        """Whether the content address already holds exactly these bytes: the size matches and,
        up to 64 MB, the sha256 too. A damaged or truncated copy is replaced, never trusted."""
        path = self.blob_path(blob.hash)
        try:
            if self.fs.size(path) != blob.size:
                logger.warning("replacing %s: its size is wrong", self.fs.unstrip_protocol(path))
                return False
        except FileNotFoundError:
            return False
        if blob.size > SPOOL_IN_MEMORY:
            return True
        sha = hashlib.sha256()
        try:
            with self.fs.open(path, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    sha.update(chunk)
        except FileNotFoundError:  # removed meanwhile (a concurrent delete)
            return False
        if sha.hexdigest() != blob.hash:
            logger.warning("replacing %s: its bytes are corrupt", self.fs.unstrip_protocol(path))
            return False
        return True

    def put_bytes(self, data: bytes) -> Blob:
        """Store ``data`` at its content address. Bytes already stored here and recorded as
        verified with the file's current identity are not written again (plotly.js, 4.7 MB,
        shared by every plotly plot, was rewritten and re-hashed on each log)."""
        if self.local:
            digest = hashlib.sha256(data).hexdigest()
            if self.verified.trusted(digest, self.identity(digest)):
                return Blob(digest, len(data))
        return self.write_blob(lambda sink: sink.write(data))

    def blob_exists(self, digest: str) -> bool:
        with self._guard("check", self.blob_path(digest)):
            return bool(self.fs.exists(self.blob_path(digest)))

    def read_blob(self, digest: str, *, verify: bool = True) -> bytes:
        path = self.blob_path(digest)
        try:
            with self._guard("read", path):
                data = Path(path).read_bytes() if self.local else self.fs.cat_file(path)
            where = self.fs.unstrip_protocol(path)
        except FileNotFoundError:
            fs, path = self.elsewhere(digest)
            with self._guard("read", path):
                data = fs.cat_file(path)
            where = fs.unstrip_protocol(path)
        if verify:
            check_hash(data, digest, f"blob {where}")
        return data

    def read_identified(self, digest: str) -> tuple[bytes, Identity | None]:
        """The stored bytes, not yet verified, and the identity they were read under: None when
        the storage cannot tell (or the file changed while it was read). On S3 the read is
        pinned to the ETag it reports (If-Match). Bytes registered in place have no identity
        here (their own pin is checked where they live)."""
        path = self.blob_path(digest)
        try:
            return self._read_identified(path)
        except FileNotFoundError:
            if self.locator is None:
                raise
            return self.read_blob(digest, verify=False), None

    def _read_identified(self, path: str) -> tuple[bytes, Identity | None]:
        with self._guard("read", path):
            if self.local:
                before = local_identity(path)
                data = Path(path).read_bytes()
                return data, before if before == local_identity(path) else None
            if self.pinned_reads:
                self.fs.invalidate_cache(path)
                with self.fs.open(path, "rb", cache_type="none") as handle:
                    identity = Identity.of_info(getattr(handle, "details", None) or {})
                    return handle.read(), identity
            return self.fs.cat_file(path), None

    def identity(self, digest: str) -> Identity | None:
        """A local blob's identity now (None when missing or not local)."""
        return local_identity(self.blob_path(digest)) if self.local else None

    def _open_raw(self, digest: str) -> tuple[Any, str, BinaryIO]:
        """The blob's filesystem, path and an unverified reader: here, or where bytes
        registered in place live."""
        fs, path = self.fs, self.blob_path(digest)
        try:
            with self._guard("open", path):
                return fs, path, fs.open(path, "rb")
        except FileNotFoundError:
            fs, path = self.elsewhere(digest)
            with self._guard("open", path):
                return fs, path, fs.open(path, "rb")

    def open_blob(self, digest: str) -> BinaryIO:
        """A buffered reader that verifies the sha256 when it reaches the end."""
        fs, path, raw = self._open_raw(digest)
        return io.BufferedReader(
            VerifyingReader(raw, digest, f"blob {fs.unstrip_protocol(path)}"), CHUNK
        )

    def elsewhere(self, digest: str) -> tuple[Any, str]:
        """Bytes registered in place: where they live (their pin checked), else not found."""
        found = self.locator(digest) if self.locator is not None else None
        if found is None:
            raise FileNotFoundError(self.blob_path(digest))
        return found

    def open_blob_at(self, digest: str, offset: int) -> BinaryIO:
        """The raw bytes from ``offset`` on, for a byte-range request (a part of a blob cannot
        be checked against its sha256; whole reads go through :meth:`open_blob`)."""
        raw = self._open_raw(digest)[2]
        raw.seek(offset)
        return raw

    def download_blob(
        self, digest: str, target: Path, on_chunk: Callable[[int], Any] | None = None
    ) -> Path:
        """Copy a blob to a local file: written beside it under a temporary name, verified,
        then renamed, so ``target`` never holds partial or corrupt bytes."""
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            progress = Progress(f"downloading {target.name}", None)
            with self.open_blob(digest) as source, partial.open("wb") as sink:
                while chunk := source.read(CHUNK):
                    sink.write(chunk)
                    progress.advance(len(chunk))
                    if on_chunk:
                        on_chunk(len(chunk))
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    @contextlib.contextmanager
    def verified_file(self, digest: str, what: str) -> Iterator[str]:
        """A local path holding the blob's bytes, checked against their sha256 by streaming:
        the blob itself on local storage, else a temporary download removed afterwards."""
        if self.local and os.path.exists(self.blob_path(digest)):
            path = self.blob_path(digest)
            sha = hashlib.sha256()
            progress = Progress(f"verifying {what}", os.path.getsize(path))
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    sha.update(chunk)
                    progress.advance(len(chunk))
            self.verified.counted_hash()
            if sha.hexdigest() != digest:
                self.verified.mark_bad(digest)
                raise corrupt(sha.hexdigest(), digest, f"blob {self.blob_url(digest)}")
            yield path
            return
        import tempfile

        with tempfile.TemporaryDirectory(prefix="prefect-artifacts-") as folder:
            copy = self.download_blob(digest, Path(folder) / digest)  # hashed while copied
            self.verified.counted_hash()
            yield str(copy)

    def delete_blob(self, digest: str) -> None:
        self.verified.forget(digest)
        with self._guard("delete", self.blob_path(digest)), contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.blob_path(digest))

    def iter_blobs(self) -> Iterator[tuple[str, datetime | None]]:
        """Every stored blob's sha256 and modification time (used by gc and verify)."""
        base = self.path(layout.BLOBS)
        with self._guard("list", base):
            found = self.fs.find(base, detail=True) if self.fs.exists(base) else {}
        for path, info in found.items():
            parts = path.rstrip("/").split("/")
            if len(parts[-2]) == 2 and len(parts[-1]) == 62:
                yield parts[-2] + parts[-1], modified_time(info)

    def incomplete_uploads(self) -> list[tuple[str, str, datetime | None]]:
        """Multipart uploads under the storage root never completed nor aborted (a process
        killed while uploading): ``(key, upload id, initiated)``. Empty where the storage has
        none (anything but S3)."""
        if not hasattr(self.fs, "call_s3"):
            return []
        bucket, _, prefix = self.root.partition("/")
        found: list[tuple[str, str, datetime | None]] = []
        marker: dict[str, str] = {}
        with self._guard("list uploads", self.root):
            while True:
                answer = self.fs.call_s3(
                    "list_multipart_uploads", Bucket=bucket, Prefix=prefix + "/", **marker
                )
                for upload in answer.get("Uploads", []):
                    found.append((upload["Key"], upload["UploadId"], modified_time(
                        {"created": upload.get("Initiated")}
                    )))  # fmt: skip
                if not answer.get("IsTruncated"):
                    return found
                marker = {
                    "KeyMarker": answer["NextKeyMarker"],
                    "UploadIdMarker": answer["NextUploadIdMarker"],
                }

    def abort_upload(self, key: str, upload_id: str) -> None:
        bucket = self.root.partition("/")[0]
        with self._guard("abort the upload of", f"{bucket}/{key}"):
            self.fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)

    # -- JSON documents (manifests, journal) ---------------------------------------------
    def write_json(self, path: str, document: Any) -> None:
        """Write (or replace) a JSON document whole or not at all: on a filesystem a synced
        temporary file renamed into place (removed if the write fails); on an object store one
        PUT. For documents that change (leases); records are written once with create_json."""
        data = json.dumps(document, default=str, separators=(",", ":")).encode()
        with self._guard("write", path):
            if not self.local:
                self.fs.pipe_file(path, data)
                return
            with self._beside(path, data) as tmp:
                os.replace(tmp, path)

    def create_json(self, path: str, document: Any) -> bool:
        """Write a JSON document only if nothing is at ``path`` — never replacing what another
        writer put there: locally a synced temporary file hard-linked into place (``O_EXCL``
        where links are not supported); on S3 a conditional PUT (``If-None-Match: *``); on
        other stores, or endpoints without conditional PUTs, a write checked by reading it
        back. Returns True when written; False when an identical document was already there.
        Raises FileExistsError when a different document is there."""
        data = json.dumps(document, default=str, separators=(",", ":")).encode()
        with self._guard("write", path):
            if self.local:
                created = self._create_local(path, data)
            else:
                created = self._create_object(path, data)
            if created:
                return True
            existing = self.fs.cat_file(path)
        if existing == data or _same_json(existing, data):
            return False
        raise FileExistsError(f"{self.fs.unstrip_protocol(path)} already holds another document")

    def _create_local(self, path: str, data: bytes) -> bool:
        with self._beside(path, data) as tmp:
            try:
                os.link(tmp, path)  # atomic, and fails if the name exists
            except FileExistsError:
                return False
            except OSError:  # a filesystem without hard links
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                except FileExistsError:
                    return False
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
            return True

    @contextlib.contextmanager
    def _beside(self, path: str, data: bytes) -> Iterator[str]:
        """``data`` in a temporary file beside local ``path`` (synced unless fsync is off), to
        be renamed or linked into place; removed afterwards."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            yield tmp
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _create_object(self, path: str, data: bytes) -> bool:
        if self.conditional_puts is not False and hasattr(self.fs, "call_s3"):
            bucket, key, _ = self.fs.split_path(path)
            try:
                self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
                self.fs.invalidate_cache(path)
                self.conditional_puts = True
                return True
            except Exception as exc:
                if _precondition_failed(exc):
                    self.conditional_puts = True
                    return False
                if not _not_supported(exc):
                    raise
                self.conditional_puts = False  # this endpoint ignores or refuses them
                logger.info("%s does not support conditional writes; checking by reading", self.url)
        self.fs.invalidate_cache(path)
        if self.fs.exists(path):
            return False
        self.fs.pipe_file(path, data)
        self.fs.invalidate_cache(path)
        return bool(self.fs.cat_file(path) == data)  # else another writer's won: compared above

    def read_json(self, path: str) -> Any:
        """A JSON document; ValueError when it is not valid JSON."""
        with self._guard("read", path):
            data = self.fs.cat_file(path)
        return json.loads(data)

    def delete(self, path: str) -> None:
        with self._guard("delete", path), contextlib.suppress(FileNotFoundError):
            self.fs.rm(path)

    def find(self, relative: str) -> list[str]:
        base = self.path(relative)
        with self._guard("list", base):
            return sorted(self.fs.find(base)) if self.fs.exists(base) else []

    @contextlib.contextmanager
    def _guard(self, action: str, path: str) -> Iterator[None]:
        try:
            yield
        except (StorageError, IntegrityError, FileNotFoundError):
            raise
        except Exception as exc:
            raise StorageError(
                f"could not {action} {self.fs.unstrip_protocol(path)}: {type(exc).__name__}: {exc}. "
                "Check that the storage is reachable and writable (PREFECT_ARTIFACTS_STORAGE_URL, "
                "PREFECT_ARTIFACTS_STORAGE_OPTIONS, credentials), then retry"
            ) from exc


def _same_json(a: bytes, b: bytes) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return False


def _precondition_failed(exc: BaseException) -> bool:
    """A conditional PUT found the object there (S3: 412 PreconditionFailed)."""
    if isinstance(exc, FileExistsError):  # s3fs's translation of it
        return True
    text = f"{type(exc).__name__} {exc} {exc.__cause__ or ''}"
    return "PreconditionFailed" in text or "412" in text or "At least one of the pre" in text


def _not_supported(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc} {exc.__cause__ or ''}"
    return any(s in text for s in ("NotImplemented", "501", "not implemented", "InvalidArgument"))


def _sync(path: str) -> None:
    """fsync a local file or folder (its data, or the rename of an entry in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def modified_time(info: dict[str, Any]) -> datetime | None:
    """When an object was last modified, from fsspec's ``info`` (local, S3, memory), aware."""
    value = info.get("mtime") or info.get("LastModified") or info.get("created")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _restored(fs: Any, root: str, fsync: bool, verified_state: Path | None) -> Storage:
    return Storage(fs, root, fsync=fsync, verified_state=verified_state)
