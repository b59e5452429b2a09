"""Keeping a repository healthy: ``verify`` bytes, ``reindex`` the catalog from storage, ``gc``
orphan bytes, and ``prune`` old versions by policy."""

from __future__ import annotations

import functools
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from . import layout
from .catalog import restore
from .errors import ArtifactNotFoundError, IntegrityError, InvalidArgumentError
from .keys import parse_ref
from .repository import Repository, identity
from .storage import Identity, leases, modified_time
from .storage.streams import CHUNK, clean_stale_spools

THREADS = 8  # object stores answer in parallel; local disks do not mind


# -- verify ------------------------------------------------------------------------------------
class Problem(BaseModel):
    ref: str
    what: str  # "missing" | "corrupt" | "missing manifest"
    hash: str | None = None
    target_path: str | None = None
    detail: str = ""


class VerifyReport(BaseModel):
    versions: int
    blobs: int
    bytes: int
    seconds: float
    problems: list[Problem] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(repo: Repository, ref: str | None = None, *, project: str | None = None) -> VerifyReport:
    """Re-hash (always, whatever the ``verify`` setting) the stored bytes of ``ref`` (``key`` = every version of the key, ``key:3`` one
    version) or of every version in ``project`` (``"*"``: all projects) against the catalog;
    report missing or corrupt bytes and missing manifests. Refreshes the verified-state record:
    intact blobs are recorded with their current identity, damaged ones forgotten."""
    started = time.perf_counter()
    repo.drain(full=True)
    if ref is not None:
        parsed = parse_ref(ref, project=project)
        versions = [repo.get(str(parsed))] if parsed.pinned else repo.versions(str(parsed))
        if not versions:
            raise ArtifactNotFoundError(
                f"artifact {parsed.key!r} not found in project {parsed.project or repo.project!r}"
                "; nothing to verify (`prefect-artifacts ls` lists the keys)"
            )
    else:
        versions = repo.list(project=project or "*", all_versions=True)
    users: dict[str, list[tuple[str, str]]] = {}  # hash → [(ref, what)]
    located: dict[str, str] = {}  # bytes registered in place: where they live
    parts = repo.catalog.parts([repo.row_id(v) for v in versions if getattr(v, "part_count", 0)])
    for v in versions:
        users.setdefault(v.hash, []).append((v.ref, "bytes"))
        if getattr(v, "source", None):
            located.setdefault(v.hash, v.target_path)
        for name, extra in v.extra_data.items():
            users.setdefault(extra.hash, []).append((v.ref, f"extra data {name!r}"))
        for part in parts.get(repo.row_id(v), []) if getattr(v, "part_count", 0) else []:
            users.setdefault(part.hash, []).append((v.ref, f"part {part.position}"))

    state = repo.storage.verified

    def check(digest: str) -> tuple[str, str | None, int]:
        """Hash the blob (always) and refresh its verified-state record."""
        sha, size = hashlib.sha256(), 0
        fs, path = repo.storage.fs, repo.storage.blob_path(digest)
        before = repo.storage.identity(digest)
        try:
            if not repo.storage.local:
                fs.invalidate_cache(path)
            if not fs.exists(path):  # bytes registered in place live elsewhere (pin checked)
                fs, path = repo.storage.elsewhere(digest)
                before = None
            with fs.open(path, "rb") as fh:
                if repo.storage.pinned_reads and before is None and fs is repo.storage.fs:
                    before = Identity.of_info(getattr(fh, "details", None) or {})
                while chunk := fh.read(CHUNK):
                    sha.update(chunk)
                    size += len(chunk)
        except FileNotFoundError:
            state.forget(digest)
            return digest, "missing", 0
        except IntegrityError as exc:  # a registered object changed at its source
            return digest, f"changed at source:{exc}", 0
        state.counted_hash()
        if sha.hexdigest() != digest:
            state.mark_bad(digest)
            return digest, f"corrupt:{sha.hexdigest()}", size
        if before is None or (repo.storage.local and before != repo.storage.identity(digest)):
            state.forget(digest)  # changed while it was hashed, or not ours: checked on each load
        else:
            state.remember(digest, before)
        return digest, None, size

    problems: list[Problem] = []
    total = 0
    with ThreadPoolExecutor(THREADS) as pool:
        for digest, issue, size in pool.map(check, sorted(users)):
            total += size
            if issue:
                what, _, actual = issue.partition(":")
                if what != "changed at source":
                    actual = f"sha256 is now {actual}" if actual else ""
                for ref_text, used_as in users[digest]:
                    problems.append(
                        Problem(
                            ref=ref_text,
                            what=what,
                            hash=digest,
                            target_path=located.get(digest) or repo.storage.blob_url(digest),
                            detail=f"{used_as}" + (f": {actual}" if actual else ""),
                        )
                    )
        manifests = pool.map(
            lambda v: (
                v,
                repo.storage.fs.exists(
                    repo.storage.manifest_path(v.project, v.key, v.version, v.uid)
                )
                or repo.storage.fs.exists(
                    repo.storage.path(layout.manifest(v.project, v.key, v.version))
                ),
            ),
            versions,
        )
        problems += [
            Problem(
                ref=v.ref, what="missing manifest", detail="reindex could not rebuild this version"
            )
            for v, ok in manifests
            if not ok
        ]
    return VerifyReport(
        versions=len(versions),
        blobs=len(users),
        bytes=total,
        seconds=time.perf_counter() - started,
        problems=problems,
    )


def _unsealed(repo: Repository, document: Any) -> str | None:
    """Why a manifest or journal entry is not sealed by the repository's key (None: it is)."""
    if not isinstance(document, dict):
        return None  # fold reports what is malformed
    if repo.signer is None:
        return None  # nothing seals without a key
    problem = repo.signer.check_seal(document)
    return None if problem is None else f"record not sealed: {problem}"


def _registered(manifest: dict[str, Any]) -> bool:
    """Bytes registered in place live at their source, not here (reads check their pin)."""
    return isinstance((manifest.get("meta") or {}).get("source"), dict)


# -- gc ---------------------------------------------------------------------------------------------
class GcReport(BaseModel):
    blobs_seen: int
    orphans: list[str] = Field(default_factory=list)
    orphan_bytes: int = 0
    removed: int = 0
    temporary_removed: int = 0
    leases_removed: int = Field(default=0, description="Leases of writers that died (not renewed).")
    uploads_aborted: int = Field(
        default=0,
        description="Incomplete S3 multipart uploads under the repository (killed uploads).",
    )
    spools_removed: int = Field(
        default=0, description="Upload spools killed processes left locally."
    )
    dry_run: bool = False


def gc(
    repo: Repository, *, grace: timedelta = timedelta(hours=1), dry_run: bool = False
) -> GcReport:
    """Remove bytes that no version references and abandoned temporary files, both older than
    ``grace``. Writes in flight are never touched: a multi-part log holds a lease in storage, and
    nothing modified since the oldest live lease began is removed, whatever ``grace`` says
    (``grace=0`` included). Incomplete S3 multipart uploads under the repository (a process
    killed while uploading) older than that are aborted. Each removal re-checks references under the blob's catalog lock, so
    a concurrent log of the same bytes is safe."""
    if grace < timedelta(0):
        raise InvalidArgumentError("grace must not be negative")
    cutoff = datetime.now(UTC) - grace
    repo.drain(full=True)
    listed = list(repo.storage.iter_blobs())  # first: a write that starts later is not in it
    in_flight = leases.read(repo.storage)  # then: every write that made a listed blob shows
    if in_flight.oldest_live is not None:
        cutoff = min(cutoff, in_flight.oldest_live)
    referenced = repo.catalog.referenced_hashes()
    report = GcReport(blobs_seen=0, dry_run=dry_run)
    for digest, mtime in listed:
        report.blobs_seen += 1
        if digest in referenced or (mtime is not None and mtime > cutoff):
            continue
        path = repo.storage.blob_path(digest)
        report.orphans.append(digest)
        report.orphan_bytes += repo.storage.fs.size(path)
        if not dry_run and repo.catalog.release_orphan(
            digest, functools.partial(repo.storage.delete_blob, digest)
        ):
            report.removed += 1
    if not dry_run:
        report.spools_removed = clean_stale_spools(min_age=max(grace.total_seconds(), 60.0))
    tmp = repo.storage.path(layout.TMP)
    if repo.storage.fs.exists(tmp):
        for path, info in repo.storage.fs.find(tmp, detail=True).items():
            modified = modified_time(info)
            if modified is None or modified <= cutoff:
                if not dry_run:
                    repo.storage.delete(path)
                report.temporary_removed += 1
    for key, upload_id, initiated in repo.storage.incomplete_uploads():
        if initiated is not None and initiated > cutoff:
            continue  # maybe still uploading
        if not dry_run:
            repo.storage.abort_upload(key, upload_id)
        report.uploads_aborted += 1
    for path in in_flight.stale:
        if not dry_run:
            repo.storage.delete(path)
        report.leases_removed += 1
    return report


# -- prune --------------------------------------------------------------------------------------------
class PruneReport(BaseModel):
    deleted: dict[str, list[int]] = Field(default_factory=dict)
    kept: int = 0
    dry_run: bool = False


def prune(
    repo: Repository,
    *,
    key: str | None = None,
    keep_last: int | None = None,
    older_than: timedelta | datetime | None = None,
    keep_tagged: bool = True,
    project: str | None = None,
    strategy: str = "data-optional",
    dry_run: bool = False,
) -> PruneReport:
    """Delete old versions by policy, then their unreferenced bytes. A version goes when it is
    beyond the ``keep_last`` newest of its key *and* (if given) older than ``older_than``; tagged
    versions stay unless ``keep_tagged=False``; the latest version of a key always stays."""
    if keep_last is None and older_than is None:
        raise InvalidArgumentError("give keep_last=N, older_than=…, or both")
    if keep_last is not None and (not isinstance(keep_last, int) or keep_last < 1):
        raise InvalidArgumentError(f"keep_last must be at least 1, got {keep_last!r}")
    cutoff = datetime.now(UTC) - older_than if isinstance(older_than, timedelta) else older_than
    report = PruneReport(dry_run=dry_run)
    keys = repo.list(key=key, project=project)
    for latest in keys:
        versions = repo.versions(latest.key, project=latest.project)  # newest first
        for position, version in enumerate(versions):
            old_enough = cutoff is None or version.created_at < _aware(cutoff)
            beyond = keep_last is None or position >= keep_last
            if position == 0 or not (old_enough and beyond) or (keep_tagged and version.tags):
                report.kept += 1
                continue
            if not dry_run:
                repo.delete(version.ref, strategy=strategy)
            report.deleted.setdefault(f"{version.project}/{version.key}", []).append(
                version.version
            )
    return report


# -- reindex -------------------------------------------------------------------------------------------
class ReindexReport(BaseModel):
    manifests: int
    journal_entries: int
    versions_restored: int
    tags_restored: int
    runs_restored: int
    conflicts: int
    metric_batches_restored: int = 0
    seconds: float
    skipped: dict[str, str] = Field(
        default_factory=dict, description="Files not used, with the reason (path → reason)."
    )
    conflicting: dict[str, list[str]] = Field(
        default_factory=dict,
        description="project/key:version → its manifests, when they describe different "
        "versions (two catalogs wrote into this storage): none of them was restored.",
    )
    repository_id: str | None = Field(None, description="The repository's id.")
    adopted_from: str | None = Field(
        None,
        description="Set when this catalog took the storage's id: the id it held before "
        "('' when it held none).",
    )


def reindex(repo: Repository, *, project: str | None = None, adopt: bool = False) -> ReindexReport:
    """Rebuild the catalog from the manifests and journal in storage: versions, labels, tags,
    extra data and lineage. Idempotent and safe on a live store: it only adds what the catalog
    lacks (matched by version uid) and never changes or removes existing entries. Unreadable
    or malformed files, manifests whose bytes are missing and — with a signing key — manifests
    and journal entries not sealed with it (every field signed) are skipped and reported; so are
    manifests that claim one ``key:version`` with different versions (``conflicting``). An empty
    catalog takes the storage's repository id; one holding another id is refused
    (RepositoryMismatchError) unless ``adopt``: then it takes the storage's id, on purpose."""
    started = time.perf_counter()
    adopted_from = _bind_for_reindex(repo, adopt)
    repo.drain(full=True)  # what the catalog committed but storage does not hold yet
    below = f"/{project}" if project else ""
    paths = [p for p in repo.storage.find(layout.MANIFESTS + below) if p.endswith(".json")]
    journal = [p for p in repo.storage.find(layout.JOURNAL + below) if p.endswith(".json")]
    skipped: dict[str, str] = {}

    def read(path: str) -> tuple[str, Any]:
        try:
            return path, repo.storage.read_json(path)
        except (ValueError, UnicodeDecodeError) as exc:
            skipped[path] = f"not valid JSON: {str(exc)[:80]}"
            return path, None

    with ThreadPoolExecutor(THREADS) as pool:
        manifests = {p: d for p, d in pool.map(read, paths) if d is not None}
        entries = {p: d for p, d in pool.map(read, journal) if d is not None}
        usable = [d for d in manifests.values() if restore.check_manifest(d) is None]
        hashes = sorted(
            {d["hash"] for d in usable if not _registered(d)}
            | {p["hash"] for d in usable for p in d.get("parts") or []}
        )
        present = dict(zip(hashes, pool.map(repo.storage.blob_exists, hashes), strict=True))
    for path, document in list(manifests.items()):
        if restore.check_manifest(document) is not None:
            continue  # fold reports it
        lost = [p["hash"] for p in document.get("parts") or [] if not present[p["hash"]]]
        if not _registered(document) and not present[document["hash"]]:
            skipped[path] = f"its bytes {document['hash'][:12]}… are missing from storage"
            del manifests[path]
        elif lost:
            skipped[path] = f"{len(lost)} of its parts ({lost[0][:12]}…) are missing from storage"
            del manifests[path]
        elif repo.signer is not None:
            signature = (document.get("meta") or {}).get("signature")
            problem = repo.signer.verify(document, signature) or _unsealed(repo, document)
            if problem:
                skipped[path] = f"{problem} by this repository's key ({repo.signer.key_id})"
                del manifests[path]
    signer = repo.signer
    for path, document in list(entries.items()) if signer is not None else []:
        problem = _unsealed(repo, document)
        if problem and signer is not None:
            skipped[path] = f"{problem} by this repository's key ({signer.key_id})"
            del entries[path]
    folded = restore.fold(manifests, entries)
    skipped.update(folded.skipped)
    counts = repo.catalog.restore(folded.keys)
    batches = [p for p in repo.storage.find(layout.METRICS + below) if p.endswith(".json")]
    with ThreadPoolExecutor(THREADS) as pool:
        documents = [d for _, d in pool.map(read, batches) if _metric_batch(d)]
    metric_batches = repo.catalog.restore_metrics(documents) if documents else 0
    return ReindexReport(
        conflicting=folded.conflicting,
        repository_id=repo.known_repository_id(),
        adopted_from=adopted_from,
        manifests=len(paths),
        journal_entries=len(journal),
        versions_restored=counts["versions"],
        tags_restored=counts["tags"],
        runs_restored=counts["runs"],
        conflicts=counts["conflicts"],
        metric_batches_restored=metric_batches,
        seconds=time.perf_counter() - started,
        skipped=dict(sorted(skipped.items())),
    )


def _bind_for_reindex(repo: Repository, adopt: bool) -> str | None:
    """Make sure rebuilding this catalog from this storage is right: the same repository, an
    empty catalog (it takes the storage's id), or ``adopt``. Returns the id the catalog held
    before it adopted the storage's ('' for none), or None when nothing was adopted."""
    binding = identity.check(repo)
    if binding.state == "bound":
        return None
    if binding.state == "new":  # no repository document yet: this catalog's id goes there
        repo.check_binding()
        return None
    if not adopt and (binding.catalog_id is not None or binding.catalog_has_keys):
        raise identity.mismatch_error(repo, binding)
    _, before = identity.adopt(repo)
    repo._forget_binding()
    repo.check_binding()
    return before or ""


def _metric_batch(document: Any) -> bool:
    """Whether a ``metrics/`` record is a usable batch of points and results."""
    return (
        isinstance(document, dict)
        and all(isinstance(document.get(f), str) for f in ("project", "run_id", "batch", "at"))
        and isinstance(document.get("points"), list)
        and isinstance(document.get("results"), dict)
        and all(isinstance(p, list) and len(p) == 4 for p in document["points"])
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.astimezone(UTC)
