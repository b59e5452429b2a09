"""Bytes registered in place (MLRun's ``target_path`` + ``upload=False``): an object that
already lives in storage — an S3 object, a file — becomes a version without being copied. It is
hashed while streaming and pinned by its ETag (or version id) and size; every read checks the
pin first (a changed object is refused, naming what changed) and the sha256 as always."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import fsspec

from ..errors import IntegrityError, InvalidArgumentError, StorageError
from ..storage import Blob

if TYPE_CHECKING:
    from ..catalog import Catalog
    from .protocol import Repo

CHUNK = 1 << 20


def filesystem(repo: Repo, url: str) -> tuple[Any, str]:
    """The filesystem and path of ``url``: the repository's own (with its options and
    credentials) when the protocol is the same, else fsspec's default for it."""
    return _filesystem(repo.storage.fs, url)


def _filesystem(fs: Any, url: str) -> tuple[Any, str]:
    if not isinstance(url, str) or not url:
        raise InvalidArgumentError(
            f"target_path must be a URL or path of existing bytes, got {url!r:.80}"
        )
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    scheme = url.split("://", 1)[0] if "://" in url else "file"
    if scheme in protocols:
        return fs, fs._strip_protocol(url)
    try:
        found: tuple[Any, str] = fsspec.core.url_to_fs(url)
        return found
    except (ImportError, ValueError) as exc:
        raise StorageError(f"cannot open {url!r}: {exc}") from exc


def pin(info: dict[str, Any]) -> dict[str, Any]:
    """What identifies an object's current content without reading it: ETag, version id, size."""
    etag = info.get("ETag") or info.get("etag")
    return {
        "etag": str(etag).strip('"') if etag else None,
        "version_id": info.get("VersionId") or info.get("version_id"),
        "size": int(info.get("size") or 0),
    }


def register(repo: Repo, url: str) -> tuple[Blob, dict[str, Any]]:
    """Hash the object at ``url`` while streaming it (nothing is copied); returns its blob
    identity and the source record (url + pin) kept with the version."""
    fs, path = filesystem(repo, url)
    try:
        before = fs.info(path)
    except FileNotFoundError:
        raise InvalidArgumentError(
            f"target_path {url!r} does not exist: register bytes that are already there "
            "(or log them with body= / local_path=)"
        ) from None
    if before.get("type") == "directory":
        raise InvalidArgumentError(f"target_path {url!r} is a folder; name one object")
    sha, size = hashlib.sha256(), 0
    with fs.open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    source = {"url": fs.unstrip_protocol(path), **pin(before), "size": size}
    after = pin(fs.info(path))
    if (after["etag"], after["size"]) != (source["etag"], size):
        raise IntegrityError(f"{url} changed while it was being registered; register it again")
    return Blob(sha.hexdigest(), size), source


class RegisteredBytes:
    """A storage's :class:`~..storage.Locator`: where bytes registered in place live, found
    through the catalog's versions; ``fs`` (the storage's own filesystem) opens sources of its
    protocol with its options and credentials."""

    def __init__(self, catalog: Catalog, fs: Any) -> None:
        self.catalog = catalog
        self.fs = fs

    def __call__(self, digest: str) -> tuple[Any, str] | None:
        return locate(self.catalog, self.fs, digest)


def locate(catalog: Catalog, own_fs: Any, digest: str) -> tuple[Any, str] | None:
    """Where registered bytes with this sha256 live, after checking that the object is still
    the one registered (ETag/version id and size); None if no version registered them."""
    source = None
    for vid in catalog.versions_with_hash(digest):
        found = catalog.by_ids([vid])
        meta = found[0].meta if found else {}
        if isinstance(meta.get("source"), dict):
            source = meta["source"]
            break
    if source is None:
        return None
    fs, path = _filesystem(own_fs, source["url"])
    try:
        now = pin(fs.info(path))
    except FileNotFoundError:
        raise IntegrityError(
            f"the registered object {source['url']} is gone; restore it or delete the version"
        ) from None
    changed = [
        f"{name} {source.get(name)} → {now[name]}"
        for name in ("etag", "version_id", "size")
        if source.get(name) is not None and now[name] != source.get(name)
    ]
    if changed:
        raise IntegrityError(
            f"the registered object {source['url']} changed since it was registered "
            f"({'; '.join(changed)}): its bytes are not the version's. Register it again as a "
            "new version, or restore the original"
        )
    return fs, path
