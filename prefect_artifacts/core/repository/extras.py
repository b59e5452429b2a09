"""Extra data stored with a version: bytes, local files, other artifacts, our own blob URLs, or
any fsspec URL. Artifacts and our blob URLs are referenced, everything else is copied in."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..catalog import ExtraRecord
from ..errors import InvalidArgumentError, StorageError, UnsupportedTypeError
from ..keys import safe_filename, validate_name
from ..models import ArtifactVersion, ExtraData
from ..storage.streams import copy_file

if TYPE_CHECKING:
    from .protocol import Repo


def store(repo: Repo, extra_data: dict[str, Any]) -> list[ExtraRecord]:
    if not isinstance(extra_data, dict):
        raise InvalidArgumentError("extra_data must be a dict of name → bytes, path or artifact")
    return [
        ExtraRecord(name=validate_name(name, "extra_data name"), **_one(repo, name, value))
        for name, value in extra_data.items()
    ]


def _one(repo: Repo, name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, (bytes, bytearray, memoryview)):
        blob = repo.storage.put_bytes(bytes(value))
        return {"hash": blob.hash, "size": blob.size, "source": "bytes"}
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
        return _location(repo, name, str(value))
    raise UnsupportedTypeError(
        f"extra_data[{name!r}] is a {type(value).__name__}; pass bytes, a file path, an "
        "ArtifactVersion or its target_path (log other objects first, e.g. with log_plot)"
    )


def _location(repo: Repo, name: str, text: str) -> dict[str, Any]:
    digest = repo.storage.hash_of_url(text)
    if digest is not None:  # one of our blobs: reference it
        owner = repo.version_with_hash(digest)
        if owner is not None:
            return {
                "hash": digest,
                "size": owner.size,
                "source": "artifact",
                "filename": owner.filename,
                "artifact": owner.ref,
            }
        try:
            size = repo.storage.fs.size(repo.storage.blob_path(digest))
        except FileNotFoundError:
            raise InvalidArgumentError(
                f"extra_data[{name!r}] = {text[:120]!r} names bytes this storage does not hold "
                "(no version has them, and the file is gone); pass the bytes, a file path or an "
                "ArtifactVersion instead"
            ) from None
        return {"hash": digest, "size": size, "source": "url"}
    if text.startswith("artifact://"):
        return _one(repo, name, repo.get(text))
    local = Path(text).expanduser()
    if local.is_file():
        blob = repo.storage.write_blob(lambda sink: copy_file(local, sink), source=local)
        return {"hash": blob.hash, "size": blob.size, "source": "file", "filename": local.name}
    if "://" in text:
        import fsspec

        try:
            with fsspec.open(text, "rb") as source:
                blob = repo.storage.write_blob(lambda sink: _copy(source, sink))
        except (OSError, ValueError, ImportError) as exc:
            if isinstance(exc, StorageError):
                raise
            raise StorageError(
                f"extra_data[{name!r}]: cannot read {text[:120]!r} ({type(exc).__name__}: "
                f"{str(exc)[:200]}); check the URL and that it is reachable, or pass the bytes"
            ) from exc
        return {
            "hash": blob.hash,
            "size": blob.size,
            "source": "url",
            "filename": safe_filename(text.rstrip("/").rsplit("/", 1)[-1], name),
        }
    raise InvalidArgumentError(
        f"extra_data[{name!r}] = {text[:120]!r} is not an existing file, an artifact's "
        "target_path or a URL; pass bytes, a file path or an ArtifactVersion"
    )


def _copy(source: BinaryIO, sink: BinaryIO) -> None:
    while chunk := source.read(1 << 20):
        sink.write(chunk)
