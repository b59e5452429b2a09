"""``prefect-artifacts``: search, inspect, fetch and manage artifacts from a terminal.

Exit codes: 0 success · 1 unexpected error · 2 bad usage or invalid input · 3 not found ·
4 integrity error (corrupt or missing bytes) · 5 storage or catalog unreachable.

The commands need only the core; ``ui`` imports the web app when it starts.
"""

from __future__ import annotations

from . import artifacts, db, maintenance, tracking, ui  # noqa: F401 - they register commands
from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
