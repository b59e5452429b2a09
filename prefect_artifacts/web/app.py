"""The browser UI and its JSON API (FastAPI + server-rendered Jinja2 templates).

``api`` holds the JSON routes, ``pages`` the HTML pages, ``views`` what both share, ``serve``
the streaming of stored bytes. Downloads and content only ever stream bytes that a catalog
version (or its extra data) references. Everything the pages load is served from the package.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from ..core.compare import metric_direction
from ..core.errors import (
    ArtifactNotFoundError,
    CatalogError,
    IntegrityError,
    InvalidArgumentError,
    StorageError,
)
from ..core.filters import describe
from ..core.formatting import size_text, sparkline
from ..core.models import run_link
from ..core.repository import Repository
from . import api, assets, display, pages
from .auth import Access, path_project
from .views import error_response

HERE = Path(__file__).parent
logger = logging.getLogger("prefect_artifacts.web")
MAX_QUERY = 4096
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


def create_app(
    repository: Repository | None = None,
    *,
    allow_writes: bool = False,
    token: str | None = None,
    allowed_hosts: list[str] | None = None,
    access: Access | None = None,
) -> FastAPI:
    """The UI for ``repository`` (default: the configured one). Read-only unless
    ``allow_writes``; with ``token``, every request needs ``Authorization: Bearer <token>``
    (browsers: sign in once at /login, which sets a signed, expiring session cookie).
    ``access``: team access (users, roles, a trusted proxy's identity header; see
    :class:`~prefect_artifacts.web.auth.Access`); ``token`` is its shared token.
    ``allowed_hosts`` limits the Host header (against DNS rebinding); ``prefect-artifacts ui``
    sets it for loopback."""
    from .. import __version__

    if repository is None:
        from ..core.api import get_repository

        repository = get_repository()
    app = FastAPI(
        title="prefect-artifacts",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        description="Search, inspect and download versioned artifacts.",
    )
    app.state.repo = repository
    app.state.allow_writes = allow_writes
    access = access or Access()
    if token:
        access.token = token
    app.state.access = access
    app.state.csrf = secrets.token_urlsafe(32)  # every write form carries it
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(size=size_text, when=_when, spark=sparkline, ago=_ago)
    templates.env.filters.update(display.FILTERS)
    templates.env.globals.update(quote=quote, run_link=run_link, **display.GLOBALS)
    templates.env.globals.update(metric_direction=metric_direction)
    templates.env.globals["repository_id"] = repository.known_repository_id  # cached
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    _install_middleware(app)
    if allowed_hosts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    _install_errors(app)
    app.include_router(api.router, prefix="/api")
    app.include_router(pages.router)
    app.include_router(assets.router)
    _install_docs(app)
    app.add_middleware(HeadAsGet)
    return app


class HeadAsGet:
    """``HEAD`` is ``GET`` without the body, for every route (downloads skip reading the
    bytes: they see ``scope["head_only"]``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b"", "more_body": message.get("more_body", False)}
            await send(message)

        await self.app({**scope, "method": "GET", "head_only": True}, receive, headers_only)


def _install_docs(app: FastAPI) -> None:
    """Swagger UI from the package's own copy (static/vendor/swagger-ui), so /docs works offline."""
    from fastapi.openapi.docs import get_swagger_ui_html

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="prefect-artifacts API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return FileResponse(
            HERE / "static" / "favicon.svg",
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )


# -- middleware and errors -----------------------------------------------------------------------
def _install_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if len(request.url.query) > MAX_QUERY:
            return error_response(
                request,
                414,
                f"the query string is longer than {MAX_QUERY} characters; narrow the search",
            )
        access: Access = request.app.state.access
        path = request.url.path
        if not path.startswith(("/login", "/static", "/assets", "/favicon.ico")):
            client = request.client.host if request.client else ""
            bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
            wait = access.blocked(client) if bearer else 0
            if wait:  # wrong bearer tokens count like wrong sign-ins
                response = error_response(
                    request, 429, f"too many wrong tokens from {client}: try again in "
                    f"{int(wait) + 1} s"
                )  # fmt: skip
                response.headers["Retry-After"] = str(int(wait) + 1)
                return response
            who = access.identify(request)
            if who is None and bearer:
                access.failed(client)
            if who is None:
                if path.startswith("/api") or path in ("/docs", "/openapi.json"):
                    return JSONResponse(
                        {
                            "detail": "missing or wrong bearer token: send "
                            "'Authorization: Bearer <token>' (a token from "
                            "`prefect-artifacts users token <name>`, or the UI's --token)"
                        },
                        status_code=401,
                    )
                return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
            request.state.identity = who
            project = path_project(path)
            if project is not None and who.role(project) is None:
                where = "every project" if project == "*" else f"project {project!r}"
                return error_response(
                    request,
                    403,
                    f"{who.name} has no role on {where}: an admin runs `prefect-artifacts "
                    f"users add {who.name} --project {project} --role reader`",
                )
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin(request):
            return error_response(
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

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)  # registered for it alone
        return error_response(request, 400, f"invalid request: {describe(exc.errors(), skip=1)}")

    app.add_exception_handler(RequestValidationError, invalid)

    async def forbidden(request: Request, exc: Exception) -> Response:
        return error_response(
            request,
            403,
            str(exc)
            or "the UI is read-only: start it with `prefect-artifacts ui --allow-writes` to tag, "
            "label, describe or delete",
        )

    app.add_exception_handler(PermissionError, forbidden)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # registered for it alone
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return error_response(request, exc.status_code, message)

    app.add_exception_handler(HTTPException, http_error)


def _handler(status: int) -> Any:
    async def handle(request: Request, exc: Exception) -> Response:
        return error_response(request, status, str(exc))

    return handle


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def _ago(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = (datetime.now(UTC) - value).total_seconds()
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{int(seconds // span)}{unit} ago"
    return "just now"
