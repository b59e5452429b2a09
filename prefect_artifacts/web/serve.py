"""Serving stored bytes: streamed in chunks, sha256-checked as they go, never whole in memory."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, quote

from fastapi import Request
from fastapi.responses import StreamingResponse

from ..core.errors import ArtifactError, IntegrityError
from ..core.keys import safe_filename
from ..core.models import ArtifactVersion
from ..core.repository import Repository

logger = logging.getLogger("prefect_artifacts.web")
TEXT_PREVIEW_BYTES = 100_000
TEXT_FORMATS = {"txt", "md", "csv", "tsv", "json", "yaml", "yml", "xml", "log", "py", "sql"}
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
MAX_FORM = 64 << 10


def stream_blob(
    repo: Repository, digest: str, size: int, media_type: str, filename: str, inline: bool
) -> StreamingResponse:
    """Stream a blob in 1 MiB chunks; a sha256 mismatch cuts the response short of its
    Content-Length, so a client never receives corrupt bytes as complete."""
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


async def form(request: Request) -> dict[str, str]:
    """An url-encoded form body (what the UI's forms post), without python-multipart."""
    body = await request.body()
    if len(body) > MAX_FORM:
        raise ValueError(f"the form is larger than {MAX_FORM // 1024} KiB")
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
