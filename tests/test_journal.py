"""A change and its durable record (manifest or journal entry) commit together: a process killed
right after the catalog commit — before anything reached storage — loses nothing, and
``reindex`` rebuilds exactly the committed catalog once the record is drained."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefect_artifacts import ArtifactContext, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.faults import EXIT_CODE
from prefect_artifacts.core.maintenance import reindex
from prefect_artifacts.core.storage import Storage
from tests import children
from tests.conftest import drop_catalog, snapshot

pytestmark = pytest.mark.slow  # killed child processes

SETUP = """
import pandas as pd
from prefect_artifacts import ArtifactContext, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Storage
repo = Repository(Storage.from_url({store!r}), Catalog({url!r}), owner="tester")
ctx = ArtifactContext(repo)
"""
CHANGES = {  # each runs in a child killed right after its commit
    "log": "ctx.log_dataset('events', pd.DataFrame({'x': [7, 8]}), labels={'k': 'v'}, tag='new')",
    "tag": "repo.tag('events:1', 'prod')",
    "untag": "repo.untag('events@old')",
    "labels": "repo.set_labels('events:1', {'team': 'ml'}, replace=True)",
    "description": "repo.set_description('events:1', 'the first one')",
    "revision": "repo.revise('events:1', labels={'team': 'ml'}, description='evaluated')",
    "delete": "repo.delete('events:2')",
    "delete-key": "repo.delete('scratch')",
}


def open_repo(tmp_path: Path) -> Repository:
    return Repository(
        Storage.from_url(str(tmp_path / "store")),
        Catalog(f"sqlite:///{tmp_path / 'c.db'}"),
        owner="tester",
    )


def kill_after_commit(tmp_path: Path, code: str) -> None:
    script = SETUP.format(store=str(tmp_path / "store"), url=f"sqlite:///{tmp_path / 'c.db'}")
    code, stderr = children.run(script + code, {"PREFECT_ARTIFACTS_FAULTS": "after-commit"})
    assert code == EXIT_CODE, stderr


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_kill_between_commit_and_journal_loses_nothing(tmp_path, change):
    import pandas as pd

    repo = open_repo(tmp_path)
    ctx = ArtifactContext(repo)
    ctx.log_dataset("events", pd.DataFrame({"x": [1]}), tag="old")
    ctx.log_dataset("events", pd.DataFrame({"x": [2]}))
    ctx.log_artifact("scratch", b"s")
    files_before = set((tmp_path / "store").rglob("*.json"))

    kill_after_commit(tmp_path, CHANGES[change])

    assert repo.catalog.pending(), "the record waits in the outbox"
    assert set((tmp_path / "store").rglob("*.json")) == files_before  # nothing reached storage
    committed = snapshot(repo.catalog)
    repo.drain(full=True)  # what reindex, verify and gc do first (and writes, each minute)
    assert repo.catalog.pending() == []
    drop_catalog(repo.catalog.engine)  # the catalog is lost...
    rebuilt = open_repo(tmp_path)
    report = reindex(rebuilt)  # ...and rebuilt from storage alone
    assert report.skipped == {}
    assert snapshot(rebuilt.catalog) == committed


def test_a_kill_before_commit_leaves_no_manifest_and_reindex_adds_nothing(tmp_path):
    import pandas as pd

    repo = open_repo(tmp_path)
    ArtifactContext(repo).log_dataset("events", pd.DataFrame({"x": [1]}))
    script = SETUP.format(store=str(tmp_path / "store"), url=f"sqlite:///{tmp_path / 'c.db'}")
    code, stderr = children.run(
        script + CHANGES["log"], {"PREFECT_ARTIFACTS_FAULTS": "before-commit"}
    )
    assert code == EXIT_CODE, stderr
    assert not Path(repo.storage.manifest_path("default", "events", 2)).exists()
    assert [v.version for v in repo.versions("events")] == [1]
    committed = snapshot(repo.catalog)
    drop_catalog(repo.catalog.engine)
    rebuilt = open_repo(tmp_path)
    assert reindex(rebuilt).versions_restored == 1
    assert snapshot(rebuilt.catalog) == committed
