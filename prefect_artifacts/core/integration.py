"""Integrations plug in on first use, so that importing the package stays cheap.

The package registers its Prefect edge here when it is imported (registering imports nothing);
the core calls :func:`ensure` before it first needs a seam — when a repository is opened or
named, or a run provider is set (so that one set by the user replaces the integration's, as it
did when the package installed its edge at import) — and the registered installers run once, in
order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_pending: list[Callable[[], None]] = []
_lock = threading.RLock()  # an installer may use a seam, which ensures again


def on_first_use(install: Callable[[], None]) -> None:
    """Run ``install()`` once, before the core first uses a seam."""
    with _lock:
        _pending.append(install)


def ensure() -> None:
    """Run the installers still pending (cheap when there are none)."""
    if not _pending:
        return
    with _lock:
        while _pending:
            _pending.pop(0)()
