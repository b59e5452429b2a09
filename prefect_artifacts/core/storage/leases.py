"""Leases: a write in flight announces itself in storage so ``gc`` leaves its bytes alone.

A multi-part log writes its parts (content-addressed, referenced by no version yet) and
temporary files long before it commits. While it runs it holds a lease, ``leases/<id>.json``,
renewed every :data:`RENEW_SECONDS`; ``gc`` lists the blobs first, then the live leases, and
keeps every unreferenced blob or temporary file modified since the oldest live lease began —
whatever its ``grace``. A lease not renewed for :data:`LEASE_SECONDS` belongs to a writer that
died; ``gc`` removes it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import layout

LEASE_SECONDS = 600.0  # a lease not renewed for this long belongs to a dead writer
RENEW_SECONDS = 60.0
CLOCK_SLACK = timedelta(seconds=60)  # storage and writer clocks may differ a little


@dataclass
class Leases:
    """What ``gc`` learns from the leases in storage."""

    oldest_live: datetime | None = None  # when the oldest live lease began (minus clock slack)
    stale: list[str] = field(default_factory=list)  # paths of leases of dead writers


@contextlib.contextmanager
def hold(storage: Any) -> Iterator[str]:
    """Hold a lease (renewed in the background) while the body writes; released after."""
    path = storage.path(layout.lease())
    started = _now().isoformat()
    stop = threading.Event()

    def write() -> None:
        storage.write_json(
            path,
            {
                "started": started,
                "renewed": _now().isoformat(),
                "host": socket.gethostname(),
                "pid": os.getpid(),
            },
        )

    write()

    def renew() -> None:
        while not stop.wait(RENEW_SECONDS):
            with contextlib.suppress(Exception):  # the next renewal tries again
                write()

    renewer = threading.Thread(target=renew, name="prefect-artifacts-lease", daemon=True)
    renewer.start()
    try:
        yield path
    finally:
        stop.set()
        renewer.join()
        storage.delete(path)


def read(storage: Any) -> Leases:
    """The live leases' oldest start, and the stale leases, in storage now."""
    out = Leases()
    now = _now()
    for path in storage.find(layout.LEASES):
        try:
            document = storage.read_json(path)
            started = _time(document["started"])
            renewed = _time(document["renewed"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            continue  # released meanwhile, or not a lease
        if (now - renewed).total_seconds() > LEASE_SECONDS:
            out.stale.append(path)
        else:
            begin = started - CLOCK_SLACK
            out.oldest_live = begin if out.oldest_live is None else min(out.oldest_live, begin)
    return out


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)
