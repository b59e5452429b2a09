"""Events that automations rely on, against a real Prefect server: every way a tag moves sends
exactly one ``prefect-artifacts.tag.moved`` (previous version in its payload), and every way a
tag leaves a version (untag, deleting the version, deleting its key) one
``prefect-artifacts.tag.removed`` per tag; a CLI command and a script that ends right after a change
deliver their events with no traceback; an unreachable server costs one warning line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

import prefect_artifacts as pa
from prefect_artifacts.prefect import registration
from prefect_artifacts.web import create_app

pytestmark = pytest.mark.usefixtures("prefect_server")
CLI = str(Path(sys.executable).with_name("prefect-artifacts"))


def resource(key: str, version: int) -> str:
    return f"prefect-artifacts.artifact.default.{key}.{version}"


def read_events(name: str, resource_id: str) -> list:
    with get_client(sync_client=True) as client:
        return client.read_events(
            filter=EventFilter(
                event=EventNameFilter(name=[name]), resource=EventResourceFilter(id=[resource_id])
            ),
            limit=50,
        ).events


def arrived(expected: dict[tuple[str, str], int], timeout: float = 120) -> dict:
    """The events of each (name, resource), once at least the expected number of each has
    arrived (then read once more, so that a duplicate sent with them would show)."""
    deadline = time.monotonic() + timeout
    while True:
        found = {k: read_events(*k) for k in expected}
        if all(len(found[k]) >= n for k, n in expected.items()) or time.monotonic() > deadline:
            return {k: read_events(*k) for k in expected}
        time.sleep(0.3)


def subprocess_env(tmp_path: Path, api_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_API_URL": api_url,
        "PREFECT_ARTIFACTS_STORAGE_URL": os.environ["PREFECT_ARTIFACTS_STORAGE_URL"],
        "PREFECT_ARTIFACTS_CATALOG_URL": os.environ["PREFECT_ARTIFACTS_CATALOG_URL"],
        "PREFECT_CLIENT_MAX_RETRIES": "0",
    }


def test_every_tag_path_sends_exactly_one_tag_moved(env_repo, tmp_path):
    from prefect.settings import PREFECT_API_URL

    @task
    def train(key: str, i: int, tag: str | None = None):
        return pa.log_model(key, body=f"weights {i}".encode(), metrics={"auc": i / 10}, tag=tag)

    @flow
    def log_time():
        train("by-log", 1, "prod")
        train("by-log", 2, "prod")  # moves prod from 1 to 2 as it logs
        train("by-log", 2, "prod")  # identical content, tag already there: nothing moves

    @flow
    def promote():
        train("by-call", 1)
        train("by-call", 2)
        pa.tag_artifact("by-call:1", "prod")
        pa.tag_artifact("by-call:2", "prod")
        pa.tag_artifact("by-call:2", "prod")  # already there: nothing moves

    @flow
    def best():
        train("by-best", 1)
        train("by-best", 2)
        return pa.best("by-best", metric="auc", tag="prod")

    log_time()
    promote()
    assert best().version == 2
    for i in (1, 2):
        pa.log_artifact("by-cli", f"content {i}".encode())
        pa.log_artifact("by-api", f"content {i}".encode())
    pa.tag_artifact("by-cli:1", "prod")
    pa.tag_artifact("by-api:1", "prod")
    cli = subprocess.run(
        [CLI, "tag", "by-cli:2", "prod"],
        env=subprocess_env(tmp_path, PREFECT_API_URL.value()),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    assert "Traceback" not in cli.stderr and "atexit" not in cli.stderr, cli.stderr
    api = TestClient(create_app(env_repo, allow_writes=True))
    assert api.put("/api/projects/default/artifacts/by-api/versions/2/tags/prod").status_code == 200
    assert api.delete("/api/projects/default/artifacts/by-api/tags/prod").status_code == 200
    pa.flush_registrations()

    moved, removed = registration.TAG_MOVED, registration.TAG_REMOVED
    expected = {
        (moved, resource("by-log", 1)): 1,
        (moved, resource("by-log", 2)): 1,
        (moved, resource("by-call", 1)): 1,
        (moved, resource("by-call", 2)): 1,
        (moved, resource("by-best", 2)): 1,
        (moved, resource("by-cli", 1)): 1,
        (moved, resource("by-cli", 2)): 1,
        (moved, resource("by-api", 2)): 1,
        (removed, resource("by-api", 2)): 1,
    }
    found = arrived(expected)
    assert {k: len(v) for k, v in found.items()} == expected
    payload = {k[1].rsplit(".", 2)[1] + f":{k[1][-1]}": v[0].payload for k, v in found.items()}
    assert payload["by-log:1"] == {"tag": "prod", "version": 1, "previous": None}
    assert payload["by-log:2"] == {"tag": "prod", "version": 2, "previous": 1}
    assert payload["by-call:2"] == {"tag": "prod", "version": 2, "previous": 1}
    assert payload["by-best:2"] == {"tag": "prod", "version": 2, "previous": None}
    assert payload["by-cli:2"] == {"tag": "prod", "version": 2, "previous": 1}
    assert found[(removed, resource("by-api", 2))][0].payload == {
        "tag": "prod",
        "version": 2,
        "deleted": False,
    }
    by_log = found[(moved, resource("by-log", 2))][0]
    assert any(r.role == "flow-run" for r in by_log.related)  # the run that moved it


def test_every_way_a_tag_leaves_sends_exactly_one_tag_removed(env_repo):
    @task
    def log(key: str, i: int):
        return pa.log_artifact(key, f"{key} {i}".encode())

    @flow
    def cleanup():
        for i in (1, 2, 3):
            log("leaves-untag", i)
            log("leaves-version", i)
            log("leaves-key", i)
        pa.tag_artifact("leaves-untag:2", "prod")
        pa.untag_artifact("leaves-untag@prod")
        pa.tag_artifact("leaves-version:2", "prod")
        pa.tag_artifact("leaves-version:2", "staging")
        pa.tag_artifact("leaves-version:3", "latest-good")  # stays: its version stays
        pa.delete_artifact("leaves-version:2")
        pa.tag_artifact("leaves-key:1", "prod")
        pa.tag_artifact("leaves-key:3", "staging")

    cleanup()
    pa.delete_artifact("leaves-key")  # outside a run: a configured server still hears it
    pa.flush_registrations()

    removed = registration.TAG_REMOVED
    expected = {
        (removed, resource("leaves-untag", 2)): 1,
        (removed, resource("leaves-version", 2)): 2,
        (removed, resource("leaves-version", 3)): 0,
        (removed, resource("leaves-key", 1)): 1,
        (removed, resource("leaves-key", 3)): 1,
    }
    found = arrived(expected)
    assert {k: len(v) for k, v in found.items()} == expected
    untagged = found[(removed, resource("leaves-untag", 2))][0]
    assert untagged.payload == {"tag": "prod", "version": 2, "deleted": False}
    assert any(r.role == "flow-run" for r in untagged.related)  # the run that removed it
    with_version = found[(removed, resource("leaves-version", 2))]
    assert sorted((e.payload["tag"], e.payload["deleted"]) for e in with_version) == [
        ("prod", True),
        ("staging", True),
    ]
    assert all(e.payload["version"] == 2 for e in with_version)
    assert all(e.resource["prefect-artifacts.tag"] == e.payload["tag"] for e in with_version)
    assert with_version[0].resource["prefect-artifacts.kind"] == "artifact"
    with_key = [found[(removed, resource("leaves-key", n))][0] for n in (1, 3)]
    assert [(e.payload["tag"], e.payload["version"]) for e in with_key] == [
        ("prod", 1),
        ("staging", 3),
    ]
    assert not any(r.role == "flow-run" for e in with_key for r in e.related)


def test_a_script_whose_last_line_tags_delivers_its_event(env_repo, tmp_path):
    from prefect.settings import PREFECT_API_URL

    pa.log_artifact("last-line", b"one")
    pa.log_artifact("last-line", b"two")
    script = "import prefect_artifacts as pa\npa.tag_artifact('last-line:2', 'prod')\n"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=subprocess_env(tmp_path, PREFECT_API_URL.value()),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "atexit" not in result.stderr, result.stderr
    key = (registration.TAG_MOVED, resource("last-line", 2))
    assert len(arrived({key: 1})[key]) == 1


def test_an_unreachable_server_costs_one_warning_line(env_repo, tmp_path):
    pa.log_artifact("unreached", b"one")
    pa.log_artifact("unreached", b"two")
    result = subprocess.run(
        [CLI, "tag", "unreached:2", "prod"],
        env=subprocess_env(tmp_path, "http://127.0.0.1:9/api"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "unreached:2 is now tagged prod" in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "could not be updated" in lines[0] and "tag.moved prod → default/unreached:2" in lines[0]
    assert pa.get_artifact("unreached@prod").version == 2  # the change itself stands


def test_the_exit_warning_survives_a_closed_log_stream(env_repo, tmp_path):
    """At exit a handler's stream may be closed already (pytest's capture does that): the
    warning still reaches stderr as one line, with no "Logging error" traceback."""
    pa.log_artifact("closed-stream", b"one")
    script = (
        "import logging, os\n"
        "stream = open(os.devnull, 'w')\n"
        "logging.getLogger().addHandler(logging.StreamHandler(stream))\n"
        "import prefect_artifacts as pa\n"
        "pa.tag_artifact('closed-stream:1', 'prod')\n"
        "stream.close()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=subprocess_env(tmp_path, "http://127.0.0.1:9/api"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "could not be updated" in lines[0] and "closed-stream:1" in lines[0]


def test_a_sweep_logged_by_one_run_shares_one_card_and_keeps_every_event(env_repo):
    """Iterations one run logs of one key make one card on the run — created with the first
    batch, rewritten by the later ones to list the iterations above the newest version's card
    — instead of one card each; every iteration still sends its own logged event."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from prefect_artifacts.prefect.keys import prefect_key

    @flow
    def sweep() -> str:
        from prefect.runtime import flow_run

        for i in range(40):
            pa.log_model(
                "sweep-card", body=f"weights {i}".encode(),
                metrics={"auc": i / 100, "loss | `x`": 1 - i / 100}, iteration=i,
            )  # fmt: skip
            if i in (0, 19):
                pa.flush_registrations()  # batch boundaries: one create, then rewrites
        pa.flush_registrations()
        pa.delete_artifact("sweep-card:40")  # its card goes: the next iteration makes a new one
        pa.flush_registrations()
        pa.log_model("sweep-card", body=b"weights 40", metrics={"auc": 0.4}, iteration=40)
        return str(flow_run.id)

    run_id = sweep()
    pa.flush_registrations()
    with get_client(sync_client=True) as client:
        cards = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[prefect_key("default", "sweep-card")])
            )
        )
    assert [str(c.flow_run_id) for c in cards] == [run_id]
    card, newest = cards[0], pa.get_artifact("sweep-card")
    assert (newest.version, newest.iteration) == (41, 40)
    assert card.metadata_[registration.META_UID] == newest.uid
    assert card.description == "sweep of default/sweep-card: 40 iterations"
    assert "40 iterations logged by this run" in card.data and "version 41" in card.data
    rows = [line for line in card.data.splitlines() if line.startswith("| ") and line[2].isdigit()]
    iterations = [int(r.split("|")[1]) for r in rows]
    assert iterations == [*range(10, 39), 40]  # the 30 most recent (version 40 was deleted)
    assert rows[-1].split("|")[3].strip() == "0.4"
    assert "| `` loss \\| `x` `` |" in card.data  # a hostile metric name stays a code span
    assert f"prefect-artifacts ls -k sweep-card -a --producer {run_id}" in card.data
    logged = arrived(
        {
            (registration.LOGGED, f"prefect-artifacts.artifact.default.sweep-card.{n}"): 1
            for n in (1, 20, 41)
        }
    )
    assert all(len(found) == 1 for found in logged.values())
