"""``prefect-artifacts users``: who may use the browser UI and its API, with which role."""

from __future__ import annotations

from typing import Annotated

import typer

from ..core.access import (
    ALL,
    new_token,
    token_hash,
    validate_grant_project,
    validate_role,
    validate_user,
)
from ..core.keys import validate_name
from .app import JsonOpt, app, emit_json, out, plain, repo, run, say

users = typer.Typer(
    help="Users of the browser UI and its API (`ui --users`): roles and API tokens.",
    no_args_is_help=True,
)
app.add_typer(users, name="users")
NameArg = Annotated[str, typer.Argument(help="User name, e.g. alice or alice@example.com.")]


@users.command("add")
def add(
    name: NameArg,
    role: Annotated[
        str,
        typer.Option(
            help="reader (reads), writer (+ tags, labels, descriptions), admin (+ deletes)."
        ),
    ] = "reader",
    project: Annotated[
        str, typer.Option("--project", "-p", help="A project, or '*' for all.")
    ] = ALL,
) -> None:
    """Add a user, or change their role in a project."""
    name, role = run(lambda: (validate_user(name), validate_role(role)))
    project = run(lambda: validate_grant_project(project))
    created = run(lambda: repo().catalog.add_user(name, {project: role}))
    where = "every project" if project == ALL else f"project {project}"
    say(f"{'added' if created else 'updated'} {name}: {role} on {where}")
    if created:
        say(f"create an API token with: prefect-artifacts users token {name}")


@users.command("revoke")
def revoke(
    name: NameArg,
    project: Annotated[str, typer.Option("--project", "-p", help="A project, or '*'.")] = ALL,
) -> None:
    """Take away a user's role in one project ('*': the grant on every project)."""
    gone = run(
        lambda: repo().catalog.revoke_role(validate_user(name), validate_grant_project(project))
    )
    say(f"{name} {'no longer has' if gone else 'had no'} a role on {project}")


@users.command("remove")
def remove(name: NameArg) -> None:
    """Remove a user with their roles and tokens (their audit entries stay)."""
    run(lambda: repo().catalog.remove_user(validate_user(name)))
    say(f"removed {name}")


@users.command("token")
def token(
    name: NameArg,
    token_name: Annotated[str, typer.Option("--name", help="A name for this token.")] = "default",
    revoke: Annotated[
        bool, typer.Option("--revoke", help="Revoke the token of this name.")
    ] = False,
) -> None:
    """Create an API token for a user and print it (once: only its sha256 is kept). Use it as
    `Authorization: Bearer <token>` or to sign in to the UI."""
    name = run(lambda: validate_user(name))
    token_name = run(lambda: validate_name(token_name, "token name"))
    if revoke:
        gone = run(lambda: repo().catalog.revoke_token(name, token_name))
        say(f"{'revoked' if gone else 'no'} token {token_name!r} of {name}")
        return
    secret = new_token()
    run(lambda: repo().catalog.add_token(name, token_name, token_hash(secret)))
    out.print(plain(secret))


@users.command("list")
def list_users(as_json: JsonOpt = False) -> None:
    """Users with their roles and token names."""
    found = run(lambda: repo().catalog.users())
    if as_json:
        emit_json(
            [
                {"name": u.name, "created_at": u.created_at, "roles": u.roles, "tokens": u.tokens}
                for u in found
            ]
        )
        return
    if not found:
        say("no users: add one with `prefect-artifacts users add <name> --role reader`")
    for u in found:
        roles = ", ".join(f"{r} on {p}" for p, r in sorted(u.roles.items())) or "no role"
        out.print(plain(f"{u.name}: {roles}; tokens: {', '.join(u.tokens) or 'none'}"))
