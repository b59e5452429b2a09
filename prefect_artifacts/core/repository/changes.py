"""Changes to existing versions: tags, labels, descriptions, deletion. Each commits with its
journal entry; listeners hear of it afterwards."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..catalog import utcnow
from ..errors import ArtifactNotFoundError, InvalidArgumentError, StorageError
from ..events import Deleted, DescriptionSet, LabelsSet, TagMoved, TagRemoved, emit
from ..faults import fault_point
from ..keys import parse_ref, validate_labels, validate_tag
from ..models import ArtifactVersion
from . import reader

if TYPE_CHECKING:
    from . import Repository

logger = logging.getLogger("prefect_artifacts")
DELETE_STRATEGIES = ("metadata-only", "data-optional", "data-required")


def tag(repo: Repository, ref: str, name: str, project: str | None) -> ArtifactVersion:
    name = validate_tag(name)
    version = repo.get(ref, project=project)
    previous = repo.catalog.set_tag(repo.row_id(version), name, utcnow())
    repo.drain()
    version = repo.get(version.ref)
    emit(TagMoved(repo, version, name, previous))
    return version


def untag(repo: Repository, ref: str, name: str | None, project: str | None) -> int:
    parsed = parse_ref(ref, project=project)
    name = validate_tag(name) if name else parsed.tag
    if not name:
        raise InvalidArgumentError(f"name the tag to remove: untag('{parsed.key}@prod')")
    project = parsed.project or repo.project
    number = repo.catalog.remove_tag(project, parsed.key, name, utcnow())
    if number is None:
        raise ArtifactNotFoundError(
            f"artifact {parsed.key!r} has no tag {name!r} in project {project!r}"
        )
    repo.drain()
    emit(TagRemoved(repo, project, parsed.key, name, number))
    return number


def set_labels(
    repo: Repository, ref: str, labels: dict[str, Any], replace: bool, project: str | None
) -> ArtifactVersion:
    clean = validate_labels(labels)
    version = repo.get(ref, project=project)
    repo.catalog.set_labels(repo.row_id(version), clean, utcnow(), replace=replace)
    repo.drain()
    version = repo.get(version.ref)
    emit(LabelsSet(repo, version, clean, replace))
    return version


def set_description(
    repo: Repository, ref: str, description: str | None, project: str | None
) -> ArtifactVersion:
    version = repo.get(ref, project=project)
    repo.catalog.set_description(repo.row_id(version), description, utcnow())
    repo.drain()
    version = repo.get(version.ref)
    emit(DescriptionSet(repo, version))
    return version


def delete(
    repo: Repository, ref: str, *, data: bool, strategy: str | None, project: str | None
) -> list[int]:
    """See :meth:`Repository.delete`."""
    strategy = strategy or ("data-optional" if data else "metadata-only")
    if strategy not in DELETE_STRATEGIES:
        raise InvalidArgumentError(
            f"strategy must be one of {', '.join(DELETE_STRATEGIES)}, got {strategy!r}"
        )
    parsed = parse_ref(ref, project=project)
    project = parsed.project or repo.project
    number = parsed.version
    if parsed.tag or parsed.latest:
        number = repo.get(str(parsed), project=project).version
    left: list[str] = []

    def remove_bytes(hashes: list[str]) -> None:
        for position, digest in enumerate(hashes):
            try:
                repo.storage.delete_blob(digest)
            except Exception:
                if position == 0:
                    raise  # nothing removed yet: roll back, nothing deleted
                left.extend(hashes[position:])
                return

    deleted, free = repo.catalog.delete(
        project,
        parsed.key,
        number,
        utcnow(),
        before_commit=remove_bytes if strategy == "data-required" else None,
    )
    if not deleted:
        raise ArtifactNotFoundError(reader.not_found(repo, parsed))
    repo.drain()
    fault_point("delete-after-drain")
    if strategy == "data-optional":
        for digest in free:  # locked and re-checked: a concurrent log may have reused them
            try:
                repo.catalog.release_orphan(digest, lambda d=digest: repo.storage.delete_blob(d))
            except Exception as exc:
                logger.warning("could not remove the bytes %s (left for gc): %s", digest, exc)
    emit(Deleted(repo, project, parsed.key, deleted))
    if left:
        raise StorageError(
            f"deleted {parsed.key} versions {deleted}, but could not remove the bytes "
            f"{', '.join(left)}; `prefect-artifacts gc` removes them once storage allows"
        )
    return deleted
