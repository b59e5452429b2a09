"""What the pages and the API share: the repository of a request, version lookup, search."""

from __future__ import annotations

import json
import shlex
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ..core.errors import ArtifactError, InvalidArgumentError
from ..core.filters import ArtifactFilter
from ..core.keys import MAX_VERSION, validate_key, validate_project, validate_tag
from ..core.models import ArtifactVersion, ExtraData
from ..core.repository import Repository
from ..core.repository.reader import count, download_type
from .auth import identity_of
from .schemas import Page

PAGE_SIZE = 50


def repo_of(request: Request) -> Repository:
    repo: Repository = request.app.state.repo
    return repo


def search_project(project: str) -> str:
    """A project name, or ``*``: every project."""
    return "*" if project == "*" else validate_project(project)


def split_labels(text: str) -> list[str]:
    """The search form's labels field as filter items: ``team=ml note=hello world`` is two
    (a word without ``=`` continues the value before it), and quotes keep spaces too
    (``note="a b"`` or ``"note=a b"``); a name alone before any ``name=value`` means "has it".
    Without any ``=`` the field is one label name, checked as every surface checks it."""
    if "=" not in text:
        return [text.strip()] if text.strip() else []
    try:
        words = shlex.split(text)
    except ValueError:  # an unbalanced quote: take the words as they are
        words = text.split()
    items: list[str] = []
    for word in words:
        if items and "=" in items[-1] and "=" not in word:
            items[-1] = f"{items[-1]} {word}" if not items[-1].endswith("=") else items[-1] + word
        elif word.strip():
            items.append(word.strip())
    return items


def visible_projects(request: Request) -> list[Any]:
    """The projects the caller has a role on."""
    who = identity_of(request)
    return [p for p in repo_of(request).projects() if who.role(p.project)]


def find_version(
    repo: Repository, project: str, key: str, version: int | None = None, tag: str | None = None
) -> ArtifactVersion:
    project, key = validate_project(project), validate_key(key)
    if version is not None and not 1 <= version <= MAX_VERSION:
        raise InvalidArgumentError(f"version must be between 1 and {MAX_VERSION}, got {version}")
    return repo.get(key, version=version, tag=validate_tag(tag) if tag else None, project=project)


def search(
    repo: Repository, project: str, filters: ArtifactFilter, *, count_to: int | None = None
) -> Page:
    """One page of ``filters`` in ``project`` (the path's project wins over a query's);
    ``count_to``: stop counting the matches there (at least one past this page), so a page
    of a large search does not count every version."""
    f = ArtifactFilter.of(filters, project=search_project(project))
    limit = PAGE_SIZE if f.limit is None else f.limit
    if f.limit is None:
        f = f.model_copy(update={"limit": limit})
    items = repo.list(f)
    at_most = None if count_to is None else max(count_to, f.offset + limit + 1)
    total = count(repo, f.model_copy(update={"limit": None, "offset": 0}), at_most=at_most)
    return Page(items=items, total=total, offset=f.offset, limit=limit)


def error_response(request: Request, status: int, message: str) -> Response:
    """JSON for the API and scripts; a styled page for browsers."""
    if request.url.path.startswith("/api") or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"detail": message}, status_code=status)
    context = {
        "status": status,
        "message": message,
        "allow_writes": request.app.state.allow_writes,
        "who": identity_of(request),
    }
    response: Response = request.app.state.templates.TemplateResponse(
        request, "error.html", context, status_code=status
    )
    return response


JSON_SNIFF_MAX = 1 << 20
MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF-", "application/pdf"),
]


def extra_type(repo: Repository, item: ExtraData) -> str:
    """An extra-data item's content type: its artifact's, its file name's, or its first bytes'."""
    if item.artifact:
        try:
            return repo.get(item.artifact).content_type
        except ArtifactError:
            pass
    guessed = download_type(item.filename or item.name)
    if guessed != "application/octet-stream":
        return guessed
    try:
        with repo.open_blob_at(item.hash, 0) as handle:
            head = handle.read(16)
        if head.lstrip()[:1] in (b"{", b"[") and item.size <= JSON_SNIFF_MAX:
            json.loads(repo.read_blob(item.hash))
            return "application/json"
    except (ArtifactError, ValueError):
        return guessed
    return next((kind for magic, kind in MAGIC if head.startswith(magic)), guessed)
