"""One whole blob read, sha256-verified as the ``verify`` mode says (through the
verified-state record), and parsed: the read path shared by single-file versions, each part of
a multi-part dataset and assembled downloads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IntegrityError
from ..storage import Identity, check_hash
from . import executor

if TYPE_CHECKING:
    from .protocol import Repo

IN_MEMORY_MAX = 64 << 20  # larger blobs are verified by streaming and parsed from a file


def missing(what: str, where: str) -> IntegrityError:
    """The error for the bytes of ``what`` gone from storage (``where``: their location)."""
    return IntegrityError(
        f"the bytes of {what} are missing from storage ({where}); "
        "restore them or delete the version"
    )


def read_verified(
    repo: Repo,
    digest: str,
    what: str,
    *,
    size: int,
    mode: str,
    parse: Callable[[bytes], Any],
    parse_file: Callable[[str], Any] | None = None,
    trusted_file: bool = False,
    parse_first: bool = False,
    location: str | None = None,
) -> Any:
    """One blob read, sha256-verified as ``mode`` says, and parsed: the one read path of whole
    blobs (single-file versions and each part of a multi-part dataset).

    ``once`` skips the hash of a blob recorded as verified with the identity its file has now
    (``parse_file`` reads a trusted local file in place when ``trusted_file``); ``never`` skips
    it; ``always`` hashes. Blobs above IN_MEMORY_MAX with a ``parse_file`` are verified by
    streaming and parsed from a file. ``parse_first`` parses while hashing on another core
    (only for parsers that run no stored code). ``location``: where the bytes live, for errors."""
    storage, state = repo.storage, repo.storage.verified
    if storage.local and mode != "always":
        before = storage.identity(digest)
        if before is not None and (mode == "never" or state.trusted(digest, before)):
            path = storage.blob_path(digest)
            try:
                if parse_file is not None and trusted_file:
                    value = parse_file(path)
                else:
                    value = parse(Path(path).read_bytes())
            except Exception:  # gone, or unreadable: the path below hashes and reports
                pass  # corruption as corruption (or raises the same error again)
            else:
                if mode == "never" or storage.identity(digest) == before:
                    return value
            mode = "always"  # changed while it was read, or unreadable: hash what is there
    if size > IN_MEMORY_MAX and parse_file is not None:
        try:  # large: verify by streaming (no copy in memory), then parse from the file
            before = storage.identity(digest)
            with storage.verified_file(digest, what) as path:
                if before is not None and before == storage.identity(digest):
                    state.remember(digest, before)
                return parse_file(path)
        except FileNotFoundError:
            raise missing(what, location or storage.blob_url(digest)) from None
    data, identity = raw_identified(repo, digest, what)
    if mode != "always" and (mode == "never" or state.trusted(digest, identity)):
        return parse(data)  # an object store's unchanged object
    state.counted_hash()
    label = f"bytes of {what}"
    if parse_first:
        # Parsing a table runs no stored code: hash on one core while parsing on the other.
        check = executor.submit(_checked, repo, data, digest, label)
        try:
            value = parse(data)
        except Exception:
            check.result()  # a corrupt file is reported as corruption, not a parse error
            raise
        check.result()
    else:
        _checked(repo, data, digest, label)  # never unpickle unverified bytes
        value = parse(data)
    state.remember(digest, identity)
    return value


def _checked(repo: Repo, data: bytes, digest: str, what: str) -> None:
    try:
        check_hash(data, digest, what)
    except IntegrityError:
        repo.storage.verified.mark_bad(digest)
        raise


def raw_identified(repo: Repo, digest: str, what: str) -> tuple[bytes, Identity | None]:
    """The stored bytes, not yet verified, with the identity they were read under."""
    try:
        return repo.storage.read_identified(digest)
    except FileNotFoundError:
        raise missing(what, repo.storage.blob_url(digest)) from None
