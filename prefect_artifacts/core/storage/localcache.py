"""Local copies handed out as verified (``version.local()``, ``extract()``, the web server's
assembled downloads): kept in folders only this user can enter, and checked before they are
returned.

A cache under the system's temporary directory has a predictable path: on a shared host another
user could create it first, or plant a file of the right size in it. So the cache's root is
created private (mode 0700) and refused when another user owns it or it is a symbolic link, and
a cached file is returned only when its sha256 was checked while it had the identity it has now
(the verified-state record, keyed by file identity), else it is hashed again — or replaced.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import StorageError
from .verified import Identity, VerifiedState, backdate, local_identity

CHUNK = 1 << 20


def temp_root() -> Path:
    """This user's cache folder under the system's temporary directory, private."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return private_folder(Path(tempfile.gettempdir()) / f"prefect-artifacts-{user}")


def private_folder(path: Path) -> Path:
    """``path`` as a folder only this user can use: created with mode 0700; refused when it
    is a symbolic link or another user owns it; its mode tightened to 0700 when it is ours."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise StorageError(
            f"the cache folder {path} is a symbolic link or not a folder; someone else may have "
            "planted it: remove it (or set TMPDIR to a private folder)"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise StorageError(
            f"the cache folder {path} belongs to another user (uid {info.st_uid}); files in it "
            "cannot be trusted: remove it, or set TMPDIR to a private folder"
        )
    if hasattr(os, "getuid") and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verified_copy(
    state: VerifiedState, target: Path, digest: str, fetch: Callable[[Path], Path]
) -> Path:
    """``target`` holding the bytes of ``digest``: an existing file is returned when it was
    verified with the identity it has now, or when hashing it now gives ``digest``; else (and
    when missing) ``fetch(target)`` writes a verified copy. The copy's identity is recorded."""
    if holds(state, target, digest):
        return target
    if target.is_symlink() or target.exists():
        target.unlink()  # planted or changed: never handed out
    path = fetch(target)
    remember(state, path, digest)
    return path


def holds(state: VerifiedState, path: Path, digest: str) -> bool:
    """Whether the local file ``path`` holds the bytes of ``digest``: verified with the
    identity it has now, or hashed now (and then recorded)."""
    if not path.is_file() or path.is_symlink():
        return False
    identity = local_identity(str(path))
    if state.trusted(_key(path, digest), identity):
        return True
    state.counted_hash()
    if sha256_of(path) == digest and local_identity(str(path)) == identity:
        state.remember(_key(path, digest), identity)
        return True
    return False


def remember(state: VerifiedState, path: Path, digest: str) -> None:
    """Record a copy we just wrote and verified (its identity trusted at once)."""
    backdate(str(path))
    state.remember(_key(path, digest), local_identity(str(path)))


def _key(path: Path, digest: str) -> str:
    return f"local-copy:{digest}:{path}"


__all__ = ["Identity", "holds", "private_folder", "remember", "temp_root", "verified_copy"]
