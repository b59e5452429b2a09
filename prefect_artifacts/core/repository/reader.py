"""The read path: find versions, search them with the shared filter, load and stream bytes —
always verified against their sha256 before a value is returned."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..catalog import VersionRecord
from ..errors import (
    ArtifactNotFoundError,
    IntegrityError,
    UnsupportedTypeError,
    UntrustedContentError,
)
from ..filters import ArtifactFilter
from ..keys import Ref, parse_ref, safe_filename
from ..materializers import registry
from ..models import ArtifactVersion, version_from_record
from ..storage import check_hash
from . import partsread
from .writer import pool

if TYPE_CHECKING:
    from . import Repository

IN_MEMORY_MAX = 64 << 20  # larger versions are verified by streaming and parsed from a file


def version(repo: Repository, record: VersionRecord) -> ArtifactVersion:
    """A catalog record as the kind-specific ArtifactVersion, bound to ``repo``."""
    fields: dict[str, Any] = {
        name: getattr(record, name)
        for name in record.__dataclass_fields__
        if name not in ("meta", "details", "extras")
    }
    fields.update(record.meta or {})
    fields.update(record.details or {})
    fields["target_path"] = repo.storage.blob_url(record.hash)
    fields["uri"] = f"artifact://{record.project}/{record.key}:{record.version}"
    fields["extra_data"] = {
        e.name: {**vars(e), "target_path": repo.storage.blob_url(e.hash)} for e in record.extras
    }
    if record.parts:
        fields["parts"] = [
            {**vars(p), "target_path": repo.storage.blob_url(p.hash)} for p in record.parts
        ]
    out = version_from_record(fields, repo)
    out._row_id = record.id
    return out


def get(
    repo: Repository,
    ref: str,
    *,
    version_number: int | None = None,
    tag: str | None = None,
    project: str | None = None,
) -> ArtifactVersion:
    parsed = parse_ref(ref, version=version_number, tag=tag, project=project)
    record = repo.catalog.find(
        parsed.project or repo.project, parsed.key, version=parsed.version, tag=parsed.tag
    )
    if record is None:
        raise ArtifactNotFoundError(not_found(repo, parsed))
    return version(repo, record)


def not_found(repo: Repository, ref: Ref) -> str:
    """Why ``ref`` names nothing: no such key, or the versions and tags the key does have."""
    project = ref.project or repo.project
    versions = repo.catalog.versions_of(project, ref.key)
    if not versions:
        return (
            f"artifact {ref.key!r} not found in project {project!r}; "
            "`prefect-artifacts ls` lists the keys"
        )
    what = f"version {ref.version}" if ref.version is not None else f"tag {ref.tag!r}"
    tags = sorted({f"{t} (v{v.version})" for v in versions for t in v.tags})
    return (
        f"artifact {ref.key!r} has no {what} in project {project!r} (latest is version "
        f"{versions[0].version}; tags: {', '.join(tags) or 'none'})"
    )


def resolve(repo: Repository, f: ArtifactFilter) -> ArtifactFilter:
    """The filter with its project decided: the repository's by default; an unknown project
    (other than the repository's own) is an error, not an empty result."""
    project = f.project or repo.project
    if project not in ("*", repo.project) and not repo.catalog.project_exists(project):
        known = ", ".join(p.project for p in repo.catalog.projects()) or "none yet"
        raise ArtifactNotFoundError(
            f"project {project!r} not found; projects: {known} ('*' searches all of them)"
        )
    return f if f.project == project else f.model_copy(update={"project": project})


def search(repo: Repository, f: ArtifactFilter) -> list[ArtifactVersion]:
    return [version(repo, r) for r in repo.catalog.search(resolve(repo, f))]


def count(repo: Repository, f: ArtifactFilter) -> int:
    return repo.catalog.count(resolve(repo, f))


def versions(repo: Repository, ref: str, project: str | None) -> list[ArtifactVersion]:
    parsed = parse_ref(ref, project=project)
    records = repo.catalog.versions_of(parsed.project or repo.project, parsed.key)
    return [version(repo, r) for r in records]


def load(
    repo: Repository, v: ArtifactVersion, *, as_pandas: bool = False, trusted: bool | None = None
) -> Any:
    """Read, verify and deserialize a version; the caller records the consumer."""
    if partsread.is_parts(v):  # a multi-part dataset: every part read and sha256-checked
        return partsread.load_all(repo, v, as_type="pandas" if as_pandas else None)
    materializer = registry.by_name(v.materializer)
    if materializer is None:
        raise UnsupportedTypeError(
            f"{v} was stored by the materializer {v.materializer!r}, which is not registered in "
            "this process; import the module that registers it (or install its package), or "
            "use .open()/.download() for the raw bytes"
        )
    if materializer.runs_code(v):
        check_trust(repo, v, trusted)
    options = {"as_pandas": True} if as_pandas else {}
    if v.size > IN_MEMORY_MAX and hasattr(materializer, "load_file"):
        try:  # large: verify by streaming (no copy in memory), then parse from the file
            with repo.storage.verified_file(v.hash, v.ref) as path:
                return materializer.load_file(path, v, **options)
        except FileNotFoundError:
            raise IntegrityError(
                f"the bytes of {v.ref} are missing from storage ({v.target_path})"
            ) from None
    data = raw(repo, v.hash, v.ref)
    if materializer.parse_before_verify:
        # Parsing a table runs no stored code: hash on one core while parsing on the other.
        check = pool.submit(check_hash, data, v.hash, f"bytes of {v.ref}")
        try:
            value = materializer.load(data, v, **options)
        except Exception:
            check.result()  # a corrupt file is reported as corruption, not a parse error
            raise
        check.result()
        return value
    check_hash(data, v.hash, f"bytes of {v.ref}")  # never unpickle unverified bytes
    if materializer.decides_trust:
        return materializer.load(data, v, trusted=bool(trusted))
    return materializer.load(data, v)


def check_trust(repo: Repository, v: ArtifactVersion, trusted: bool | None) -> None:
    """Loading ``v`` runs code stored in it: it must be trusted and, with a signing key, signed
    with it."""
    if not (repo.settings.trust_pickles if trusted is None else trusted):
        raise UntrustedContentError(
            f"{v.ref} is a pickle: loading it runs code stored in it. Load it with "
            "load(trusted=True) if you trust everyone who can write to this repository, or "
            "log models in a safe format (format='skops' for scikit-learn, 'safetensors' for "
            "arrays); .open() and .download() give the raw bytes"
        )
    if repo.signer is not None:
        problem = repo.signer.verify(signed_fields(v), v.signature)
        if problem:
            raise UntrustedContentError(
                f"{v.ref} is a pickle and {problem} by this repository's signing key "
                f"({repo.signer.key_id}); it is not loaded. Re-log it with the key configured, "
                "or load its bytes with .open() if you trust them"
            )


def signed_fields(v: ArtifactVersion) -> dict[str, Any]:
    """The fields a version's signature covers, as the catalog records them."""
    return {
        **v.model_dump(include={"uid", "project", "key", "version", "kind", "format"}),
        "materializer": v.materializer,
        "hash": v.hash,
        "size": v.size,
        "extras": [{"name": n, "hash": e.hash, "size": e.size} for n, e in v.extra_data.items()],
    }


def raw(repo: Repository, digest: str, what: str) -> bytes:
    """The stored bytes, not yet verified."""
    try:
        return repo.storage.read_blob(digest, verify=False)
    except FileNotFoundError:
        raise IntegrityError(
            f"the bytes of {what} are missing from storage ({repo.storage.blob_url(digest)}); "
            "restore them or delete the version"
        ) from None


def read_blob(repo: Repository, digest: str) -> bytes:
    data = raw(repo, digest, f"blob {digest[:12]}")
    check_hash(data, digest, f"blob {repo.storage.blob_url(digest)}")
    return data


def open_blob(repo: Repository, digest: str) -> BinaryIO:
    try:
        return repo.storage.open_blob(digest)
    except FileNotFoundError:
        raise IntegrityError(
            f"blob {repo.storage.blob_url(digest)} is missing from storage"
        ) from None


def download_blob(
    repo: Repository,
    digest: str,
    path: str | Path | None,
    filename: str,
    on_chunk: Callable[[int], Any] | None = None,
) -> Path:
    """Copy verified bytes to ``path``: a file, or a folder (one that exists, or a path ending
    in ``/``, created) that gets ``filename``; default the current folder."""
    target = Path(path).expanduser() if path is not None else Path.cwd()
    if target.is_dir() or (path is not None and str(path).endswith(("/", "\\"))):
        target = target / safe_filename(filename, digest[:16])
    try:
        return repo.storage.download_blob(digest, target, on_chunk)
    except FileNotFoundError:
        raise IntegrityError(
            f"blob {repo.storage.blob_url(digest)} is missing from storage"
        ) from None


def download_name(v: ArtifactVersion) -> str:
    """The file name a download of ``v`` gets: its file name with ``-vN`` before the suffix."""
    stem, dot, suffix = v.filename.rpartition(".")
    return f"{stem}-v{v.version}.{suffix}" if dot else f"{v.filename}-v{v.version}"
