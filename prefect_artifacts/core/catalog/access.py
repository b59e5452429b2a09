"""Rows of team access: users, roles, hashed API tokens, and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..access import AuditEntry, User
from ..errors import ArtifactNotFoundError, InvalidArgumentError
from .records import from_db_time
from .schema import audit_t, roles_t, user_tokens_t, users_t


def add_user(conn: Connection, name: str, roles: dict[str, str], now: datetime) -> bool:
    """Create ``name`` if new and set the given roles; True if the user is new."""
    exists = conn.execute(sa.select(users_t.c.name).where(users_t.c.name == name)).first()
    if not exists:
        conn.execute(users_t.insert().values(name=name, created_at=now))
    for project, role in roles.items():
        conn.execute(
            roles_t.delete().where(roles_t.c.username == name, roles_t.c.project == project)
        )
        conn.execute(roles_t.insert().values(username=name, project=project, role=role))
    return not exists


def revoke(conn: Connection, name: str, project: str) -> bool:
    _require(conn, name)
    gone = conn.execute(
        roles_t.delete().where(roles_t.c.username == name, roles_t.c.project == project)
    )
    return bool(gone.rowcount)


def remove_user(conn: Connection, name: str) -> None:
    _require(conn, name)
    for table in (user_tokens_t, roles_t):
        conn.execute(table.delete().where(table.c.username == name))
    conn.execute(users_t.delete().where(users_t.c.name == name))


def add_token(conn: Connection, name: str, token_name: str, digest: str, now: datetime) -> None:
    _require(conn, name)
    taken = conn.execute(
        sa.select(user_tokens_t.c.id).where(
            user_tokens_t.c.username == name, user_tokens_t.c.name == token_name
        )
    ).first()
    if taken:
        raise InvalidArgumentError(
            f"user {name!r} already has a token named {token_name!r}: choose another --name "
            "or revoke it first"
        )
    conn.execute(
        user_tokens_t.insert().values(username=name, name=token_name, hash=digest, created_at=now)
    )


def revoke_token(conn: Connection, name: str, token_name: str) -> bool:
    gone = conn.execute(
        user_tokens_t.delete().where(
            user_tokens_t.c.username == name, user_tokens_t.c.name == token_name
        )
    )
    return bool(gone.rowcount)


def user_of_token(conn: Connection, digest: str) -> str | None:
    return conn.execute(
        sa.select(user_tokens_t.c.username).where(user_tokens_t.c.hash == digest)
    ).scalar()


def roles_of(conn: Connection, name: str) -> dict[str, str] | None:
    """The user's roles by project; None if there is no such user."""
    if not conn.execute(sa.select(users_t.c.name).where(users_t.c.name == name)).first():
        return None
    rows = conn.execute(
        sa.select(roles_t.c.project, roles_t.c.role).where(roles_t.c.username == name)
    )
    return {project: role for project, role in rows}


def users(conn: Connection) -> list[User]:
    roles: dict[str, dict[str, str]] = {}
    for user, project, role in conn.execute(sa.select(roles_t)):
        roles.setdefault(user, {})[project] = role
    tokens: dict[str, list[str]] = {}
    for user, token in conn.execute(
        sa.select(user_tokens_t.c.username, user_tokens_t.c.name).order_by(user_tokens_t.c.id)
    ):
        tokens.setdefault(user, []).append(token)
    return [
        User(name, from_db_time(created), roles.get(name, {}), tokens.get(name, []))
        for name, created in conn.execute(sa.select(users_t).order_by(users_t.c.name))
    ]


def record(conn: Connection, entry: dict[str, Any]) -> None:
    conn.execute(audit_t.insert().values(**entry))


def audit(
    conn: Connection,
    project: str,
    key: str | None,
    version: int | None,
    limit: int,
    before: int | None = None,
) -> list[tuple[int, AuditEntry]]:
    """Newest first, with each entry's id (the cursor of the next page: ``before``)."""
    query = sa.select(audit_t).where(audit_t.c.project == project)
    if key is not None:
        query = query.where(audit_t.c.key == key)
    if version is not None:
        query = query.where(audit_t.c.version == version)
    if before is not None:
        query = query.where(audit_t.c.id < before)
    rows = conn.execute(query.order_by(audit_t.c.id.desc()).limit(limit)).mappings()
    return [
        (
            row["id"],
            AuditEntry(
                from_db_time(row["at"]),
                row["username"],
                row["action"],
                row["project"],
                row["key"],
                row["version"],
                row["detail"] or {},
            ),
        )
        for row in rows
    ]


def _require(conn: Connection, name: str) -> None:
    if not conn.execute(sa.select(users_t.c.name).where(users_t.c.name == name)).first():
        raise ArtifactNotFoundError(
            f"no user {name!r}: add it with `prefect-artifacts users add {name} --role reader`"
        )
