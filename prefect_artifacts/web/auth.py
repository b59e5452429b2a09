"""Who is asking, and what they may do: the shared token, per-user API tokens, a trusted
reverse proxy's identity header, signed expiring sessions, rate-limited sign-ins, and the
audit record of every write.

Without any of these the UI is open (everyone is ``anonymous`` with every role, as on a laptop).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from ..core.access import ALL, rank, role_in, token_hash
from ..core.errors import ArtifactError

SESSION_COOKIE = "pa_session"
SHARED = "token"  # the identity of the shared --token
NEEDS = {"tag": "writer", "untag": "writer", "labels": "writer", "description": "writer"}
NEEDS.update({"delete": "admin", "delete-key": "admin"})
_PROJECT_PATH = re.compile(r"^(?:/api)?/projects/([^/]+)(?:/|$)")


@dataclass(frozen=True)
class Identity:
    name: str
    roles: dict[str, str]
    via: str  # open | token | user-token | session | proxy

    def role(self, project: str) -> str | None:
        return role_in(self.roles, project)


OPEN = Identity("anonymous", {ALL: "admin"}, "open")


@dataclass
class Access:
    """How the app checks callers (``app.state.access``)."""

    token: str | None = None
    users: bool = False
    proxy_header: str | None = None
    trusted_proxies: list[str] = field(default_factory=list)
    session_hours: float = 12.0
    max_failures: int = 5  # wrong sign-ins per client address ...
    failure_window: float = 300.0  # ... per this many seconds, then 429 until it passes
    secret: bytes = b""
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        env = os.environ.get("PREFECT_ARTIFACTS_UI_SECRET", "")
        self.secret = self.secret or env.encode() or secrets.token_bytes(32)
        self._networks = [ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies]
        if self.proxy_header:
            self.users = True

    @property
    def open(self) -> bool:
        return not (self.token or self.users)

    # -- who ----------------------------------------------------------------------------------
    def identify(self, request: Request) -> Identity | None:
        """The caller, or None when they must sign in. A wrong bearer token is never
        passed over for a cookie."""
        if self.open:
            return OPEN
        repo = request.app.state.repo
        if self.proxy_header and self.from_proxy(request):
            name = request.headers.get(self.proxy_header)
            if name:
                return self.user(repo, name.strip(), "proxy")
        given = request.headers.get("authorization", "")
        if given.lower().startswith("bearer "):
            return self.check_token(repo, given[7:].strip())
        return self.session(repo, request.cookies.get(SESSION_COOKIE, ""))

    def check_token(self, repo: Any, token: str) -> Identity | None:
        if self.token and hmac.compare_digest(token.encode(), self.token.encode()):
            return Identity(SHARED, {ALL: "admin"}, "token")
        if self.users and token:
            name = repo.catalog.user_of_token(token_hash(token))
            if name:
                return self.user(repo, name, "user-token")
        return None

    def user(self, repo: Any, name: str, via: str) -> Identity:
        try:
            roles = repo.catalog.roles_of(name) or {}
        except ArtifactError:
            roles = {}
        return Identity(name, roles, via)

    def from_proxy(self, request: Request) -> bool:
        host = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def secure(self, request: Request) -> bool:
        """Behind HTTPS: the request's own scheme, or a trusted proxy's X-Forwarded-Proto."""
        if request.url.scheme == "https":
            return True
        forwarded = request.headers.get("x-forwarded-proto", "")
        return self.from_proxy(request) and forwarded.split(",")[0].strip() == "https"

    # -- sessions -----------------------------------------------------------------------------
    def new_session(self, identity: Identity) -> str:
        expires = int(time.time() + self.session_hours * 3600)
        body = json.dumps({"u": identity.name, "v": identity.via, "e": expires}).encode()
        data = base64.urlsafe_b64encode(body).decode().rstrip("=")
        return f"{data}.{self._sign(data)}"

    def session(self, repo: Any, cookie: str) -> Identity | None:
        data, _, signature = cookie.partition(".")
        if not data or not hmac.compare_digest(signature, self._sign(data)):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
        except ValueError:
            return None
        if body.get("e", 0) < time.time():
            return None
        if body.get("v") == "token":
            return Identity(SHARED, {ALL: "admin"}, "session") if self.token else None
        if not self.users:
            return None
        roles = repo.catalog.roles_of(str(body.get("u")))  # None: the user was removed
        return Identity(str(body.get("u")), roles, "session") if roles is not None else None

    def _sign(self, data: str) -> str:
        return hmac.new(self.secret, data.encode(), hashlib.sha256).hexdigest()

    # -- sign-in rate limit -------------------------------------------------------------------
    def blocked(self, client: str) -> float:
        """Seconds until ``client`` may try again (0: now)."""
        with self._lock:
            tries = self._failures.get(client)
            now = time.monotonic()
            while tries and tries[0] <= now - self.failure_window:
                tries.popleft()
            if tries is None or len(tries) < self.max_failures:
                return 0.0
            return tries[0] + self.failure_window - now

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.setdefault(client, deque()).append(time.monotonic())
            if len(self._failures) > 10_000:  # bounded: forget the oldest client
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


def identity_of(request: Request) -> Identity:
    return getattr(request.state, "identity", None) or OPEN


def path_project(path: str) -> str | None:
    """The project a page or API path is about, if any."""
    from urllib.parse import unquote

    match = _PROJECT_PATH.match(path)
    return unquote(match[1]) if match else None


def require(request: Request, project: str, action: str) -> Identity:
    """The caller, if they may do ``action`` (a write) in ``project``; else PermissionError
    naming the role it needs and the command that grants it."""
    if not request.app.state.allow_writes:
        raise PermissionError
    who = identity_of(request)
    needed = NEEDS[action]
    have = who.role(project)
    if rank(have) < rank(needed):
        raise PermissionError(
            f"{who.name} is {have or 'not a member'} on project {project!r}; {action} needs "
            f"{needed}: an admin runs `prefect-artifacts users add {who.name} --project "
            f"{project} --role {needed}`"
        )
    return who


def audit(
    request: Request,
    action: str,
    project: str,
    key: str | None = None,
    version: int | None = None,
    **detail: Any,
) -> None:
    """Record a write that has happened, with who made it."""
    request.app.state.repo.catalog.record_audit(
        identity_of(request).name, action, project, key, version, detail
    )
