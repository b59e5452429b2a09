"""Serving stored bytes: streamed in chunks, sha256-checked as they go, never whole in memory."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qsl, quote

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from ..core.errors import ArtifactError, IntegrityError
from ..core.keys import safe_filename
from ..core.models import ArtifactVersion
from ..core.repository import Repository
from ..core.storage.streams import VerifyingReader

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
    request: Request,
    repo: Repository,
    digest: str,
    size: int,
    media_type: str,
    filename: str,
    inline: bool,
    *,
    local: Path | None = None,
) -> Response:
    """Stream a blob in 1 MiB chunks; a sha256 mismatch cuts the response short of its
    Content-Length, so a client never receives corrupt bytes as complete. Answers ``HEAD``,
    ``If-None-Match`` (the ETag is the sha256) and one ``Range`` (resuming a large download).
    ``local``: serve this local file, whose sha256 is ``digest``, instead of a stored blob (a
    multi-part dataset's assembled Parquet file)."""
    inline = inline and media_type in INLINE_TYPES  # anything else only as a download
    filename = safe_filename(filename, "download")
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    etag = f'"sha256-{digest}"'
    headers = {
        "Content-Disposition": f"{'inline' if inline else 'attachment'}; "
        f"filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
        # stored content never runs as this origin; HTML plots may run their own scripts
        "Content-Security-Policy": "sandbox allow-scripts"
        if media_type == "text/html"
        else "sandbox",
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-cache",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    span = byte_range(request.headers.get("range"), size)
    if_range = request.headers.get("if-range")
    if span is not None and if_range and if_range != etag:
        span = None  # the client's part is of other bytes: send them all
    if span == "unsatisfiable":
        headers["Content-Range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers)
    start, stop = span if isinstance(span, tuple) else (0, size)
    headers["Content-Length"] = str(stop - start)
    status = 200
    if isinstance(span, tuple):
        status = 206
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    if request.scope.get("head_only"):
        return Response(status_code=status, headers=headers, media_type=media_type)
    if local is not None:
        handle: BinaryIO = local.open("rb")
        handle.seek(start)
        if status == 200:
            handle = io.BufferedReader(VerifyingReader(handle, digest, str(local)), 1 << 20)
        remaining = stop - start
    elif status == 206:
        handle = repo.open_blob_at(digest, start)
        remaining = stop - start
    else:
        handle, remaining = repo.open_blob(digest, size), size

    def chunks() -> Iterator[bytes]:
        left = remaining
        with handle:
            try:
                if status == 200:  # read to the end, where the sha256 is checked
                    while chunk := handle.read(1 << 20):
                        yield chunk
                while left > 0 and status == 206 and (chunk := handle.read(min(1 << 20, left))):
                    left -= len(chunk)
                    yield chunk
            except IntegrityError as exc:  # headers are gone: end short of Content-Length
                logger.error("stopped serving %s: %s", filename, exc)

    return StreamingResponse(chunks(), status_code=status, media_type=media_type, headers=headers)


def byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """One ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range as (start, stop); None for no (or a
    multi-part or malformed) range, which is answered with the whole body."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header or "")
    if not match or not (match[1] or match[2]):
        return None
    if match[1]:
        start = int(match[1])
        stop = min(int(match[2]) + 1, size) if match[2] else size
    else:
        start, stop = max(size - int(match[2]), 0), size
    if start >= size or stop <= start:
        return "unsatisfiable"
    return start, stop


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
