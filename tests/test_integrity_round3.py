"""Issue 24, round 3 (integrity and security items): journal replay, signed journals and
manifests, keyless writers, range requests, gc leases, retries, depth limits. Each test failed on
the code before its fix."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import pytest

from prefect_artifacts import ArtifactContext, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.errors import ArtifactNotFoundError
from prefect_artifacts.core.maintenance import reindex
from prefect_artifacts.core.settings import ArtifactSettings
from prefect_artifacts.core.storage import Storage
from tests.conftest import drop_catalog, snapshot


def make_repo(root: Path, **settings) -> Repository:
    return Repository(
        Storage.from_url(str(root / "store")),
        Catalog(f"sqlite:///{root / 'c.db'}"),
        owner="tester",
        settings=ArtifactSettings(owner="tester", **settings),
    )


def rebuilt(repo: Repository, **settings) -> tuple[Repository, object]:
    """Lose the catalog, rebuild it from storage; returns (the new repository, the report)."""
    repo.drain(full=True)
    drop_catalog(repo.catalog.engine)
    again = Repository(
        repo.storage,
        Catalog(repo.catalog.url),
        owner="tester",
        settings=ArtifactSettings(owner="tester", **settings),
    )
    return again, reindex(again)


# -- 2 reindex replays the journal to exactly the live catalog -------------------------------------
def test_2_a_tag_moved_to_a_deleted_version_is_not_put_back(tmp_path):
    repo = make_repo(tmp_path)
    ctx = ArtifactContext(repo)
    ctx.log_artifact("k", b"one")
    repo.tag("k:1", "prod")
    ctx.log_artifact("k", b"two")
    repo.tag("k:2", "prod")
    repo.delete("k:2")
    with pytest.raises(ArtifactNotFoundError):
        repo.get("k@prod")
    live = snapshot(repo.catalog)
    again, report = rebuilt(repo)
    assert report.skipped == {}
    assert snapshot(again.catalog) == live
    with pytest.raises(ArtifactNotFoundError):
        again.get("k@prod")


def _random_history(repo: Repository, rng: random.Random, steps: int) -> None:
    ctx = ArtifactContext(repo)
    keys = ["a", "b"]
    content = 0
    for _ in range(steps):
        key = rng.choice(keys)
        numbers = (
            [v.version for v in repo.versions(key)] if repo.catalog.latest("default", key) else []
        )
        op = rng.choice(
            ["log", "log", "tag", "untag", "labels", "describe", "revise", "delete"]
            if numbers
            else ["log"]
        )
        number = rng.choice(numbers) if numbers else None
        tag = rng.choice(["prod", "staging"])
        if op == "log":
            content += 1
            ctx.log_model(
                key,
                body=f"model {content}".encode(),
                model_file="m.bin",
                metrics={"auc": rng.random()},
                tag=tag if rng.random() < 0.5 else None,
                labels={"team": rng.choice(["x", "y"])},
            )
        elif op == "tag":
            repo.tag(f"{key}:{number}", tag)
        elif op == "untag":
            with contextlib.suppress(ArtifactNotFoundError):
                repo.untag(key, tag)
        elif op == "labels":
            repo.set_labels(
                f"{key}:{number}", {rng.choice(["team", "x"]): "v"}, replace=rng.random() < 0.5
            )
        elif op == "describe":
            repo.set_description(f"{key}:{number}", rng.choice([None, "d1", "d2"]))
        elif op == "revise":
            repo.revise(
                f"{key}:{number}",
                metrics={"auc": rng.random()},
                labels={"team": rng.choice(["x", "z"])},
                description=rng.choice(["r1", "r2"]),
            )
        elif rng.random() < 0.2:
            repo.delete(key)  # the whole key; its numbers are never reused
        else:
            repo.delete(f"{key}:{number}")


@pytest.mark.parametrize("seed", [*range(8), 17])
def test_2_replaying_any_history_gives_exactly_the_live_catalog(tmp_path, seed):
    repo = make_repo(tmp_path)
    _random_history(repo, random.Random(seed), 40)
    live = snapshot(repo.catalog)
    again, report = rebuilt(repo)
    assert report.skipped == {}
    assert snapshot(again.catalog) == live
