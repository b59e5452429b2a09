"""The JSON API under ``/api``: the same read and write paths as Python and the CLI, with
typed responses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..core.compare import Comparison, compare
from ..core.diff import VersionDiff, diff_versions
from ..core.errors import ArtifactNotFoundError, InvalidArgumentError
from ..core.filters import ArtifactFilter
from ..core.keys import validate_key, validate_name, validate_project, validate_tag
from ..core.lineage import Lineage
from ..core.mlrun import mlrun_stats
from ..core.models import Revision
from ..core.repository import assemble, partsread
from ..core.repository.reader import download_name, download_type
from ..core.tracking import run_metrics
from .auth import audit, require
from .schemas import (
    AnyVersion,
    AuditItem,
    AuditPage,
    Deleted,
    Description,
    Page,
    Project,
    TagRemoved,
)
from .serve import stream_blob
from .views import extra_type, find_version, repo_of, search, visible_projects

router = APIRouter(tags=["artifacts"])
VERSION = "/projects/{project}/artifacts/{key}/versions/{version}"


@router.get("/projects", summary="Projects with their number of keys and last update")
def projects(request: Request) -> list[Project]:
    return [Project(**vars(p)) for p in visible_projects(request)]


@router.get(
    "/projects/{project}/artifacts",
    summary="Search artifacts",
    response_model_exclude={"items": {"__all__": {"preview", "stats"}}},
)
def artifacts(request: Request, project: str, filters: Annotated[ArtifactFilter, Query()]) -> Page:
    return search(repo_of(request), project, filters)


@router.get("/projects/{project}/artifacts/{key}", summary="One version (latest by default)")
def artifact(
    request: Request, project: str, key: str, version: int | None = None, tag: str | None = None
) -> AnyVersion:
    return find_version(repo_of(request), project, key, version, tag)


@router.get(
    "/projects/{project}/artifacts/{key}/versions",
    summary="Versions, newest first, one page at a time (Link: rel=next)",
)
def versions(
    request: Request,
    response: Response,
    project: str,
    key: str,
    limit: int = Query(100, ge=1, le=1000, description="Versions per page"),
    offset: int = Query(0, ge=0, description="Versions to skip"),
) -> list[AnyVersion]:
    """A page of versions; the ``Link`` header names the next and previous pages and
    ``X-Total-Count`` the number of versions."""
    repo = repo_of(request)
    f = ArtifactFilter.of(
        project=validate_project(project), key=validate_key(key), all_versions=True, sort="-version"
    )
    total = repo.count(f)
    if not total:
        raise ArtifactNotFoundError(f"artifact {key!r} not found in project {project!r}")
    found = repo.list(ArtifactFilter.of(f, limit=limit, offset=offset))
    links = []
    if offset + limit < total:
        links.append((offset + limit, "next"))
    if offset > 0:
        links.append((max(offset - limit, 0), "prev"))
    url = request.url.remove_query_params(["offset", "limit"])
    response.headers["X-Total-Count"] = str(total)
    if links:
        response.headers["Link"] = ", ".join(
            f'<{url.include_query_params(limit=limit, offset=at)}>; rel="{rel}"'
            for at, rel in links
        )
    return found


@router.get(VERSION, summary="One version")
def one_version(request: Request, project: str, key: str, version: int) -> AnyVersion:
    return find_version(repo_of(request), project, key, version)


def _serve(request: Request, project: str, key: str, version: int, inline: bool) -> Response:
    repo = repo_of(request)
    v = find_version(repo, project, key, version)
    name = download_name(v)
    if partsread.is_parts(v):  # one Parquet file, assembled once and cached, then served
        path, digest = assemble.cached_file(repo, v)
        kind = download_type(name)
        size = path.stat().st_size
        return stream_blob(request, repo, digest, size, kind, name, inline, local=path)
    return stream_blob(
        request, repo, v.hash, v.size, download_type(name, v.content_type), name, inline
    )


@router.get(
    f"{VERSION}/stats", summary="A dataset's statistics (stats_format=mlrun: MLRun's shape)"
)
def stats(
    request: Request, project: str, key: str, version: int, stats_format: str = "native"
) -> dict[str, Any]:
    v = find_version(repo_of(request), project, key, version)
    if stats_format == "mlrun":
        return mlrun_stats(v)
    if stats_format != "native":
        raise InvalidArgumentError("stats_format is 'native' or 'mlrun'")
    return {"stats": getattr(v, "stats", None), "preview": getattr(v, "preview", None)}


@router.get("/projects/{project}/runs/{run_id}/metrics", summary="A run's step metrics and results")
def run_points(request: Request, project: str, run_id: str) -> dict[str, Any]:
    frame = run_metrics(repo_of(request), run_id)
    return {
        "run_id": run_id,
        "points": [
            {"key": k, "step": int(s), "value": float(v), "timestamp": t.isoformat()}
            for k, s, v, t in frame.itertuples(index=False)
        ],
        "results": repo_of(request).catalog.run_results(run_id),
    }


@router.get(f"{VERSION}/revisions", summary="Metadata revisions of a version, oldest first")
def revisions(request: Request, project: str, key: str, version: int) -> list[Revision]:
    return find_version(repo_of(request), project, key, version).revisions()


@router.get(f"{VERSION}/content", summary="The bytes, inline (images, HTML plots, text)")
def content(request: Request, project: str, key: str, version: int) -> Response:
    return _serve(request, project, key, version, inline=True)


@router.get(f"{VERSION}/download", summary="The bytes as a file download")
def download(request: Request, project: str, key: str, version: int) -> Response:
    return _serve(request, project, key, version, inline=False)


@router.get(f"{VERSION}/extra/{{name}}", summary="An extra-data item (inline with ?inline=true)")
def extra(
    request: Request, project: str, key: str, version: int, name: str, inline: bool = False
) -> Response:
    v = find_version(repo_of(request), project, key, version)
    item = v.extra_data.get(validate_name(name, "extra_data name"))
    if item is None:
        raise ArtifactNotFoundError(
            f"{v.ref} has no extra data {name!r}; it has {', '.join(v.extra_data) or 'none'}"
        )
    kind = extra_type(repo_of(request), item)
    filename = download_name(v, item.name, kind)
    return stream_blob(request, repo_of(request), item.hash, item.size, kind, filename, inline)


@router.get("/projects/{project}/artifacts/{key}/lineage", summary="Upstream or downstream graph")
def lineage(
    request: Request,
    project: str,
    key: str,
    version: int | None = None,
    direction: str = "up",
    depth: int = Query(2, ge=0, le=10),
) -> Lineage:
    v = find_version(repo_of(request), project, key, version)
    return repo_of(request).lineage(v.ref, direction=direction, depth=depth)


@router.get("/projects/{project}/artifacts/{key}/diff", summary="What changed between versions")
def diff(request: Request, project: str, key: str, a: int, b: int) -> VersionDiff:
    repo = repo_of(request)
    return diff_versions(find_version(repo, project, key, a), find_version(repo, project, key, b))


@router.get("/projects/{project}/compare", summary="Versions side by side: metrics, parameters")
def compare_versions(
    request: Request,
    project: str,
    ref: Annotated[list[str], Query(description="key:1, key@prod, key or a glob; repeat it")],
    metric: Annotated[list[str] | None, Query(description="Metric columns (default: all)")] = None,
    parameter: Annotated[list[str] | None, Query(description="Parameter columns")] = None,
    all_versions: bool = False,
    run: Annotated[str | None, Query(description="Only what this flow run logged")] = None,
) -> Comparison:
    return compare(
        repo_of(request),
        ref,
        metrics=metric,
        parameters=parameter,
        all_versions=all_versions,
        project=validate_project(project),
        run=run,
    )


@router.put(f"{VERSION}/tags/{{tag}}", summary="Point a tag at a version (writer role)")
def put_tag(request: Request, project: str, key: str, version: int, tag: str) -> AnyVersion:
    require(request, validate_project(project), "tag")
    v = find_version(repo_of(request), project, key, version)
    tagged = repo_of(request).tag(v.ref, tag)
    audit(request, "tag", v.project, v.key, v.version, tag=tag)
    return tagged


@router.put(f"{VERSION}/labels", summary="Replace a version's labels (writer role)")
def put_labels(
    request: Request, project: str, key: str, version: int, labels: dict[str, str]
) -> AnyVersion:
    require(request, validate_project(project), "labels")
    v = find_version(repo_of(request), project, key, version)
    changed = repo_of(request).set_labels(v.ref, labels, replace=True)
    audit(request, "labels", v.project, v.key, v.version, labels=labels)
    return changed


@router.put(f"{VERSION}/description", summary="Set a version's description (writer role)")
def put_description(
    request: Request, project: str, key: str, version: int, description: Description
) -> AnyVersion:
    require(request, validate_project(project), "description")
    v = find_version(repo_of(request), project, key, version)
    changed = repo_of(request).set_description(v.ref, description.description)
    audit(request, "description", v.project, v.key, v.version, description=description.description)
    return changed


@router.get("/projects/{project}/audit", summary="Writes through the UI and API, newest first")
def audit_trail(
    request: Request,
    project: str,
    key: str | None = None,
    version: int | None = None,
    before: Annotated[
        int | None, Query(description="The `next` cursor of the previous page")
    ] = None,
    limit: int = Query(100, ge=1, le=1000),
) -> AuditPage:
    found = repo_of(request).catalog.audit(
        validate_project(project),
        validate_key(key) if key else None,
        version,
        limit=limit + 1,
        before=before,
    )
    more = len(found) > limit
    found = found[:limit]
    return AuditPage(
        items=[AuditItem(**vars(entry)) for _, entry in found],
        next=found[-1][0] if more else None,
    )


@router.delete(
    "/projects/{project}/artifacts/{key}/tags/{tag}", summary="Remove a tag (writer role)"
)
def delete_tag(request: Request, project: str, key: str, tag: str) -> TagRemoved:
    require(request, validate_project(project), "untag")
    number = repo_of(request).untag(
        validate_key(key), validate_tag(tag), project=validate_project(project)
    )
    audit(request, "untag", project, key, number, tag=tag)
    return TagRemoved(tag=tag, was_on_version=number)


@router.delete(VERSION, summary="Delete a version (admin role)")
def delete_version(request: Request, project: str, key: str, version: int) -> Deleted:
    require(request, validate_project(project), "delete")
    v = find_version(repo_of(request), project, key, version)
    deleted = repo_of(request).delete(v.ref)
    audit(request, "delete", v.project, v.key, v.version)
    return Deleted(deleted=deleted)


@router.delete(
    "/projects/{project}/artifacts/{key}", summary="Delete every version of a key (admin role)"
)
def delete_key(request: Request, project: str, key: str) -> Deleted:
    require(request, validate_project(project), "delete-key")
    deleted = repo_of(request).delete(validate_key(key), project=validate_project(project))
    audit(request, "delete-key", project, key, None, versions=deleted)
    return Deleted(deleted=deleted)
