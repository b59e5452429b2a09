"""The typer app and what every command shares: the repository, error handling with exit
codes, JSON output, and escaping of stored text (labels and keys never act as rich markup)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from ..core.errors import (
    ArtifactError,
    ArtifactNotFoundError,
    CatalogError,
    IntegrityError,
    InvalidArgumentError,
    StorageError,
    UnsupportedTypeError,
)
from ..core.filtertext import field_help, parse_span

if TYPE_CHECKING:
    from ..core.repository import Repository

app = typer.Typer(
    name="prefect-artifacts",
    no_args_is_help=True,
    add_completion=False,
    help="Search, inspect, download and manage prefect-artifacts versions.",
)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200, highlight=False)
err = Console(stderr=True, highlight=False)
EXIT_CODES = [
    (ArtifactNotFoundError, 3),
    (IntegrityError, 4),
    (CatalogError, 5),
    (StorageError, 5),
    (InvalidArgumentError, 2),
    (UnsupportedTypeError, 2),
    (ValueError, 2),
    (OverflowError, 2),
]

ProjectOpt = Annotated[str | None, typer.Option("--project", "-p", help=field_help("project"))]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def repo() -> Repository:
    from ..core.api import get_repository

    return get_repository()


def fail(exc: BaseException) -> NoReturn:
    code = next((c for t, c in EXIT_CODES if isinstance(exc, t)), 1)
    err.print(f"[red]error:[/red] {escape(str(exc))}")
    raise typer.Exit(code)


def run(fn: Any) -> Any:
    """Call ``fn``; known errors exit with their code and message, no traceback."""
    try:
        return fn()
    except (ArtifactError, ValueError, TypeError, OSError, OverflowError) as exc:
        fail(exc)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def plain(value: Any) -> Text:
    """Stored text for a table cell or a line: shown as it is, never parsed as markup."""
    return Text("" if value is None else str(value))


def say(*parts: Any) -> None:
    """Print a line whose parts are stored values (no markup, no highlighting)."""
    out.print(Text(" ".join("" if p is None else str(p) for p in parts)))


def span(text: str) -> Any:
    """``90m``, ``24h``, ``7d`` → a timedelta (exit 2 otherwise)."""
    value = parse_span(text)
    if value is None or value.days > 36_500:
        fail(
            InvalidArgumentError(
                f"{text!r} is not a span of at most 100 years; use e.g. 30m, 12h, 7d, 2w"
            )
        )
    return value
