"""``prefect-artifacts db``: the catalog's schema revision."""

from __future__ import annotations

from typing import Annotated

import typer

from .app import JsonOpt, app, emit_json, repo, run, say

db = typer.Typer(help="The catalog database: schema revision and upgrades.", no_args_is_help=True)
app.add_typer(db, name="db")


@db.command("current")
def current(as_json: JsonOpt = False) -> None:
    """Show the catalog's schema revision and the newest this release knows."""
    revision, head = run(lambda: repo().catalog.revision())
    if as_json:
        emit_json({"revision": revision, "head": head, "current": revision == head})
        return
    state = "up to date" if revision == head else "needs `prefect-artifacts db upgrade`"
    from ..core.catalog.database import safe_url

    say(f"catalog {safe_url(repo().catalog.url)}: revision {revision or 'none (empty)'}")
    say(f"newest revision {head}: {state}")


@db.command("upgrade")
def upgrade(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> None:
    """Upgrade the catalog's schema to the newest revision (back it up first). Safe to run
    while other processes use it: they wait for the upgrade's lock."""
    before, after = run(lambda: repo().catalog.upgrade())
    if as_json:
        emit_json({"before": before, "after": after})
        return
    if before == after:
        say(f"the catalog is already at revision {after}")
    else:
        say(f"upgraded the catalog from revision {before or 'none (empty)'} to {after}")
