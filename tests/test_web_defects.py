"""Smaller defects of the browser UI (issue 26, item 11), each checked through the app."""

from __future__ import annotations

import re

import pandas as pd
from fastapi.testclient import TestClient

from prefect_artifacts import ArtifactContext
from prefect_artifacts.web import create_app

HTML = {"accept": "text/html"}


def test_a_form_error_keeps_the_input_and_a_save_is_confirmed(repo):
    ArtifactContext(repo).log_artifact("notes", b"x", labels={"team": "ml"})
    app = create_app(repo, allow_writes=True)
    client = TestClient(app)
    page = "/projects/default/artifacts/notes/versions/1"
    typed = "team=data\nthis line has no equals sign"
    failed = client.post(
        f"{page}/labels", data={"labels": typed, "csrf": app.state.csrf}, headers=HTML
    )
    assert failed.status_code == 400
    assert "write each label as name=value" in failed.text and 'id="form-error"' in failed.text
    assert "this line has no equals sign</textarea>" in failed.text  # what was typed stays
    assert repo.get("notes").labels == {"team": "ml"}
    wrong = client.post(
        f"{page}/delete", data={"confirm": "nots", "csrf": app.state.csrf}, headers=HTML
    )
    assert wrong.status_code == 400 and 'name="confirm" value="nots"' in wrong.text
    saved = client.post(
        f"{page}/description",
        data={"description": "checked", "csrf": app.state.csrf},
        follow_redirects=False,
    )
    assert "done=description+saved" in saved.headers["location"]
    shown = client.get(saved.headers["location"], headers=HTML).text
    assert re.search(r'id="done">description saved<', shown)


def test_the_error_page_of_a_writable_server_says_so(repo):
    client = TestClient(create_app(repo, allow_writes=True))
    missing = client.get("/projects/default/artifacts/nothing", headers=HTML)
    assert missing.status_code == 404
    assert "read-write" in missing.text and "read-only" not in missing.text


def test_non_ascii_in_nested_cells_is_shown_as_it_is(repo):
    frame = pd.DataFrame({"tags": [{"lang": "日本語"}, {"lang": "Ελληνικά"}], "n": [1, 2]})
    ArtifactContext(repo).log_dataset("nested", frame)
    page = TestClient(create_app(repo)).get("/projects/default/artifacts/nested").text
    assert "日本語" in page and "\\u65e5" not in page


def test_more_rows_past_the_end_names_no_impossible_range(repo):
    ArtifactContext(repo).log_dataset("small", pd.DataFrame({"a": range(10)}))
    page = TestClient(create_app(repo)).get(
        "/projects/default/artifacts/small", params={"rows_from": 1_000_000}
    )
    assert page.status_code == 200
    assert "1,000,001–1,000,000" not in page.text and "No rows past row 10" in page.text


def test_compare_ticks_the_current_version_and_the_one_before(repo):
    ctx = ArtifactContext(repo)
    for n in range(4):
        ctx.log_artifact("doc", f"v{n}".encode())
    page = TestClient(create_app(repo)).get("/projects/default/artifacts/doc?version=2").text
    ticked = re.findall(r'value="doc:(\d+)" checked', page)
    assert ticked == ["2", "1"]


def test_compare_shows_iterations_only_differing_rows_and_aligned_gaps(repo):
    ctx = ArtifactContext(repo)
    for i, (lr, seed) in enumerate([(0.1, 1), (0.01, 1), (0.001, 1)]):
        ctx.log_model(
            "sweep",
            model={"i": i},
            iteration=i,
            metrics={"auc": 0.7 + i / 10, "fixed": 1.0},
            parameters={"lr": lr, "seed": seed, **({"depth": 3} if i else {})},
        )
    client = TestClient(create_app(repo))
    url = "/projects/default/compare?ref=sweep&all_versions=true"
    page = client.get(url).text
    row = re.search(r'<tr id="iteration-row">(.*?)</tr>', page, re.S)[1]
    assert sorted(re.findall(r"<td class=\"num\">(\d)</td>", row)) == ["0", "1", "2"]
    assert 'data-parameter="seed"' in page and 'data-metric="fixed"' in page
    # a missing number lines up with the numbers of its row
    depth = re.search(r'<tr data-parameter="depth".*?</tr>', page, re.S)[0]
    assert '<td class="num"><span class="muted">—</span></td>' in depth
    only = client.get(url + "&only_differing=true").text
    assert 'data-parameter="seed"' not in only and '<tr data-metric="fixed"' not in only
    assert 'data-parameter="lr"' in only and 'data-metric="auc"' in only
