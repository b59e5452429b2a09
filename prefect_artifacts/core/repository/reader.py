"""The read path: find versions, search them with the shared filter, load and stream bytes —
verified against their sha256 before a value is returned (once per blob by default: the
verified-state record remembers a verification until the file changes)."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path, PurePosixPath
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
from .blobread import missing, read_verified

if TYPE_CHECKING:
    from .protocol import Repo

SELECTED_TAG = "best"  # the tag select_best moves to a sweep's winner (see ..sweeps)


def version(repo: Repo, record: VersionRecord) -> ArtifactVersion:
    """A catalog record as the kind-specific ArtifactVersion, bound to ``repo``."""
    fields: dict[str, Any] = {
        name: getattr(record, name)
        for name in record.__dataclass_fields__
        if name not in ("meta", "details", "extras")
    }
    fields.update(record.meta or {})
    fields.update(record.details or {})
    source = (record.meta or {}).get("source")
    fields["target_path"] = (
        source["url"] if isinstance(source, dict) else repo.storage.blob_url(record.hash)
    )
    fields["uri"] = f"artifact://{record.project}/{record.key}:{record.version}"
    fields["repository_id"] = repo.known_repository_id()
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
    repo: Repo,
    ref: str,
    *,
    version_number: int | None = None,
    tag: str | None = None,
    project: str | None = None,
) -> ArtifactVersion:
    parsed = parse_ref(ref, version=version_number, tag=tag, project=project)
    if parsed.tree is not None:
        record = _of_tree(repo, parsed)
    elif parsed.iteration is not None and parsed.version is None and parsed.tag is None:
        record = _of_iteration(repo, parsed)
    else:
        record = repo.catalog.find(
            parsed.project or repo.project, parsed.key, version=parsed.version, tag=parsed.tag
        )
        found = (record.meta or {}).get("iteration") if record is not None else None
        if (
            record is not None
            and parsed.iteration is not None
            and found != parsed.iteration
            and not (parsed.iteration == 0 and found is None)  # MLRun: a plain run is iter 0
        ):
            raise ArtifactNotFoundError(
                f"{record.key}:{record.version} is iteration "
                f"{(record.meta or {}).get('iteration')}, not {parsed.iteration} ({ref!r})"
            )
    if record is None:
        raise ArtifactNotFoundError(not_found(repo, parsed))
    return version(repo, record)


def _of_tree(repo: Repo, ref: Ref) -> VersionRecord | None:
    """MLRun's ``key#iter@tree``: the version (by number or tag, else the newest) that the run
    ``tree`` produced (or whose uid is ``tree``), of that iteration (``#0``: any iteration of
    a run without a sweep, or the sweep's selected best)."""
    project = ref.project or repo.project
    for record in repo.catalog.versions_of(project, ref.key):  # newest first
        if ref.version is not None and record.version != ref.version:
            continue
        if ref.tag is not None and ref.tag not in record.tags:
            continue
        if ref.tree not in (record.flow_run_id, record.task_run_id, record.uid):
            continue
        iteration = (record.meta or {}).get("iteration")
        if ref.iteration not in (None, iteration) and not (
            ref.iteration == 0 and (iteration is None or "best" in record.tags)
        ):
            continue
        return repo.catalog.find(project, ref.key, version=record.version)
    return None


def _of_iteration(repo: Repo, ref: Ref) -> VersionRecord | None:
    """The newest version of a key that is iteration ``ref.iteration``; MLRun's ``#0`` is the
    key itself when its latest is no sweep's candidate or a sweep's selected best."""
    project = ref.project or repo.project
    if ref.iteration == 0:
        head = repo.catalog.find(project, ref.key)
        if head is not None and (
            (head.meta or {}).get("iteration") in (None, 0) or SELECTED_TAG in head.tags
        ):
            return head
    for record in repo.catalog.versions_of(project, ref.key):  # newest first
        if (record.meta or {}).get("iteration") == ref.iteration:
            return repo.catalog.find(project, ref.key, version=record.version)
    return None


def not_found(repo: Repo, ref: Ref) -> str:
    """Why ``ref`` names nothing: no such key, or the versions and tags the key does have."""
    project = ref.project or repo.project
    versions = repo.catalog.versions_of(project, ref.key)
    if not versions:
        return (
            f"artifact {ref.key!r} not found in project {project!r}; "
            "`prefect-artifacts ls` lists the keys"
        )
    what = (
        f"version produced by run {ref.tree}"
        if ref.tree is not None
        else f"version {ref.version}"
        if ref.version is not None
        else f"tag {ref.tag!r}"
        if ref.tag is not None
        else f"iteration {ref.iteration}"
    )
    tags = sorted({f"{t} (v{v.version})" for v in versions for t in v.tags})
    return (
        f"artifact {ref.key!r} has no {what} in project {project!r} (latest is version "
        f"{versions[0].version}; tags: {', '.join(tags) or 'none'})"
    )


def resolve(repo: Repo, f: ArtifactFilter) -> ArtifactFilter:
    """The filter with its project decided: the repository's by default; an unknown project
    (other than the repository's own) is an error, not an empty result."""
    project = f.project or repo.project
    if project not in ("*", repo.project) and not repo.catalog.project_exists(project):
        known = ", ".join(p.project for p in repo.catalog.projects()) or "none yet"
        raise ArtifactNotFoundError(
            f"project {project!r} not found; projects: {known} ('*' searches all of them)"
        )
    return f if f.project == project else f.model_copy(update={"project": project})


def search(repo: Repo, f: ArtifactFilter) -> list[ArtifactVersion]:
    records = repo.catalog.search(resolve(repo, f), blob_prefix=blob_prefix(repo))
    return [version(repo, r) for r in records]


def blob_prefix(repo: Repo) -> str:
    """What every content path (``target_path`` of bytes we stored) starts with."""
    digest = "0" * 64
    return repo.storage.blob_url(digest).removesuffix(f"{digest[:2]}/{digest[2:]}")


def count(repo: Repo, f: ArtifactFilter, *, at_most: int | None = None) -> int:
    """How many versions ``f`` selects, counting no further than ``at_most``."""
    return repo.catalog.count(resolve(repo, f), at_most=at_most)


def versions(repo: Repo, ref: str, project: str | None) -> list[ArtifactVersion]:
    parsed = parse_ref(ref, project=project)
    records = repo.catalog.versions_of(parsed.project or repo.project, parsed.key)
    return [version(repo, r) for r in records]


def metric_history(repo: Repo, ref: str, project: str | None) -> list[tuple[int, dict[str, Any]]]:
    parsed = parse_ref(ref, project=project)
    return repo.catalog.metric_history(parsed.project or repo.project, parsed.key)


def load(
    repo: Repo,
    v: ArtifactVersion,
    *,
    as_pandas: bool = False,
    trusted: bool | None = None,
    verify: bool | None = None,
) -> Any:
    """Read, verify and deserialize a version; the caller records the consumer.

    ``verify=True`` hashes the bytes now (and refreshes the verified-state record); by default
    the ``verify`` setting decides: ``once`` skips the hash of a blob recorded as verified with
    the identity its file has now, ``never`` skips it for anything that runs no stored code."""
    mode = "always" if verify else repo.settings.verify
    if partsread.is_parts(v):  # a multi-part dataset: each part verified as one blob below
        return partsread.load_all(repo, v, as_type="pandas" if as_pandas else None, mode=mode)
    materializer = registry.by_name(v.materializer)
    if materializer is None:
        raise UnsupportedTypeError(
            f"{v} was stored by the materializer {v.materializer!r}, which is not registered in "
            "this process; import the module that registers it (or install its package), or "
            "use .open()/.download() for the raw bytes"
        )
    runs_code = materializer.runs_code(v)
    if runs_code:
        check_trust(repo, v, trusted)
    if mode == "never" and (runs_code or materializer.decides_trust):
        mode = "once"  # never unpickle (or otherwise run) unverified bytes
    options: dict[str, Any] = {"as_pandas": True} if as_pandas else {}
    if materializer.decides_trust:
        options["trusted"] = bool(trusted)
    from_file = None
    if hasattr(materializer, "load_file"):
        from_file = lambda path: materializer.load_file(path, v, **options)  # noqa: E731
    return read_verified(
        repo,
        v.hash,
        v.ref,
        size=v.size,
        mode=mode,
        parse=lambda data: materializer.load(data, v, **options),
        parse_file=from_file,
        trusted_file=from_file is not None and not materializer.decides_trust,
        parse_first=materializer.parse_before_verify,
        location=v.target_path,
    )


def check_trust(repo: Repo, v: ArtifactVersion, trusted: bool | None) -> None:
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


def raw(repo: Repo, digest: str, what: str) -> bytes:
    """The stored bytes, not yet verified."""
    try:
        return repo.storage.read_blob(digest, verify=False)
    except FileNotFoundError:
        raise missing(what, repo.storage.blob_url(digest)) from None


def read_blob(repo: Repo, digest: str) -> bytes:
    data = raw(repo, digest, f"blob {digest[:12]}")
    check_hash(data, digest, f"blob {repo.storage.blob_url(digest)}")
    return data


def open_blob(repo: Repo, digest: str) -> BinaryIO:
    try:
        return repo.storage.open_blob(digest)
    except FileNotFoundError:
        raise IntegrityError(
            f"blob {repo.storage.blob_url(digest)} is missing from storage"
        ) from None


def open_blob_at(repo: Repo, digest: str, offset: int) -> BinaryIO:
    """The bytes from ``offset`` on, for a byte-range request. A part of a blob cannot be
    checked against its sha256, so the whole blob is verified first unless the verified-state
    record vouches for the file exactly as it is now (a corrupt blob raises IntegrityError)."""
    storage = repo.storage
    try:
        identity = _identity_now(repo, digest)
        if not storage.verified.trusted(digest, identity):
            with storage.verified_file(digest, "a blob before serving a byte range"):
                pass  # hashed whole; raises IntegrityError when the bytes are not the logged ones
            if identity is not None and identity == _identity_now(repo, digest):
                storage.verified.remember(digest, identity)
        return storage.open_blob_at(digest, offset)
    except FileNotFoundError:
        raise IntegrityError(
            f"blob {repo.storage.blob_url(digest)} is missing from storage"
        ) from None


def _identity_now(repo: Repo, digest: str) -> Any:
    """The stored file's identity now: a local file's, an object's ETag where reads are
    pinned; None when the storage cannot tell."""
    storage = repo.storage
    if storage.local:
        return storage.identity(digest)
    if not storage.pinned_reads:
        return None
    from ..storage import Identity

    path = storage.blob_path(digest)
    storage.fs.invalidate_cache(path)
    try:
        return Identity.of_info(storage.fs.info(path))
    except FileNotFoundError:
        return None


def download_blob(
    repo: Repo,
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


def download_name(
    v: ArtifactVersion, extra: str | None = None, content_type: str | None = None
) -> str:
    """The file name a download of ``v`` gets: ``key-vN.ext`` (the suffix of its stored file,
    not repeated when the key already ends with it; a multi-part dataset: ``.parquet``, the one
    file its download assembles); an extra-data item ``key-vN-name.ext``
    (without a file name, the suffix of its ``content_type``)."""
    if extra is None and partsread.is_parts(v):
        return f"{v.key.removesuffix('.parquet')}-v{v.version}.parquet"  # one Parquet file
    filename = v.filename if extra is None else (v.extra_data[extra].filename or extra)
    suffix = PurePosixPath(safe_filename(filename, "x")).suffix
    suffix = suffix if 1 < len(suffix) <= 12 else ""
    if not suffix and content_type and content_type != "application/octet-stream":
        suffix = mimetypes.guess_extension(content_type) or ""
    stem = v.key if extra is None else extra
    if suffix and stem.lower().endswith(suffix.lower()) and len(stem) > len(suffix):
        stem = stem[: -len(suffix)]
    if extra is None:
        return f"{stem}-v{v.version}{suffix}"
    return f"{v.key}-v{v.version}-{stem}{suffix}"


def download_type(filename: str, stored: str | None = None) -> str:
    """The content type of a download: the stored one, else guessed from the file name."""
    if stored and stored != "application/octet-stream":
        return stored
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
