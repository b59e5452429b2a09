"""The JSON API (and page routes) through FastAPI's test client against a real repository."""

import hashlib
import html
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from prefect_artifacts import IntegrityError
from prefect_artifacts.web import create_app

from .web_data import fresh_repository, populate


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One populated repository for the read-only tests of this module."""
    repo = fresh_repository(tmp_path_factory.mktemp("web"))
    return repo, populate(repo)


@pytest.fixture
def data(shared):
    return shared[1]


@pytest.fixture
def client(shared):
    return TestClient(create_app(shared[0]))


@pytest.fixture
def own(repo):
    """A repository of the test's own, for tests that change or damage it."""
    return repo, populate(repo, pause=0)


@pytest.fixture
def writer(own):
    return TestClient(create_app(own[0], allow_writes=True))


def keys(response):
    assert response.status_code == 200, response.text
    return [item["key"] for item in response.json()["items"]]


API = "/api/projects/default/artifacts"


def test_projects(client):
    body = client.get("/api/projects").json()
    assert body[0]["project"] == "default" and body[0]["keys"] == 6


def test_search_filters(client, data):
    assert keys(client.get(API)) == ["config", "churn", "histogram", "events", "evil", "notes"]
    assert keys(client.get(API, params={"search": "ven"})) == ["events"]  # substring
    assert keys(client.get(API, params={"key": "c*"})) == ["config", "churn"]  # glob
    assert keys(client.get(API, params={"key": "churn"})) == ["churn"]  # a name: exactly
    assert keys(client.get(API, params={"key": "chur"})) == []
    assert keys(client.get(API, params={"kind": "datasets"})) == ["events"]
    assert keys(client.get(API, params={"kind": "models"})) == ["churn"]
    assert keys(client.get(API, params={"kind": "plots"})) == ["histogram"]
    assert keys(client.get(API, params={"kind": "other"})) == ["config", "evil", "notes"]
    assert keys(client.get(API, params={"labels": "team=bi"})) == ["notes"]
    assert keys(client.get(API, params=[("labels", "team=ml"), ("labels", "source=web")])) == [
        "events"
    ]
    assert keys(client.get(API, params={"labels": "source"})) == ["events"]
    since = data["mark"].isoformat()
    assert keys(client.get(API, params={"since": since})) == [
        "config",
        "churn",
        "histogram",
        "events",
    ]
    assert keys(client.get(API, params={"until": since})) == ["evil", "notes"]
    assert len(keys(client.get(API, params={"since": "1h"}))) == 6
    assert keys(client.get(API, params={"since": "1h"})) != []
    assert keys(client.get(API, params={"tag": "prod"})) == ["events"]
    assert client.get(API, params={"tag": "prod"}).json()["items"][0]["version"] == 1
    assert keys(client.get(API, params={"producer": "nobody"})) == []
    everything = client.get(API, params={"all_versions": "true"}).json()
    assert everything["total"] == 8


def test_pagination(client):
    first = client.get(API, params={"limit": 4}).json()
    second = client.get(API, params={"limit": 4, "offset": 4}).json()
    assert first["total"] == 6 and first["limit"] == 4 and len(first["items"]) == 4
    assert len(second["items"]) == 2
    assert {i["key"] for i in first["items"]}.isdisjoint(i["key"] for i in second["items"])
    assert "preview" not in first["items"][0] and "stats" not in first["items"][0]


def test_one_version_and_versions(client, data):
    latest = client.get(f"{API}/events").json()
    assert latest["version"] == 2 and latest["rows"] == 500 and len(latest["preview"]) == 20
    assert latest["stats"]["amount"]["hist"]["counts"]
    assert client.get(f"{API}/events", params={"version": 1}).json()["version"] == 1
    assert client.get(f"{API}/events", params={"tag": "prod"}).json()["version"] == 1
    assert client.get(f"{API}/events/versions/1").json()["hash"] == data["events_v1"].hash
    assert [v["version"] for v in client.get(f"{API}/events/versions").json()] == [2, 1]


def test_download_content_and_extra(client, repo, data):
    v = data["events_v2"]
    response = client.get(f"{API}/events/versions/2/download")
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == v.hash
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    assert 'attachment; filename="events-v2.parquet"' in response.headers["content-disposition"]
    assert response.headers["content-length"] == str(v.size)
    image = client.get(f"{API}/histogram/versions/1/content")
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"].startswith("inline")
    assert image.content == data["plot"].load()
    extra = client.get(f"{API}/churn/versions/2/extra/readme")
    assert extra.content == b"read me" and "attachment" in extra.headers["content-disposition"]
    assert client.get(f"{API}/churn/versions/2/extra/confusion").content == data["plot"].load()


def test_lineage_and_diff(client):
    graph = client.get(f"{API}/events/lineage", params={"direction": "down"}).json()
    assert graph["root"] == "default/events:2" and graph["direction"] == "down"
    diff = client.get(f"{API}/events/diff", params={"a": 1, "b": 2}).json()
    assert diff["rows"] == [500, 500]
    assert diff["columns"] == [
        {"name": "visits", "change": "added", "old_type": None, "new_type": "int64"}
    ]
    mean = next(s for s in diff["stats"] if s["column"] == "amount" and s["stat"] == "mean")
    assert mean["new"] == pytest.approx(2 * mean["old"]) and mean["relative"] == pytest.approx(1.0)
    model = client.get(f"{API}/churn/diff", params={"a": 1, "b": 2}).json()
    auc = next(m for m in model["metrics"] if m["name"] == "auc")
    assert auc["delta"] == pytest.approx(0.05)
    assert any(m["name"] == "accuracy" and m["old"] is None for m in model["metrics"])


def test_writes_need_the_flag(client, writer):
    assert client.put(f"{API}/events/versions/2/tags/prod").status_code == 403
    assert "allow-writes" in client.delete(f"{API}/events/tags/prod").json()["detail"]
    assert client.delete(f"{API}/notes/versions/1").status_code == 403
    moved = writer.put(f"{API}/events/versions/2/tags/prod")
    assert moved.status_code == 200 and moved.json()["tags"] == ["prod"]
    assert writer.delete(f"{API}/events/tags/prod").json() == {"tag": "prod", "was_on_version": 2}
    assert writer.delete(f"{API}/notes/versions/1").json() == {"deleted": [1]}
    assert writer.delete(f"{API}/config").json() == {"deleted": [1]}
    assert writer.get(f"{API}/config").status_code == 404


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        (f"{API}/nope", 404, "'nope' not found"),
        (f"{API}/events/versions/9", 404, "no version 9"),
        (f"{API}/events/versions/abc", 400, "version"),
        (f"{API}/events?version=0", 400, "between 1 and"),
        (f"{API}/events?version={2**64}", 400, "between 1 and"),
        (f"{API}/events?tag=latest", 400, "reserved"),
        (f"{API}?labels=bad%20label=x", 400, "label name"),
        (f"{API}?since=yesterday-ish", 400, "not a time"),
        (f"{API}?limit=5000", 400, "limit: must be between 1 and 1000"),
        (f"{API}?offset=-1", 400, "offset"),
        (f"{API}?sort=size2", 400, "cannot sort by"),
        (f"{API}?bogus=1", 400, "is not a filter"),
        (f"{API}?kind=%3Cscript%3E", 400, "unknown kind"),
        (f"{API}?since=2y", 400, "not a time"),
        (f"{API}/..%5C..%5Cetc/versions/1/download", 400, "invalid artifact key"),
        (f"{API}/%2E%2E/versions/1/download", 400, "invalid artifact key"),
        (f"{API}/..%2F..%2Fetc%2Fpasswd/versions/1/download", 404, ""),
        (f"{API}/churn/versions/2/extra/{quote('../../etc/passwd', safe='')}", 404, ""),
        (f"{API}/churn/versions/2/extra/..x", 400, "extra_data name"),
        (f"{API}/churn/versions/2/extra/nothing", 404, "no extra data 'nothing'"),
        ("/api/projects/..%2F/artifacts", 404, ""),
        ("/api/projects/bad%20project/artifacts", 400, "project name"),
        (f"{API}/events/lineage?direction=sideways", 400, "direction"),
        (f"{API}/events/lineage?depth=99", 400, "depth"),
        (f"{API}/events/diff?a=1", 400, "b"),
        (f"{API}?search={'x' * 300}", 400, "longer than"),
        (f"{API}?search={'x' * 5000}", 414, "query string"),
        (f"{API}?key=*a*a*a*a*a*a*a*a*a[z]", 400, "at most 8 wildcards"),
        ("/api/projects/nope/artifacts", 404, "project 'nope' not found"),
    ],
)
def test_bad_input_is_a_clear_4xx(client, url, status, message):
    response = client.get(url)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def test_pages_escape_every_stored_value(client):
    page = client.get("/projects/default/artifacts", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    detail = client.get("/projects/default/artifacts/evil").text
    assert "<img src=x" not in detail and "&lt;img src=x onerror=alert(2)&gt;" in detail
    notes = client.get("/projects/default/artifacts/notes").text
    assert "plain &lt;b&gt;text&lt;/b&gt; &amp; more" in notes


def test_pages_render(client):
    for url in (
        "/projects",
        "/projects/default/artifacts?kind=plots",
        "/projects/default/artifacts/events",
        "/projects/default/artifacts/churn",
        "/projects/default/artifacts/histogram",
        "/projects/default/artifacts/events/diff?a=1&b=2",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    assert client.get("/", follow_redirects=False).status_code == 303
    html_404 = client.get("/projects/default/artifacts/nope", headers={"accept": "text/html"})
    assert html_404.status_code == 404 and "not found" in html_404.text and "<html" in html_404.text


def test_stored_content_never_runs_as_this_site(repo):
    from prefect_artifacts import ArtifactContext

    ctx = ArtifactContext(repo)
    ctx.log_plot("vec", b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>")
    ctx.log_plot("page", b"<html><script>1</script></html>", format="html")
    ctx.log_artifact(
        "xhtml", "<html xmlns='http://www.w3.org/1999/xhtml'><script>1</script>", format="xhtml"
    )
    client = TestClient(create_app(repo))
    svg = client.get(f"{API}/vec/versions/1/content")
    assert svg.headers["content-security-policy"] == "sandbox"
    assert svg.headers["x-content-type-options"] == "nosniff"
    html = client.get(f"{API}/page/versions/1/content")
    assert html.headers["content-security-policy"] == "sandbox allow-scripts"
    xhtml = client.get(f"{API}/xhtml/versions/1/content")  # not on the inline list
    assert xhtml.headers["content-disposition"].startswith("attachment")
    assert xhtml.headers["content-security-policy"] == "sandbox"


def test_producer_links_are_http_only(repo):
    from prefect_artifacts import Producer

    repo.log(
        "linked",
        b"x",
        producer=Producer(
            kind="prefect", flow_name="f", flow_run_name="r", ui_url="javascript:alert(1)"
        ),
    )
    page = TestClient(create_app(repo)).get("/projects/default/artifacts").text
    assert "javascript:alert" not in page


def test_login_never_redirects_off_site(shared):
    client = TestClient(create_app(shared[0], token="t"))
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = client.post(
            "/login", data={"token": "t", "next": target}, follow_redirects=False
        )
        assert response.headers["location"] == "/projects", target
    ok = client.post(
        "/login", data={"token": "t", "next": "/projects/default/artifacts"}, follow_redirects=False
    )
    assert ok.headers["location"] == "/projects/default/artifacts"


def test_cross_site_writes_and_foreign_hosts_are_refused(own):
    repo, _ = own
    client = TestClient(create_app(repo, allow_writes=True))
    form = "/projects/default/artifacts/events/versions/2/tag"
    evil = client.post(
        form,
        data={"tag": "pwned", "csrf": client.app.state.csrf},
        headers={"origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert evil.status_code == 403 and "cross-site" in evil.json()["detail"]
    assert "pwned" not in repo.get("events:2").tags
    same = client.post(
        form,
        data={"tag": "ok", "csrf": client.app.state.csrf},
        headers={"origin": "http://testserver"},
        follow_redirects=False,
    )
    assert same.status_code == 303 and "ok" in repo.get("events:2").tags
    forged = client.post(form, data={"tag": "forged"}, follow_redirects=False)  # no CSRF token
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    assert "forged" not in repo.get("events:2").tags
    guarded = TestClient(
        create_app(repo, allowed_hosts=["127.0.0.1", "localhost"]),
        base_url="http://rebound.example",
    )
    assert guarded.get(API).status_code == 400  # DNS rebinding: a foreign Host header


def test_bearer_token(shared):
    app = create_app(shared[0], token="s3cret")
    client = TestClient(app)
    assert client.get(API).status_code == 401
    assert client.get(API, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(API, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    page = client.get("/projects", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert client.post("/login", data={"token": "nope"}).status_code == 401
    signed = client.post(
        "/login", data={"token": "s3cret", "next": "/projects"}, follow_redirects=False
    )
    cookie = signed.cookies["pa_session"]  # a signed session, never the token itself
    assert signed.status_code == 303 and "s3cret" not in cookie
    assert client.get("/projects").status_code == 200  # the cookie now authenticates


def test_corrupt_bytes_never_stream_whole(own):
    repo, data = own
    client = TestClient(create_app(repo))
    path = Path(data["events_v2"].target_path.removeprefix("file://"))
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF
    path.write_bytes(bytes(raw))
    response = client.get(f"{API}/events/versions/2/download")
    # the corruption shows at the end of the stream: the body stops short of Content-Length,
    # so no client mistakes it for a complete file
    assert len(response.content) < int(response.headers["content-length"])
    with pytest.raises(IntegrityError):
        data["events_v2"].load()


def test_downloads_stream_from_s3(s3_storage, tmp_path):
    from prefect_artifacts import ArtifactContext, Repository
    from prefect_artifacts.core.catalog import Catalog
    from prefect_artifacts.core.storage import Storage

    url, options = s3_storage
    repo = Repository(Storage.from_url(url, options), Catalog(f"sqlite:///{tmp_path / 'c.db'}"))
    payload = bytes(range(256)) * 20_000  # 5 MB: several streamed chunks
    ArtifactContext(repo).log_artifact("big", payload)
    response = TestClient(create_app(repo)).get(f"{API}/big/versions/1/download")
    assert response.status_code == 200 and response.content == payload


def test_openapi_lists_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/projects",
        "/api/projects/{project}/artifacts",
        "/api/projects/{project}/artifacts/{key}/versions/{version}/download",
        "/api/projects/{project}/artifacts/{key}/diff",
        "/api/projects/{project}/artifacts/{key}/lineage",
    ):
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_search_every_project_with_star(repo):
    from prefect_artifacts import ArtifactContext

    ArtifactContext(repo).log_artifact("here", b"1")
    ArtifactContext(repo, project="far").log_artifact("there", b"2")
    client = TestClient(create_app(repo))
    found = client.get("/api/projects/*/artifacts")
    assert found.status_code == 200, found.text
    assert {(i["project"], i["key"]) for i in found.json()["items"]} == {
        ("default", "here"),
        ("far", "there"),
    }
    page = client.get("/projects/*/artifacts", headers={"accept": "text/html"})
    assert page.status_code == 200 and "Artifacts in every project" in page.text
    assert 'href="/projects/far/artifacts/there?version=1"' in page.text


def test_label_values_with_spaces_from_the_search_form(repo):
    from prefect_artifacts import ArtifactContext

    ctx = ArtifactContext(repo)
    ctx.log_artifact("spaced", b"1", labels={"note": "hello world", "team": "ml"})
    ctx.log_artifact("hello", b"2", labels={"note": "hello", "world": "x"})
    client = TestClient(create_app(repo))

    def found(text: str) -> list[str]:
        page = client.get("/projects/default/artifacts", params={"labels": text})
        assert page.status_code == 200, page.text
        return sorted(set(re.findall(r'<tr data-key="([^"]+)"', page.text)))

    assert found("note=hello world") == ["spaced"]
    assert found('team=ml note="hello world"') == ["spaced"]
    assert found('"note=hello world" team=ml') == ["spaced"]
    assert found("note=hello") == ["hello"]
    page = client.get("/projects/default/artifacts", params={"labels": "note=hello world"})
    field = re.search(r'<input name="labels" value="([^"]*)"', page.text)[1]
    assert html.unescape(field) == 'note="hello world"'  # shown as one label


def test_versions_are_paged_to_the_last_version(repo):
    from prefect_artifacts import ArtifactContext

    ctx = ArtifactContext(repo)
    for n in range(1, 231):
        ctx.log_model("many", model={"n": n}, metrics={"auc": n / 1000})
    client = TestClient(create_app(repo))
    url, seen, pages = f"{API}/many/versions", [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200 and response.headers["x-total-count"] == "230"
        batch = [v["version"] for v in response.json()]
        assert 0 < len(batch) <= 100  # the default page
        seen += batch
        pages += 1
        found = re.search(r'<([^>]+)>; rel="next"', response.headers.get("link", ""))
        url = found[1] if found else None
    assert seen == list(range(230, 0, -1)) and pages == 3
    tail = client.get(f"{API}/many/versions", params={"limit": 50, "offset": 200})
    assert [v["version"] for v in tail.json()] == list(range(30, 0, -1))
    assert 'rel="prev"' in tail.headers["link"] and 'rel="next"' not in tail.headers["link"]
    assert client.get(f"{API}/many/versions", params={"limit": 5000}).status_code == 400
    # the page: 30 by default, then pages of at most 100 up to the oldest
    page = client.get("/projects/default/artifacts/many").text
    assert len(re.findall(r'data-version="(\d+)"', page)) == 30
    oldest = re.search(r'href="([^"]+)" id="versions-last"', page)[1]
    last = client.get("/projects/default/artifacts/many" + html.unescape(oldest)).text
    assert 'data-version="1"' in last and 'data-version="31"' not in last
    hundred = client.get("/projects/default/artifacts/many", params={"vlimit": 100, "voffset": 100})
    assert re.findall(r'data-version="(\d+)"', hundred.text)[:1] == ["130"]
    assert len(re.findall(r'data-version="(\d+)"', hundred.text)) == 100
    refused = client.get("/projects/default/artifacts/many", params={"vlimit": 1000})
    assert refused.status_code == 400 and "vlimit must be between 1 and 100" in refused.text
