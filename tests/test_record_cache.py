"""Version records read again while unchanged come from a small cache keyed by their stamp
(row id, uid, updated_at, key sequence): every kind of change is seen at once, also when
another process (another Catalog on the same database) makes it, and a caller changing a
returned record never changes what the next read returns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from prefect_artifacts import ArtifactContext, ArtifactNotFoundError, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Storage


def other_process_view(repo: Repository) -> Repository:
    """A second repository object on the same storage and catalog database (as another
    process would have): its own engine and its own record cache."""
    return Repository(
        Storage.from_url(repo.storage.root), Catalog(repo.catalog.url), owner="someone-else"
    )


CHANGES: dict[str, tuple[Callable[[Repository], Any], Callable[[Any], Any]]] = {
    "label": (lambda r: r.set_labels("m:1", {"stage": "prod"}), lambda v: v.labels.get("stage")),
    "description": (lambda r: r.set_description("m:1", "new text"), lambda v: v.description),
    "tag": (lambda r: r.tag("m:1", "prod"), lambda v: sorted(v.tags)),
    "revision": (lambda r: r.revise("m:1", metrics={"auc": 0.99}), lambda v: v.metrics),
}


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("where", ["same repository", "another process"])
def test_every_change_is_seen_by_the_next_read(repo: Repository, change: str, where: str) -> None:
    ctx = ArtifactContext(repo)
    ctx.log_model("m", body=b"weights-1", model_file="m.bin", metrics={"auc": 0.5})
    ctx.log_model("m", body=b"weights-2", model_file="m.bin", metrics={"auc": 0.6})
    apply, observe = CHANGES[change]
    ref = "m:1"
    before = observe(repo.get(ref))
    observe(repo.get(ref))  # read twice: the second read is a cache hit
    writer = repo if where == "same repository" else other_process_view(repo)
    apply(writer)
    after = observe(repo.get(ref))
    assert after != before
    assert after == observe(other_process_view(repo).get(ref))


def test_tag_move_is_seen_on_both_versions(repo: Repository) -> None:
    ctx = ArtifactContext(repo)
    for i in range(2):
        ctx.log_dataset("d", pd.DataFrame({"x": [i]}))
    repo.tag("d:1", "prod")
    assert "prod" in repo.get("d:1").tags and repo.get("d@prod").version == 1
    other_process_view(repo).tag("d:2", "prod")
    assert "prod" not in repo.get("d:1").tags
    assert "prod" in repo.get("d:2").tags and repo.get("d@prod").version == 2


def test_deleted_version_is_not_served_from_the_cache(repo: Repository) -> None:
    ctx = ArtifactContext(repo)
    ctx.log_dataset("d", pd.DataFrame({"x": [1]}))
    ctx.log_dataset("d", pd.DataFrame({"x": [2]}))
    assert repo.get("d").version == 2
    other_process_view(repo).delete("d:2")
    assert repo.get("d").version == 1
    with pytest.raises(ArtifactNotFoundError):
        repo.get("d:2")


def test_changing_a_returned_version_does_not_change_the_next(repo: Repository) -> None:
    ctx = ArtifactContext(repo)
    ctx.log_model("m", body=b"w", model_file="m.bin", metrics={"auc": 0.5})
    first = repo.get("m")
    first.metrics["auc"] = 0.0
    first.labels["x"] = "y"
    again = repo.get("m")
    assert again.metrics == {"auc": 0.5}
    assert "x" not in again.labels


def test_repeated_reads_hit_the_cache(repo: Repository, tmp_path: Path) -> None:
    ArtifactContext(repo).log_dataset("d", pd.DataFrame({"x": [1, 2]}))
    repo.catalog._recent.clear()
    repo.get("d")
    assert len(repo.catalog._recent._items) == 1
    stamp = next(iter(repo.catalog._recent._items))
    for _ in range(3):
        assert repo.get("d").version == 1
    assert list(repo.catalog._recent._items) == [stamp]  # the same entry served every read
