"""Team access: users, their role per project, their API tokens, and the audit trail.

A user has one role per project (``*``: every project): ``reader`` reads, ``writer`` also tags,
labels and describes, ``admin`` also deletes. A project's role is the higher of its own grant
and the ``*`` grant. API tokens are random; the catalog keeps only their sha256.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import InvalidArgumentError
from .keys import validate_project

ROLES = ("reader", "writer", "admin")
ALL = "*"
TOKEN_PREFIX = "pat_"
_USER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")


@dataclass(frozen=True)
class User:
    name: str
    created_at: datetime
    roles: dict[str, str]  # project (or '*') → role
    tokens: list[str]  # token names


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    user: str
    action: str
    project: str
    key: str | None
    version: int | None
    detail: dict[str, Any]


def validate_user(name: Any) -> str:
    if not isinstance(name, str) or not _USER_RE.fullmatch(name):
        shown = str(name)[:60]
        raise InvalidArgumentError(
            f"invalid user name {shown!r}: use 1-128 letters, digits, '.', '_', '@', '+' or '-', "
            "starting with a letter or digit (e.g. 'alice' or 'alice@example.com')"
        )
    return name


def validate_role(role: Any) -> str:
    if role not in ROLES:
        raise InvalidArgumentError(f"unknown role {str(role)[:40]!r}; use {', '.join(ROLES)}")
    return str(role)


def validate_grant_project(project: Any) -> str:
    return ALL if project == ALL else validate_project(project)


def rank(role: str | None) -> int:
    """0 for no role, then reader 1, writer 2, admin 3."""
    return ROLES.index(role) + 1 if role in ROLES else 0


def role_in(roles: dict[str, str], project: str) -> str | None:
    """The role ``roles`` give on ``project`` (the higher of its grant and the '*' grant); on
    ``*`` itself only the '*' grant counts."""
    found = [roles.get(ALL)] if project == ALL else [roles.get(project), roles.get(ALL)]
    best = max(found, key=rank)
    return best if rank(best) else None


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
