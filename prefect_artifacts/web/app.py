"""The browser UI and its JSON API (FastAPI + server-rendered Jinja2 templates).

Pages and API share the same view functions; downloads and content are served by the API
routes, which only ever stream bytes that a catalog version (or its extra data) references.
"""

from __future__ import annotations

import hmac
import logging
import math
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from .. import __version__
from ..cards import size_text, sparkline
from ..diff import diff_versions
from ..errors import (
    ArtifactError,
    ArtifactNotFoundError,
    CatalogError,
    IntegrityError,
    InvalidArgumentError,
    StorageError,
)
from ..keys import safe_filename, validate_key, validate_name, validate_project, validate_tag
from ..models import ArtifactVersion
from ..repository import Repository
from .filters import SHOWN_PRESETS, TABS, build_query

HERE = Path(__file__).parent
logger = logging.getLogger("prefect_artifacts.web")
MAX_QUERY = 4096
TEXT_PREVIEW_BYTES = 100_000
TEXT_FORMATS = {"txt", "md", "csv", "tsv", "json", "yaml", "yml", "xml", "log", "py", "sql"}
IMAGE_FORMATS = {"png", "jpeg", "gif", "webp", "svg"}
INLINE_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/svg+xml",
    "text/html",
    "text/plain",
    "application/json",
    "text/csv",
    "application/pdf",
}
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


def create_app(
    repository: Repository | None = None,
    *,
    allow_writes: bool = False,
    token: str | None = None,
    allowed_hosts: list[str] | None = None,
) -> FastAPI:
    """The UI for ``repository`` (default: the configured one). Read-only unless
    ``allow_writes``; with ``token``, every request needs ``Authorization: Bearer <token>``
    (browsers: sign in once at /login, which sets a cookie). ``allowed_hosts`` limits the
    Host header (against DNS rebinding); ``prefect-artifacts ui`` sets it for loopback."""
    if repository is None:
        from ..api import get_repository

        repository = get_repository()
    app = FastAPI(
        title="prefect-artifacts",
        version=__version__,
        docs_url="/docs",
        description="Search, inspect and download versioned artifacts.",
    )
    app.state.repo = repository
    app.state.allow_writes = allow_writes
    app.state.token = token
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(size=size_text, when=_when, spark=sparkline, ago=_ago)
    templates.env.globals.update(tabs=TABS, presets=SHOWN_PRESETS, quote=quote)
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    _install_middleware(app)
    if allowed_hosts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    _install_errors(app)
    app.include_router(_api_router(), prefix="/api")
    app.include_router(_page_router())
    return app


# -- shared view functions ---------------------------------------------------------------------
def search_params(
    q: str | None = Query(None, description="key substring or glob (*, ?, [ab])"),
    kind: str | None = Query(None, description="dataset, model, plot or other (a tab)"),
    label: list[str] = Query([], description="k=v (value must match) or k (exists); repeatable"),
    since: str | None = Query(None, description="ISO date/datetime (UTC) or a span: 24h, 7d"),
    until: str | None = Query(None, description="ISO date/datetime (UTC) or a span"),
    preset: str | None = Query(None, description="1h, 24h, 7d or 30d"),
    tag: str | None = None,
    producer: str | None = Query(None, description="producer flow name or run id"),
    all_versions: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    """The search filters, as the pages and the API both take them."""
    return dict(
        q=q,
        kind=kind,
        labels=label,
        since=since,
        until=until,
        preset=preset,
        tag=tag,
        producer=producer,
        all_versions=all_versions,
        page=page,
        per_page=per_page,
    )


def repo_of(request: Request) -> Repository:
    return request.app.state.repo


def search(repo: Repository, project: str, params: dict[str, Any]) -> dict[str, Any]:
    query = build_query(repo, project=project, **params)
    total = repo.catalog.count(query)
    items = [repo._version(r) for r in repo.catalog.list(query)]
    per_page = params.get("per_page", 50)
    return {
        "items": items,
        "total": total,
        "page": params.get("page", 1),
        "per_page": per_page,
        "pages": max(1, math.ceil(total / per_page)),
    }


def find_version(
    repo: Repository, project: str, key: str, version: int | None = None, tag: str | None = None
) -> ArtifactVersion:
    project, key = validate_project(project), validate_key(key)
    if version is not None and version < 1:
        raise InvalidArgumentError(f"version must be a positive integer, got {version}")
    return repo.get(key, version=version, tag=validate_tag(tag) if tag else None, project=project)


def summary(version: ArtifactVersion) -> dict[str, Any]:
    """A list row: everything but previews and statistics."""
    return version.model_dump(mode="json", exclude={"preview", "stats", "schema", "fingerprint"})


def download_name(version: ArtifactVersion) -> str:
    stem, dot, suffix = version.filename.rpartition(".")
    return (
        f"{stem}-v{version.version}.{suffix}" if dot else f"{version.filename}-v{version.version}"
    )


def stream_blob(
    repo: Repository, digest: str, size: int, media_type: str, filename: str, inline: bool
) -> StreamingResponse:
    """Stream a blob from storage in 1 MiB chunks, never whole into memory; the sha256 is
    checked as it streams and a mismatch cuts the response short of its Content-Length."""
    handle = repo.open_blob(digest, size)

    def chunks() -> Iterator[bytes]:
        with handle:
            try:
                while chunk := handle.read(1 << 20):
                    yield chunk
            except IntegrityError as exc:  # headers are gone: end short of Content-Length
                logger.error("stopped serving %s: %s", filename, exc)

    inline = inline and media_type in INLINE_TYPES  # anything else only as a download
    filename = safe_filename(filename, "download")
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": f"{'inline' if inline else 'attachment'}; "
        f"filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
        # stored content never runs as this origin; HTML plots may run their own scripts
        "Content-Security-Policy": "sandbox allow-scripts"
        if media_type == "text/html"
        else "sandbox",
    }
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)


def text_preview(repo: Repository, version: ArtifactVersion) -> str | None:
    if version.format not in TEXT_FORMATS or version.size > TEXT_PREVIEW_BYTES:
        return None
    try:
        return repo.read_blob(version.hash).decode("utf-8", errors="replace")
    except ArtifactError:
        return None


# -- middleware and errors -----------------------------------------------------------------------
def _install_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        if len(request.url.query) > MAX_QUERY:
            return _error(
                request,
                414,
                f"the query string is longer than {MAX_QUERY} characters; narrow the search",
            )
        token = request.app.state.token
        path = request.url.path
        if token and not path.startswith(("/login", "/static")):
            given = request.headers.get("authorization", "")
            given = (
                given[7:]
                if given.lower().startswith("bearer ")
                else request.cookies.get("pa_token", "")
            )
            if not hmac.compare_digest(given.encode(), token.encode()):
                if path.startswith("/api") or path in ("/docs", "/openapi.json"):
                    return JSONResponse(
                        {
                            "detail": "missing or wrong bearer token: send "
                            "'Authorization: Bearer <token>'"
                        },
                        status_code=401,
                    )
                return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin(request):
            return _error(
                request,
                403,
                "cross-site request refused: writes must come from this UI's own pages",
            )
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response


def _same_origin(request: Request) -> bool:
    """A browser sends Origin (or Referer) with a form post; it must name this site.
    Scripts and the CLI send neither and are let through (the token guards them)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return True
    return urlsplit(source).netloc == request.headers.get("host", "")


def _install_errors(app: FastAPI) -> None:
    statuses = [
        (ArtifactNotFoundError, 404),
        (InvalidArgumentError, 400),
        (IntegrityError, 500),
        (CatalogError, 503),
        (StorageError, 503),
        (ValueError, 400),
    ]
    for exc_type, status in statuses:
        app.add_exception_handler(exc_type, _handler(status))

    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
            for e in exc.errors()
        )
        return _error(request, 400, f"invalid request: {problems}")

    app.add_exception_handler(RequestValidationError, invalid)

    async def forbidden(request: Request, exc: PermissionError) -> Response:
        return _permission(request, exc)

    app.add_exception_handler(PermissionError, forbidden)


def _handler(status: int) -> Any:
    async def handle(request: Request, exc: Exception) -> Response:
        return _error(request, status, str(exc))

    return handle


def _error(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api") or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"detail": message}, status_code=status)
    return request.app.state.templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


def _require_writes(request: Request) -> None:
    if not request.app.state.allow_writes:
        raise PermissionError


# -- JSON API -------------------------------------------------------------------------------------
def _api_router() -> APIRouter:
    api = APIRouter(tags=["artifacts"])

    @api.get("/projects", summary="Projects with their number of keys and last update")
    def projects(request: Request) -> list[dict[str, Any]]:
        return [
            {**p, "updated_at": p["updated_at"].isoformat()}
            for p in repo_of(request).catalog.projects()
        ]

    @api.get("/projects/{project}/artifacts", summary="Search artifacts")
    def artifacts(
        request: Request, project: str, params: dict[str, Any] = Depends(search_params)
    ) -> dict[str, Any]:
        result = search(repo_of(request), project, params)
        return {**result, "items": [summary(v) for v in result["items"]]}

    @api.get("/projects/{project}/artifacts/{key}", summary="One version (latest by default)")
    def artifact(
        request: Request, project: str, key: str, version: int | None = None, tag: str | None = None
    ) -> dict[str, Any]:
        return find_version(repo_of(request), project, key, version, tag).model_dump(
            mode="json", exclude={"fingerprint"}
        )

    @api.get("/projects/{project}/artifacts/{key}/versions", summary="Every version, newest first")
    def versions(request: Request, project: str, key: str) -> list[dict[str, Any]]:
        repo = repo_of(request)
        found = repo.versions(validate_key(key), project=validate_project(project))
        if not found:
            raise ArtifactNotFoundError(f"artifact {key!r} not found in project {project!r}")
        return [summary(v) for v in found]

    @api.get("/projects/{project}/artifacts/{key}/versions/{version}", summary="One version")
    def one_version(request: Request, project: str, key: str, version: int) -> dict[str, Any]:
        return artifact(request, project, key, version)

    def serve(request: Request, project: str, key: str, version: int, inline: bool) -> Response:
        v = find_version(repo_of(request), project, key, version)
        return stream_blob(
            repo_of(request), v.hash, v.size, v.content_type, download_name(v), inline=inline
        )

    @api.get(
        "/projects/{project}/artifacts/{key}/versions/{version}/content",
        summary="The bytes, inline (images, HTML plots, text)",
    )
    def content(request: Request, project: str, key: str, version: int) -> Response:
        return serve(request, project, key, version, inline=True)

    @api.get(
        "/projects/{project}/artifacts/{key}/versions/{version}/download",
        summary="The bytes as a file download",
    )
    def download(request: Request, project: str, key: str, version: int) -> Response:
        return serve(request, project, key, version, inline=False)

    @api.get(
        "/projects/{project}/artifacts/{key}/versions/{version}/extra/{name}",
        summary="An extra-data item as a file download",
    )
    def extra(request: Request, project: str, key: str, version: int, name: str) -> Response:
        v = find_version(repo_of(request), project, key, version)
        item = v.extra_data.get(validate_name(name, "extra_data name"))
        if item is None:
            raise ArtifactNotFoundError(
                f"{v.ref} has no extra data {name!r}; it has {', '.join(v.extra_data) or 'none'}"
            )
        return stream_blob(
            repo_of(request),
            item.hash,
            item.size,
            "application/octet-stream",
            item.filename or item.name,
            inline=False,
        )

    @api.get("/projects/{project}/artifacts/{key}/lineage", summary="Upstream or downstream graph")
    def lineage(
        request: Request,
        project: str,
        key: str,
        version: int | None = None,
        direction: str = "up",
        depth: int = Query(2, ge=0, le=10),
    ) -> dict[str, Any]:
        v = find_version(repo_of(request), project, key, version)
        return repo_of(request).lineage(v.ref, direction=direction, depth=depth).model_dump()

    @api.get("/projects/{project}/artifacts/{key}/diff", summary="What changed between versions")
    def diff(request: Request, project: str, key: str, a: int, b: int) -> dict[str, Any]:
        repo = repo_of(request)
        return diff_versions(
            find_version(repo, project, key, a), find_version(repo, project, key, b)
        ).model_dump(mode="json")

    @api.put(
        "/projects/{project}/artifacts/{key}/versions/{version}/tags/{tag}",
        summary="Point a tag at a version (needs --allow-writes)",
    )
    def put_tag(request: Request, project: str, key: str, version: int, tag: str) -> dict[str, Any]:
        _require_writes(request)
        v = find_version(repo_of(request), project, key, version)
        return summary(repo_of(request).tag(v.ref, tag))

    @api.delete(
        "/projects/{project}/artifacts/{key}/tags/{tag}",
        summary="Remove a tag (needs --allow-writes)",
    )
    def delete_tag(request: Request, project: str, key: str, tag: str) -> dict[str, Any]:
        _require_writes(request)
        number = repo_of(request).untag(
            validate_key(key), validate_tag(tag), project=validate_project(project)
        )
        return {"tag": tag, "was_on_version": number}

    @api.delete(
        "/projects/{project}/artifacts/{key}/versions/{version}",
        summary="Delete a version (needs --allow-writes)",
    )
    def delete_version(request: Request, project: str, key: str, version: int) -> dict[str, Any]:
        _require_writes(request)
        v = find_version(repo_of(request), project, key, version)
        return {"deleted": repo_of(request).delete(v.ref)}

    @api.delete(
        "/projects/{project}/artifacts/{key}",
        summary="Delete every version of a key (needs --allow-writes)",
    )
    def delete_key(request: Request, project: str, key: str) -> dict[str, Any]:
        _require_writes(request)
        return {
            "deleted": repo_of(request).delete(validate_key(key), project=validate_project(project))
        }

    return api


# -- pages --------------------------------------------------------------------------------------
def _page_router() -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    def render(request: Request, template: str, **context: Any) -> HTMLResponse:
        context.setdefault("allow_writes", request.app.state.allow_writes)
        return request.app.state.templates.TemplateResponse(request, template, context)

    @pages.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/projects", status_code=303)

    @pages.get("/projects")
    def projects_page(request: Request) -> HTMLResponse:
        return render(request, "projects.html", projects=repo_of(request).catalog.projects())

    @pages.get("/projects/{project}/artifacts")
    def artifacts_page(
        request: Request, project: str, params: dict[str, Any] = Depends(search_params)
    ) -> HTMLResponse:
        # the page's one labels box holds "team=ml src=web"
        params["labels"] = [part for value in params["labels"] for part in value.split()]
        result = search(repo_of(request), validate_project(project), params)
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "page" and v]
        return render(
            request,
            "artifacts.html",
            project=project,
            result=result,
            params=params,
            kept=kept,
            label_text=" ".join(params["labels"]),
            tab=_tab(params["kind"]),
            page_url=lambda n: "?" + urlencode([*kept, ("page", n)]),
            tab_url=lambda t: (
                "?"
                + urlencode(
                    [(k, v) for k, v in kept if k != "kind"] + ([("kind", t)] if t != "all" else [])
                )
            ),
        )

    @pages.get("/projects/{project}/artifacts/{key}")
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
            up=repo.lineage(v.ref, direction="up", depth=2),
            down=repo.lineage(v.ref, direction="down", depth=2),
            text=text_preview(repo, v),
            api=_api_base(v),
            download_name=download_name(v),
            image=v.format in IMAGE_FORMATS,
        )

    @pages.get("/projects/{project}/artifacts/{key}/diff")
    def diff_page(request: Request, project: str, key: str, a: int, b: int) -> HTMLResponse:
        repo = repo_of(request)
        old, new = find_version(repo, project, key, a), find_version(repo, project, key, b)
        return render(
            request,
            "diff.html",
            project=project,
            key=key,
            old=old,
            new=new,
            d=diff_versions(old, new),
        )

    @pages.post("/projects/{project}/artifacts/{key}/versions/{version}/tag")
    def tag_form(
        request: Request, project: str, key: str, version: int, tag: str = Form(...)
    ) -> RedirectResponse:
        _require_writes(request)
        v = find_version(repo_of(request), project, key, version)
        repo_of(request).tag(v.ref, tag)
        return RedirectResponse(f"{_page_base(v)}?version={version}", status_code=303)

    @pages.post("/projects/{project}/artifacts/{key}/tags/{tag}/remove")
    def untag_form(request: Request, project: str, key: str, tag: str) -> RedirectResponse:
        _require_writes(request)
        repo_of(request).untag(
            validate_key(key), validate_tag(tag), project=validate_project(project)
        )
        return RedirectResponse(
            f"/projects/{quote(project)}/artifacts/{quote(key)}", status_code=303
        )

    @pages.post("/projects/{project}/artifacts/{key}/versions/{version}/delete")
    def delete_form(
        request: Request, project: str, key: str, version: int, confirm: str = Form("")
    ) -> RedirectResponse:
        _require_writes(request)
        v = find_version(repo_of(request), project, key, version)
        if confirm != v.key:
            raise InvalidArgumentError(f"type the key {v.key!r} to confirm deleting {v.ref}")
        repo_of(request).delete(v.ref)
        return RedirectResponse(f"/projects/{quote(project)}/artifacts", status_code=303)

    @pages.get("/login")
    def login_page(request: Request, next: str = "/projects") -> HTMLResponse:
        return render(request, "login.html", next=_local_path(next))

    @pages.post("/login")
    def login(request: Request, token: str = Form(...), next: str = Form("/projects")) -> Response:
        expected = request.app.state.token or ""
        if not hmac.compare_digest(token.encode(), expected.encode()):
            return _error(request, 401, "wrong token")
        response = RedirectResponse(_local_path(next), status_code=303)
        response.set_cookie("pa_token", token, httponly=True, samesite="strict")
        return response

    return pages


def _api_base(v: ArtifactVersion) -> str:
    return f"/api/projects/{quote(v.project)}/artifacts/{quote(v.key)}/versions/{v.version}"


def _page_base(v: ArtifactVersion) -> str:
    return f"/projects/{quote(v.project)}/artifacts/{quote(v.key)}"


def _local_path(target: str) -> str:
    """Only a path on this site: never ``//elsewhere`` or ``https://elsewhere``."""
    parts = urlsplit(target)
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if local and not parts.scheme and not parts.netloc else "/projects"


def _tab(kind: str | None) -> str:
    return next((t for t, k in TABS.items() if kind in (t, k)), "all") if kind else "all"


def _when(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def _ago(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = (datetime.now(timezone.utc) - value).total_seconds()
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{int(seconds // span)}{unit} ago"
    return "just now"


def _permission(request: Request, exc: PermissionError) -> Response:
    return _error(
        request,
        403,
        "the UI is read-only: start it with `prefect-artifacts ui --allow-writes` to tag or delete",
    )
