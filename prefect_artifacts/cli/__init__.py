"""``prefect-artifacts``: search, inspect, fetch and manage artifacts from a terminal.

Exit codes: 0 success · 1 unexpected error · 2 bad usage or invalid input · 3 not found ·
4 integrity error (corrupt or missing bytes) · 5 storage or catalog unreachable.

The commands need only the core; ``ui`` imports the web app when it starts.
"""

from __future__ import annotations

from . import (  # noqa: F401 - they register their commands
    artifacts,
    db,
    maintenance,
    repository,
    tracking,
    ui,
    users,
)
from .app import app


def main() -> None:
    try:
        app()
    finally:
        deliver()


def deliver() -> None:
    """Before exiting: send the Prefect events and card updates of this command's changes
    (``tag`` → ``prefect-artifacts.tag.moved``), synchronously, while everything still runs."""
    import sys

    registration = sys.modules.get("prefect_artifacts.prefect.registration")
    if registration is not None:
        registration.flush_registrations()


__all__ = ["app", "main"]
