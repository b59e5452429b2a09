"""A process killed at any step of the commit or delete protocol (one fault point per step) leaves
a repository that ``verify``, ``gc`` and ``reindex`` bring to exactly the committed state: every
committed version has its bytes, no bytes are left that nothing references, and storage alone
rebuilds the catalog row for row."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from prefect_artifacts import ArtifactContext, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.faults import EXIT_CODE, POINTS
from prefect_artifacts.core.maintenance import gc, reindex, verify
from prefect_artifacts.core.storage import Storage
from tests import children
from tests.conftest import drop_catalog, snapshot

pytestmark = pytest.mark.slow  # a killed child process per fault point

CHILD = """
import pandas as pd
from prefect_artifacts import ArtifactContext, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Storage
repo = Repository(Storage.from_url({store!r}), Catalog({url!r}), owner="tester")
{action}
"""
LOG = "ArtifactContext(repo).log_dataset('events', pd.DataFrame({'x': [7, 8, 9]}), tag='prod')"
DELETE = "repo.delete('events:1')"
ACTIONS = {point: DELETE if point.startswith("delete") else LOG for point in POINTS}


def open_repo(root: Path) -> Repository:
    return Repository(
        Storage.from_url(str(root / "store")), Catalog(f"sqlite:///{root / 'c.db'}"), owner="tester"
    )


def stored_blobs(repo: Repository) -> set[str]:
    return {digest for digest, _ in repo.storage.iter_blobs()}


@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_any_step_converges_to_the_committed_state(tmp_path, point):
    repo = open_repo(tmp_path)
    ctx = ArtifactContext(repo)
    ctx.log_dataset("events", pd.DataFrame({"x": [1, 2]}), tag="prod")
    ctx.log_dataset("events", pd.DataFrame({"x": [3, 4]}))
    ctx.log_artifact("other", b"unrelated")
    script = CHILD.format(
        store=str(tmp_path / "store"), url=f"sqlite:///{tmp_path / 'c.db'}", action=ACTIONS[point]
    )
    code, stderr = children.run(script, {"PREFECT_ARTIFACTS_FAULTS": point})
    assert code == EXIT_CODE, stderr

    committed = snapshot(repo.catalog)
    assert verify(repo).ok  # every committed version has its bytes (and its manifest)
    gc(repo, grace=timedelta(0))
    referenced = repo.catalog.referenced_hashes()
    assert stored_blobs(repo) == referenced  # no orphan left, nothing missing
    assert snapshot(repo.catalog) == committed  # maintenance changed nothing committed
    drop_catalog(repo.catalog.engine)
    rebuilt = open_repo(tmp_path)
    report = reindex(rebuilt)
    assert report.skipped == {}
    assert snapshot(rebuilt.catalog) == committed
    assert verify(rebuilt).ok and stored_blobs(rebuilt) == rebuilt.catalog.referenced_hashes()
