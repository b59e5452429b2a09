"""Changes to existing versions: tags, labels, descriptions, deletion. Each commits with its
journal entry; listeners hear of it afterwards."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from ..catalog import BlobsMissing, utcnow
from ..errors import ArtifactNotFoundError, IntegrityError, InvalidArgumentError, StorageError
from ..events import Deleted, DescriptionSet, LabelsSet, Revised, TagMoved, TagRemoved, emit
from ..faults import fault_point
from ..keys import parse_ref, validate_labels, validate_tag
from ..models import ArtifactVersion, Revision
from ..runs import current_producer
from . import reader

if TYPE_CHECKING:
    from .protocol import Repo

logger = logging.getLogger("prefect_artifacts")
DELETE_STRATEGIES = ("metadata-only", "data-optional", "data-required")


def tag(repo: Repo, ref: str, tag: str, *, project: str | None = None) -> ArtifactVersion:
    """Point ``tag`` at the version ``ref`` names (moving it if another version had it).
    Listeners hear ``TagMoved`` once, unless the tag was there already."""
    name = validate_tag(tag)
    version = repo.get(ref, project=project)
    repo.require_signer(version)
    producer = current_producer(repo.owner)
    who = {"by": repo.owner, "run": producer.run_id}
    previous = repo.catalog.set_tag(repo.row_id(version), name, utcnow(), who)
    repo.drain()
    version = repo.get(version.ref)
    if previous is not False:
        emit(TagMoved(repo, version, name, previous or None))
    return version


def untag(repo: Repo, ref: str, tag: str | None = None, *, project: str | None = None) -> int:
    """Remove a tag (``untag("k@prod")`` or ``untag("k", "prod")``); returns the version it
    pointed at."""
    parsed = parse_ref(ref, project=project)
    name = validate_tag(tag) if tag else parsed.tag
    if not name:
        raise InvalidArgumentError(
            f"name the tag to remove: '{parsed.key}@prod', or the tag as the second argument "
            f"(untag('{parsed.key}', 'prod'); CLI: prefect-artifacts untag {parsed.key} prod)"
        )
    project = parsed.project or repo.project
    repo.require_signer()
    removed = repo.catalog.remove_tag(project, parsed.key, name, utcnow())
    if removed is None:
        raise ArtifactNotFoundError(
            f"artifact {parsed.key!r} has no tag {name!r} in project {project!r}"
        )
    number, kind = removed
    repo.drain()
    emit(TagRemoved(repo, project, parsed.key, name, number, kind))
    return number


def set_labels(
    repo: Repo,
    ref: str,
    labels: dict[str, Any],
    *,
    replace: bool = False,
    project: str | None = None,
) -> ArtifactVersion:
    """Add or change labels of a version (``replace=True`` drops the others)."""
    clean = validate_labels(labels)
    version = repo.get(ref, project=project)
    repo.require_signer(version)
    repo.catalog.set_labels(repo.row_id(version), clean, utcnow(), replace=replace)
    repo.drain()
    version = repo.get(version.ref)
    emit(LabelsSet(repo, version, clean, replace))
    return version


def set_description(
    repo: Repo, ref: str, description: str | None, *, project: str | None = None
) -> ArtifactVersion:
    """Replace a version's description."""
    from .validators import check_description

    description = check_description(description)
    version = repo.get(ref, project=project)
    repo.require_signer(version)
    repo.catalog.set_description(repo.row_id(version), description, utcnow())
    repo.drain()
    version = repo.get(version.ref)
    emit(DescriptionSet(repo, version))
    return version


def revise(
    repo: Repo,
    ref: str | ArtifactVersion,
    *,
    metrics: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    labels: dict[str, Any] | None = None,
    extra_data: dict[str, Any] | None = None,
    description: str | None = None,
    kind: str | None = None,
    project: str | None = None,
) -> ArtifactVersion:
    """Change a version's metadata in place, recorded as a metadata revision (who, when, from
    which run, what changed): ``metrics`` and ``parameters`` are merged into the version's (with
    ``log_model``'s validation), ``labels`` set, ``description`` replaced, ``extra_data`` items
    added. The bytes, hash, version number, tags and producer never change. ``kind``: the kind
    the version must be (``update_model`` asks for a model)."""
    from . import extras as extra_items
    from .validators import check_description, check_fields

    version = ref if isinstance(ref, ArtifactVersion) else repo.get(ref, project=project)
    repo.require_signer(version)
    if kind is not None and version.kind != kind:
        raise InvalidArgumentError(
            f"{version.ref} is a {version.kind}, not a {kind}; update_model changes models only "
            "(set_labels and set_description work on every kind)"
        )
    fields = check_fields({"metrics": metrics, "parameters": parameters})
    update: dict[str, Any] = {k: v for k, v in fields.items() if v}
    if labels:
        update["labels"] = validate_labels(labels)
    if description is not None:
        update["description"] = check_description(description)
    taken = sorted(set(extra_data or {}) & set(version.extra_data))
    if taken:
        raise InvalidArgumentError(
            f"{version.ref} already has extra data {', '.join(map(repr, taken))}; stored extra "
            "data never changes — add it under a new name"
        )
    if not update and not extra_data:
        raise InvalidArgumentError(
            "nothing to update: give metrics=, parameters=, labels=, extra_data= or description="
        )
    stored = extra_items.store(repo, extra_data or {})
    updater = current_producer(repo.owner).model_dump(mode="json", exclude_none=True)
    sign = repo.signer.sign if repo.signer is not None else None

    def missing(hashes: list[str]) -> list[str]:
        return [h for h in hashes if not repo.storage.blob_exists(h)]

    try:
        number = repo.catalog.revise(
            repo.row_id(version), update, stored, updater, missing=missing, sign=sign
        )
    except BlobsMissing as gone:
        raise IntegrityError(
            f"extra data with sha256 {gone} was deleted while updating {version.ref}; retry"
        ) from None
    except LookupError:
        raise ArtifactNotFoundError(f"{version.ref} was deleted meanwhile") from None
    repo.drain()
    version = repo.get(version.ref)
    if number is not None:
        emit(Revised(repo, version, number))
    return version


def revisions(repo: Repo, version: ArtifactVersion) -> list[Revision]:
    """A version's metadata revisions, oldest first."""
    return [Revision.model_validate(vars(r)) for r in repo.catalog.revisions(repo.row_id(version))]


def delete(
    repo: Repo,
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
    project = parsed.project or repo.project
    number = parsed.version
    if parsed.tag or parsed.latest or parsed.iteration is not None:
        number = repo.get(str(parsed), project=project).version
    repo.require_signer()
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

    deleted, free, gone_tags = repo.catalog.delete(
        project,
        parsed.key,
        number,
        before_commit=remove_bytes if strategy == "data-required" else None,
    )
    if not deleted:
        raise ArtifactNotFoundError(reader.not_found(repo, parsed))
    repo.drain()
    fault_point("delete-after-drain")
    if strategy == "data-optional":
        for digest in free:  # locked and re-checked: a concurrent log may have reused them
            try:
                repo.catalog.release_orphan(
                    digest, functools.partial(repo.storage.delete_blob, digest)
                )
            except Exception as exc:
                logger.warning("could not remove the bytes %s (left for gc): %s", digest, exc)
    for gone_tag, number, kind in gone_tags:  # listeners hear each tag leave, then the deletion
        emit(TagRemoved(repo, project, parsed.key, gone_tag, number, kind, deleted=True))
    emit(Deleted(repo, project, parsed.key, deleted))
    if left:
        raise StorageError(
            f"deleted {parsed.key} versions {deleted}, but could not remove the bytes "
            f"{', '.join(left)}; `prefect-artifacts gc` removes them once storage allows"
        )
    return deleted
