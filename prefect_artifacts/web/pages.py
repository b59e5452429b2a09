"""The HTML pages: projects, the artifact list with its search form, a version's detail page,
the diff of two versions, and (with ``--allow-writes``) the tag and delete forms."""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..core.diff import diff_versions
from ..core.errors import ArtifactNotFoundError, InvalidArgumentError
from ..core.filters import ArtifactFilter
from ..core.keys import validate_key, validate_project, validate_tag
from ..core.models import ArtifactVersion
from ..core.repository.reader import download_name
from .serve import form, text_preview
from .views import PAGE_SIZE, error_response, find_version, repo_of, require_writes, search

router = APIRouter(include_in_schema=False)
IMAGE_FORMATS = {"png", "jpeg", "gif", "webp", "svg"}
TABS = {"all": None, "datasets": "dataset", "models": "model", "plots": "plot", "other": "other"}
SPANS = ("1h", "24h", "7d", "30d")


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("allow_writes", request.app.state.allow_writes)
    return request.app.state.templates.TemplateResponse(
        request, template, context, status_code=status
    )


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/projects", status_code=303)


@router.get("/projects")
def projects_page(request: Request) -> HTMLResponse:
    return render(request, "projects.html", projects=repo_of(request).projects())


@router.get("/projects/{project}/artifacts")
def artifacts_page(request: Request, project: str) -> HTMLResponse:
    """The search form and its results; a bad filter shows its message above the form, which
    keeps the input."""
    params: dict[str, Any] = {}
    for name, value in request.query_params.multi_items():
        if name == "labels":
            params.setdefault("labels", []).append(value)
        elif value:
            params[name] = value
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "offset" and v]
    context: dict[str, Any] = {
        "project": project,
        "params": params,
        "tab": next((t for t, k in TABS.items() if params.get("kind") in (t, k)), "all"),
        "tabs": TABS,
        "spans": SPANS,
        "kept": kept,
        "page_url": lambda offset: "?" + urlencode([*kept, ("offset", offset)]),
        "tab_url": lambda t: (
            "?"
            + urlencode(
                [(k, v) for k, v in kept if k != "kind"] + ([("kind", t)] if t != "all" else [])
            )
        ),
    }
    try:
        filters = ArtifactFilter.of(**params)
        result = search(repo_of(request), validate_project(project), filters)
    except (InvalidArgumentError, ArtifactNotFoundError) as exc:
        status = 404 if isinstance(exc, ArtifactNotFoundError) else 400
        message = str(exc).strip("'\"")
        return render(request, "artifacts.html", status, error=message, result=None, **context)
    return render(request, "artifacts.html", result=result, page_size=PAGE_SIZE, **context)


@router.get("/projects/{project}/artifacts/{key}")
def detail_page(
    request: Request, project: str, key: str, version: int | None = None, tag: str | None = None
) -> HTMLResponse:
    repo = repo_of(request)
    v = find_version(repo, project, key, version, tag)
    return render(
        request,
        "detail.html",
        project=project,
        v=v,
        versions=repo.versions(v.ref),
        revisions=v.revisions(),
        up=repo.lineage(v.ref, direction="up", depth=2),
        down=repo.lineage(v.ref, direction="down", depth=2),
        text=text_preview(repo, v),
        api=_api_base(v),
        download_name=download_name(v),
        image=v.format in IMAGE_FORMATS,
    )


@router.get("/projects/{project}/artifacts/{key}/diff")
def diff_page(request: Request, project: str, key: str, a: int, b: int) -> HTMLResponse:
    repo = repo_of(request)
    old, new = find_version(repo, project, key, a), find_version(repo, project, key, b)
    return render(
        request, "diff.html", project=project, key=key, old=old, new=new, d=diff_versions(old, new)
    )


@router.post("/projects/{project}/artifacts/{key}/versions/{version}/tag")
async def tag_form(request: Request, project: str, key: str, version: int) -> RedirectResponse:
    require_writes(request)
    fields = await form(request)
    v = find_version(repo_of(request), project, key, version)
    repo_of(request).tag(v.ref, fields.get("tag", ""))
    return RedirectResponse(f"{_page_base(v)}?version={version}", status_code=303)


@router.post("/projects/{project}/artifacts/{key}/tags/{tag}/remove")
def untag_form(request: Request, project: str, key: str, tag: str) -> RedirectResponse:
    require_writes(request)
    repo_of(request).untag(validate_key(key), validate_tag(tag), project=validate_project(project))
    return RedirectResponse(f"/projects/{quote(project)}/artifacts/{quote(key)}", status_code=303)


@router.post("/projects/{project}/artifacts/{key}/versions/{version}/delete")
async def delete_form(request: Request, project: str, key: str, version: int) -> RedirectResponse:
    require_writes(request)
    fields = await form(request)
    v = find_version(repo_of(request), project, key, version)
    if fields.get("confirm") != v.key:
        raise InvalidArgumentError(f"type the key {v.key!r} to confirm deleting {v.ref}")
    repo_of(request).delete(v.ref)
    return RedirectResponse(f"/projects/{quote(project)}/artifacts", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = "/projects") -> HTMLResponse:
    return render(request, "login.html", next=local_path(next))


@router.post("/login")
async def login(request: Request) -> Response:
    fields = await form(request)
    token, expected = fields.get("token", ""), request.app.state.token or ""
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return error_response(request, 401, "wrong token")
    response = RedirectResponse(local_path(fields.get("next", "/projects")), status_code=303)
    response.set_cookie("pa_token", token, httponly=True, samesite="strict")
    return response


def _api_base(v: ArtifactVersion) -> str:
    return f"/api/projects/{quote(v.project)}/artifacts/{quote(v.key)}/versions/{v.version}"


def _page_base(v: ArtifactVersion) -> str:
    return f"/projects/{quote(v.project)}/artifacts/{quote(v.key)}"


def local_path(target: str) -> str:
    """Only a path on this site: never ``//elsewhere`` or ``https://elsewhere``."""
    parts = urlsplit(target)
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if local and not parts.scheme and not parts.netloc else "/projects"
