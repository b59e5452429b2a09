"""Folder artifacts (``log_artifact(key, local_path=<folder>)``, MLflow's ``log_artifacts``):
each file stored by its content (unchanged files share bytes across versions), listed in a
JSON index that is the version's own blob; the files are the version's parts.

Symlinks inside the folder are followed; a link leading out of it is refused."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from ..catalog import PartRecord
from ..errors import ArtifactNotFoundError, InvalidArgumentError
from ..models import ArtifactVersion
from ..storage.streams import copy_file
from .indexed import Indexed

if TYPE_CHECKING:
    from .protocol import Repo

NAME = "folder"
INDEX_FORMAT = 1
MAX_FILES = 100_000


def is_folder(obj: Any) -> bool:
    return isinstance(obj, Path) and obj.is_dir()


def files_of(root: Path) -> list[tuple[str, Path]]:
    """``(relative posix path, file)`` of every file under ``root``, sorted; links are
    followed when they stay inside the folder."""
    base = root.resolve()
    out: list[tuple[str, Path]] = []
    for folder, dirs, names in os.walk(root, followlinks=True):
        here = Path(folder)
        for name in sorted(dirs + names):
            path = here / name
            if path.is_symlink() and not path.resolve().is_relative_to(base):
                rel = path.relative_to(root).as_posix()
                raise InvalidArgumentError(
                    f"{rel!r} in the folder {str(root)!r} links outside it (to "
                    f"{str(path.resolve())!r}); copy the file in, or remove the link"
                )
        for name in names:
            path = here / name
            if path.is_file():
                out.append((path.relative_to(root).as_posix(), path))
        if len(out) > MAX_FILES:
            raise InvalidArgumentError(f"the folder {str(root)!r} holds over {MAX_FILES} files")
    if not out:
        raise InvalidArgumentError(f"the folder {str(root)!r} holds no files")
    return sorted(out)


def store(repo: Repo, root: Path, fields: dict[str, Any]) -> Indexed:
    """Store each file (by content) and the index."""
    entries: list[dict[str, Any]] = []
    for rel, path in files_of(root):
        blob = repo.storage.write_blob(functools.partial(copy_file, path), source=path)
        mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
        entries.append({"path": rel, "hash": blob.hash, "size": blob.size, "mode": mode})
    document = {"folder": INDEX_FORMAT, "files": entries}
    index = repo.storage.put_bytes(json.dumps(document, sort_keys=True).encode())
    identity = {"kind": "artifact", "format": NAME, "materializer": NAME, "index": index.hash}
    meta: dict[str, Any] = {"files": len(entries), "index_size": index.size}
    if fields.get("iteration") is not None:
        meta["iteration"] = fields["iteration"]
    return Indexed(
        index,
        identity,
        suffix="folder",
        size=sum(e["size"] for e in entries),
        meta=meta,
        blobs={index.hash: index.size, **{e["hash"]: e["size"] for e in entries}},
        parts=[PartRecord(i, e["hash"], e["size"], 0) for i, e in enumerate(entries)],
    )


def is_folder_version(version: ArtifactVersion) -> bool:
    return version.materializer == NAME


def listing(repo: Repo, version: ArtifactVersion) -> list[dict[str, Any]]:
    """The folder's files: ``{path, hash, size, mode}``, sorted by path (the index, verified)."""
    document = json.loads(repo.read_blob(version.hash))
    return list(document["files"])


def _entry(repo: Repo, version: ArtifactVersion, name: str) -> dict[str, Any]:
    wanted = PurePosixPath(name).as_posix()
    for entry in listing(repo, version):
        if entry["path"] == wanted:
            return entry
    raise ArtifactNotFoundError(
        f"{version.ref} has no file {name!r}; its files: `version.files()` (e.g. "
        f"{', '.join(e['path'] for e in listing(repo, version)[:5])})"
    )


def open_file(repo: Repo, version: ArtifactVersion, name: str) -> BinaryIO:
    """One file of the folder (its sha256 checked when read to the end)."""
    entry = _entry(repo, version, name)
    return repo.open_blob(entry["hash"], entry["size"])


def download(repo: Repo, version: ArtifactVersion, path: str | Path | None) -> Path:
    """Recreate the folder at ``path`` (default: ``./<key>``), every file verified."""
    target = Path(path) if path is not None else Path.cwd() / version.key
    target.mkdir(parents=True, exist_ok=True)
    for entry in listing(repo, version):
        rel = PurePosixPath(entry["path"])
        if rel.is_absolute() or ".." in rel.parts:
            raise InvalidArgumentError(f"{version.ref}: unsafe path {entry['path']!r} in its index")
        out = target.joinpath(*rel.parts)
        out.parent.mkdir(parents=True, exist_ok=True)
        repo.download_blob(entry["hash"], out.parent, out.name)
        out.chmod(entry.get("mode", 0o644))
    return target
