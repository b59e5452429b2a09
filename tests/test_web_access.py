"""Team access: users and roles per project, per-user API tokens (stored hashed), a trusted
proxy's identity header, signed expiring sessions, rate-limited sign-ins, and the audit trail
of every write — each role against each write endpoint, through the UI and the API."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from prefect_artifacts import ArtifactContext
from prefect_artifacts.cli import app as cli
from prefect_artifacts.core.access import new_token, token_hash
from prefect_artifacts.web import create_app
from prefect_artifacts.web.auth import SESSION_COOKIE, Access

ROLES = ("reader", "writer", "admin")
RANK = {None: 0, "reader": 1, "writer": 2, "admin": 3}
# each write: (action, the role it needs)
WRITES = [
    ("tag", "writer"),
    ("untag", "writer"),
    ("labels", "writer"),
    ("description", "writer"),
    ("delete", "admin"),
    ("delete-key", "admin"),
]
UI_WRITES = [w for w in WRITES if w[0] != "delete-key"]  # the UI deletes one version at a time


def grant(repo, name: str, roles: dict[str, str]) -> str:
    """A user with ``roles`` and a fresh API token (returned)."""
    repo.catalog.add_user(name, roles)
    token = new_token()
    repo.catalog.add_token(name, "default", token_hash(token))
    return token


@pytest.fixture
def team(repo):
    """Users with each role on project 'default' (and 'carol' only on project 'other')."""
    ctx = ArtifactContext(repo)
    ctx.log_artifact("seed", b"seed")
    ArtifactContext(repo, project="other").log_artifact("elsewhere", b"x")
    tokens = {role: grant(repo, f"{role}-user", {"default": role}) for role in ROLES}
    tokens["outsider"] = grant(repo, "carol", {"other": "admin"})
    return repo, tokens


def app_for(repo, **access):
    return create_app(repo, allow_writes=True, access=Access(users=True, **access))


def api_write(client: TestClient, action: str, key: str, headers: dict[str, str]):
    base = f"/api/projects/default/artifacts/{key}"
    if action == "tag":
        return client.put(f"{base}/versions/1/tags/prod", headers=headers)
    if action == "untag":
        return client.delete(f"{base}/tags/stable", headers=headers)
    if action == "labels":
        return client.put(f"{base}/versions/1/labels", json={"note": "hi there"}, headers=headers)
    if action == "description":
        return client.put(
            f"{base}/versions/1/description", json={"description": "new"}, headers=headers
        )
    if action == "delete":
        return client.delete(f"{base}/versions/1", headers=headers)
    return client.delete(base, headers=headers)


def ui_write(client: TestClient, action: str, key: str, csrf: str):
    base = f"/projects/default/artifacts/{key}"
    forms = {
        "tag": (f"{base}/versions/1/tag", {"tag": "prod"}),
        "untag": (f"{base}/tags/stable/remove", {}),
        "labels": (f"{base}/versions/1/labels", {"labels": "note=hi there"}),
        "description": (f"{base}/versions/1/description", {"description": "new"}),
        "delete": (f"{base}/versions/1/delete", {"confirm": key}),
    }
    path, fields = forms[action]
    return client.post(path, data={**fields, "csrf": csrf}, follow_redirects=False)


def changed(repo, action: str, key: str) -> bool:
    """Whether the write ``action`` on ``key`` took effect."""
    from prefect_artifacts.core.errors import ArtifactNotFoundError

    try:
        v = repo.get(f"{key}:1")
    except ArtifactNotFoundError:
        return action in ("delete", "delete-key")
    return {
        "tag": "prod" in v.tags,
        "untag": "stable" not in v.tags,
        "labels": v.labels == {"note": "hi there"},
        "description": v.description == "new",
    }.get(action, False)


def fresh_key(repo, name: str) -> str:
    ctx = ArtifactContext(repo)
    ctx.log_artifact(name, b"one")
    ctx.log_artifact(name, b"two")
    repo.tag(f"{name}:1", "stable")
    return name


def judged(repo, who: str, needed: str, action: str, key: str, response, ok: int):
    """``who`` succeeded (status ``ok``, the version changed) exactly when the role allows
    ``action``, else was refused with 403; returns (allowed, a description for messages)."""
    allowed = RANK.get(who, 0) >= RANK[needed]
    case = f"{who} {action}: {response.status_code} {response.text[:200]}"
    assert (response.status_code == ok) is allowed, case
    assert changed(repo, action, key) is allowed, case
    assert allowed or response.status_code == 403, case
    return allowed, case


def test_each_role_against_each_api_write(team):
    repo, tokens = team
    client = TestClient(app_for(repo))
    for who in (*ROLES, "outsider"):
        for action, needed in WRITES:
            key = fresh_key(repo, f"api-{who}-{action}")
            auth = {"Authorization": f"Bearer {tokens[who]}"}
            response = api_write(client, action, key, auth)
            allowed, case = judged(repo, who, needed, action, key, response, ok=200)
            if not allowed:
                assert "prefect-artifacts users add" in response.json()["detail"], case
            trail = repo.catalog.audit("default", key)
            assert [(e.user, e.action) for _, e in trail] == (
                [(f"{who}-user", action)] if allowed else []
            ), case


def test_each_role_against_each_ui_form(team):
    repo, tokens = team
    app = app_for(repo)
    for who in (*ROLES, "outsider"):
        client = TestClient(app)
        signed = client.post("/login", data={"token": tokens[who]}, follow_redirects=False)
        assert signed.status_code == 303 and SESSION_COOKIE in signed.cookies
        for action, needed in UI_WRITES:
            key = fresh_key(repo, f"ui-{who}-{action}")
            response = ui_write(client, action, key, app.state.csrf)
            allowed, case = judged(repo, who, needed, action, key, response, ok=303)
            users = [e.user for _, e in repo.catalog.audit("default", key)]
            assert users == ([f"{who}-user"] if allowed else []), case


def test_the_page_offers_only_the_forms_of_the_role(team):
    repo, tokens = team
    client = TestClient(app_for(repo))
    page = "/projects/default/artifacts/seed"
    for who, edit, delete in (
        ("reader", False, False),
        ("writer", True, False),
        ("admin", True, True),
    ):
        html = client.get(page, headers={"Authorization": f"Bearer {tokens[who]}"}).text
        assert ('id="edit-labels"' in html) is edit, who
        assert ('id="delete-form"' in html) is delete, who
        assert f"{who}-user" in html  # who is signed in shows in the header


def test_reads_need_a_role_on_the_project(team):
    repo, tokens = team
    client = TestClient(app_for(repo))
    carol = {"Authorization": f"Bearer {tokens['outsider']}"}
    assert [p["project"] for p in client.get("/api/projects", headers=carol).json()] == ["other"]
    assert client.get("/api/projects/other/artifacts", headers=carol).status_code == 200
    denied = client.get("/api/projects/default/artifacts", headers=carol)
    assert denied.status_code == 403 and "carol has no role on project 'default'" in denied.text
    # every project at once needs a grant on '*'
    assert client.get("/api/projects/*/artifacts", headers=carol).status_code == 403
    everyone = grant(repo, "dora", {"*": "reader"})
    found = client.get("/api/projects/*/artifacts", headers={"Authorization": f"Bearer {everyone}"})
    assert found.status_code == 200
    assert {i["project"] for i in found.json()["items"]} == {"default", "other"}


def test_bearer_tokens_are_checked_and_revocable(team):
    repo, tokens = team
    client = TestClient(app_for(repo))
    assert client.get("/api/projects").status_code == 401
    assert (
        client.get("/api/projects", headers={"Authorization": "Bearer pat_wrong"}).status_code
        == 401
    )
    auth = {"Authorization": f"Bearer {tokens['reader']}"}
    assert client.get("/api/projects", headers=auth).status_code == 200
    repo.catalog.revoke_token("reader-user", "default")
    assert client.get("/api/projects", headers=auth).status_code == 401
    # only the sha256 is in the catalog
    with repo.catalog.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT hash FROM artifact_user_tokens")).scalars().all()
    assert tokens["admin"] not in stored and token_hash(tokens["admin"]) in stored


def test_sessions_are_signed_expiring_and_secure_behind_https(team):
    repo, tokens = team
    plain = TestClient(app_for(repo))
    signed = plain.post("/login", data={"token": tokens["reader"]}, follow_redirects=False)
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Max-Age=43200" in cookie and "Secure" not in cookie
    assert tokens["reader"] not in cookie
    assert plain.get("/projects").status_code == 200
    # a tampered cookie is refused
    value = signed.cookies[SESSION_COOKIE]
    forged = TestClient(app_for(repo), cookies={SESSION_COOKIE: "x" + value})
    assert forged.get("/projects", follow_redirects=False).status_code == 303
    # https (directly, or X-Forwarded-Proto from a trusted proxy): Secure
    https = TestClient(app_for(repo), base_url="https://testserver")
    secure = https.post("/login", data={"token": tokens["reader"]}, follow_redirects=False)
    assert "Secure" in secure.headers["set-cookie"]
    proxied = TestClient(app_for(repo, trusted_proxies=["10.0.0.0/8"]), client=("10.1.2.3", 1))
    forwarded = proxied.post(
        "/login",
        data={"token": tokens["reader"]},
        headers={"X-Forwarded-Proto": "https"},
        follow_redirects=False,
    )
    assert "Secure" in forwarded.headers["set-cookie"]
    untrusted = TestClient(app_for(repo)).post(
        "/login",
        data={"token": tokens["reader"]},
        headers={"X-Forwarded-Proto": "https"},
        follow_redirects=False,
    )
    assert "Secure" not in untrusted.headers["set-cookie"]
    # an expired session is refused; logout ends one
    expired = Access(users=True, session_hours=-1)
    old = expired.new_session(expired.user(repo, "reader-user", "session"))
    stale = TestClient(create_app(repo, access=expired), cookies={SESSION_COOKIE: old})
    assert stale.get("/projects", follow_redirects=False).status_code == 303
    out = plain.post("/logout", follow_redirects=False)
    assert out.status_code == 303 and 'pa_session=""' in out.headers["set-cookie"]
    assert plain.get("/projects", follow_redirects=False).status_code == 303


def test_wrong_sign_ins_are_rate_limited_per_address(team):
    repo, tokens = team
    app = create_app(repo, access=Access(users=True, max_failures=3))
    attacker = TestClient(app, client=("192.0.2.1", 1))
    for _ in range(3):
        assert attacker.post("/login", data={"token": "guess"}).status_code == 401
    blocked = attacker.post("/login", data={"token": tokens["reader"]}, follow_redirects=False)
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    # wrong bearer tokens on the API count the same way
    script = TestClient(app, client=("192.0.2.3", 1))
    for _ in range(3):
        wrong = script.get("/api/projects", headers={"Authorization": "Bearer pat_guess"})
        assert wrong.status_code == 401
    right = script.get("/api/projects", headers={"Authorization": f"Bearer {tokens['reader']}"})
    assert right.status_code == 429 and "too many wrong tokens" in right.json()["detail"]
    other = TestClient(app, client=("192.0.2.2", 1))
    assert (
        other.post("/login", data={"token": tokens["reader"]}, follow_redirects=False).status_code
        == 303
    )


def test_the_proxy_header_counts_only_from_trusted_proxies(team):
    repo, _ = team
    app = app_for(repo, proxy_header="X-Forwarded-User", trusted_proxies=["127.0.0.1"])
    header = {"X-Forwarded-User": "writer-user"}
    proxy = TestClient(app, client=("127.0.0.1", 1))
    assert proxy.get("/api/projects/default/artifacts", headers=header).status_code == 200
    key = fresh_key(repo, "proxied")
    assert (
        proxy.put(
            f"/api/projects/default/artifacts/{key}/versions/1/tags/prod", headers=header
        ).status_code
        == 200
    )
    assert [e.user for _, e in repo.catalog.audit("default", key)] == ["writer-user"]
    # the same header from anywhere else is ignored: sign in needed
    direct = TestClient(app, client=("203.0.113.9", 1))
    assert direct.get("/api/projects/default/artifacts", headers=header).status_code == 401
    # a proxy user with no role is told who to ask
    stranger = proxy.get(
        "/projects/default/artifacts", headers={"X-Forwarded-User": "eve@example.com"}
    )
    assert stranger.status_code == 403 and "eve@example.com has no role" in stranger.text


def test_the_shared_token_still_works_and_is_admin(repo):
    ArtifactContext(repo).log_artifact("seed", b"seed")
    client = TestClient(create_app(repo, allow_writes=True, token="s3cret"))
    auth = {"Authorization": "Bearer s3cret"}
    tagged = client.put("/api/projects/default/artifacts/seed/versions/1/tags/prod", headers=auth)
    assert tagged.status_code == 200
    assert [e.user for _, e in repo.catalog.audit("default", "seed")] == ["token"]
    signed = client.post("/login", data={"token": "s3cret"}, follow_redirects=False)
    assert signed.status_code == 303 and "s3cret" not in signed.headers["set-cookie"]


def test_audit_views_per_version_and_per_project(team):
    repo, tokens = team
    client = TestClient(app_for(repo))
    auth = {"Authorization": f"Bearer {tokens['writer']}"}
    key = fresh_key(repo, "audited")
    for n in range(3):
        client.put(f"/api/projects/default/artifacts/{key}/versions/1/tags/t{n}", headers=auth)
    client.put(
        f"/api/projects/default/artifacts/{key}/versions/2/labels",
        json={"a": "<b>x</b>"},
        headers=auth,
    )
    page = client.get(f"/projects/default/artifacts/{key}?version=2", headers=auth).text
    history = page.split('id="audit-version"')[1].split("</table>")[0]
    assert "labels" in history and "&lt;b&gt;x&lt;/b&gt;" in history and "t0" not in history
    trail = client.get("/projects/default/audit", headers=auth).text
    assert trail.count("writer-user") >= 4 and f"{key}:1" in trail
    first = client.get("/api/projects/default/audit", params={"limit": 2}, headers=auth).json()
    assert [i["action"] for i in first["items"]] == ["labels", "tag"] and first["next"]
    rest = client.get(
        "/api/projects/default/audit", params={"limit": 2, "before": first["next"]}, headers=auth
    ).json()
    assert [i["detail"]["tag"] for i in rest["items"]] == ["t1", "t0"] and rest["next"] is None
    one = client.get(
        "/api/projects/default/audit", params={"key": key, "version": 2}, headers=auth
    ).json()
    assert [i["action"] for i in one["items"]] == ["labels"]


def test_users_commands(env_repo):
    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "alice", "--role", "writer", "--project", "ml"])
    assert added.exit_code == 0 and "added alice: writer on project ml" in added.output
    token = runner.invoke(cli, ["users", "token", "alice"])
    assert token.exit_code == 0
    secret = token.output.strip()
    assert (
        secret.startswith("pat_") and env_repo.catalog.user_of_token(token_hash(secret)) == "alice"
    )
    listed = runner.invoke(cli, ["users", "list", "--json"])
    assert '"ml": "writer"' in listed.output and '"default"' in listed.output
    again = runner.invoke(cli, ["users", "token", "alice"])
    assert again.exit_code == 2 and "already has a token named 'default'" in again.output
    bad = runner.invoke(cli, ["users", "add", "alice", "--role", "owner"])
    assert bad.exit_code == 2 and "unknown role 'owner'; use reader, writer, admin" in bad.output
    missing = runner.invoke(cli, ["users", "token", "bob"])
    assert missing.exit_code == 3 and "prefect-artifacts users add bob" in missing.output
    assert runner.invoke(cli, ["users", "remove", "alice"]).exit_code == 0
    assert env_repo.catalog.user_of_token(token_hash(secret)) is None
    proxy = runner.invoke(cli, ["ui", "--proxy-header", "X-Forwarded-User"])
    assert proxy.exit_code == 2 and "--trusted-proxy" in proxy.output
