"""verify, gc, prune, deletion strategies and reindex (the catalog rebuilt from storage and
compared with the original row by row)."""

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from prefect import flow, task

import prefect_artifacts as pa
from prefect_artifacts import ArtifactContext, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.maintenance import gc, prune, reindex, verify
from prefect_artifacts.core.storage import Storage
from tests.conftest import drop_catalog, snapshot


def blob_file(repo, digest) -> Path:
    return Path(repo.storage.blob_path(digest))


def test_verify_reports_corrupt_missing_and_manifestless(repo):
    ctx = ArtifactContext(repo)
    good = ctx.log_artifact("good", b"fine")
    shared = ctx.log_artifact("shared", b"shared bytes")
    ctx.log_model("m", body=b"weights", extra_data={"data": shared})
    gone = ctx.log_artifact("gone", b"will vanish")
    assert verify(repo).ok and verify(repo).versions == 4
    blob_file(repo, shared.hash).write_bytes(b"tampered")
    blob_file(repo, gone.hash).unlink()
    Path(repo.storage.manifest_path("default", "good", 1)).unlink()
    report = verify(repo, project="*")
    found = {(p.ref, p.what, p.detail.split(":")[0]) for p in report.problems}
    assert ("default/shared:1", "corrupt", "bytes") in found
    assert ("default/m:1", "corrupt", "extra data 'data'") in found
    assert ("default/gone:1", "missing", "bytes") in found
    assert ("default/good:1", "missing manifest", "reindex could not rebuild this version") in found
    assert len(report.problems) == 4
    assert verify(repo, "good:1").problems[0].what == "missing manifest"
    assert good.load() == b"fine"


def test_gc_removes_only_old_unreferenced_bytes(repo):
    ctx = ArtifactContext(repo)
    kept = ctx.log_artifact("kept", b"referenced")
    orphan = repo.storage.put_bytes(b"nobody references me")  # as a crashed writer leaves
    stale_tmp = Path(repo.storage.path("tmp/abandoned"))
    stale_tmp.write_bytes(b"half a write")
    old = time.time() - 7200
    os.utime(blob_file(repo, orphan.hash), (old, old))
    os.utime(stale_tmp, (old, old))
    fresh = repo.storage.put_bytes(b"written a moment ago")
    dry = gc(repo, dry_run=True)
    assert (
        dry.orphans == [orphan.hash] and dry.removed == 0 and blob_file(repo, orphan.hash).exists()
    )
    report = gc(repo)
    assert report.removed == 1 and report.temporary_removed == 1 and report.blobs_seen == 3
    assert not blob_file(repo, orphan.hash).exists() and not stale_tmp.exists()
    assert blob_file(repo, fresh.hash).exists()  # within the grace period: maybe in flight
    assert kept.load() == b"referenced"
    assert gc(repo, grace=timedelta(0)).removed == 1  # now the fresh one goes too
    with pytest.raises(ValueError):
        gc(repo, grace=timedelta(seconds=-1))


def test_gc_never_removes_bytes_a_new_version_just_claimed(repo):
    ctx = ArtifactContext(repo)
    orphan = repo.storage.put_bytes(b"same content")
    os.utime(blob_file(repo, orphan.hash), (time.time() - 7200,) * 2)
    ctx.log_artifact("claims-it", b"same content")  # a new version now references the bytes
    assert gc(repo).removed == 0 and repo.get("claims-it").load() == b"same content"


def test_prune_policies(repo):
    ctx = ArtifactContext(repo)
    for i in range(6):
        ctx.log_artifact("k", f"v{i}".encode())
    repo.tag("k:2", "prod")
    ctx.log_artifact("other", b"only one")
    dry = prune(repo, keep_last=3, dry_run=True)
    assert dry.deleted == {"default/k": [3, 1]} and len(repo.versions("k")) == 6
    report = prune(repo, key="k", keep_last=3)
    assert report.deleted == {"default/k": [3, 1]}
    assert [v.version for v in repo.versions("k")] == [6, 5, 4, 2]  # prod-tagged 2 stays
    assert prune(repo, keep_last=1, keep_tagged=False).deleted == {"default/k": [5, 4, 2]}
    assert [v.version for v in repo.versions("k")] == [6]  # the latest always stays
    assert prune(repo, older_than=timedelta(days=1)).deleted == {}  # nothing that old
    assert len(list(Path(repo.storage.path("blobs")).rglob("*"))) > 0
    with pytest.raises(ValueError):
        prune(repo)
    with pytest.raises(ValueError):
        prune(repo, keep_last=0)


def test_prune_by_age_removes_bytes(repo):
    ctx = ArtifactContext(repo)
    old = ctx.log_artifact("k", b"old bytes")
    ctx.log_artifact("k", b"new bytes")
    assert prune(repo, older_than=timedelta(0)).deleted == {"default/k": [1]}
    assert not blob_file(repo, old.hash).exists()


def test_deletion_strategies(repo, monkeypatch):
    ctx = ArtifactContext(repo)
    a = ctx.log_artifact("a", b"aaa")
    repo.delete("a", strategy="metadata-only")
    assert blob_file(repo, a.hash).exists()
    b = ctx.log_artifact("b", b"bbb")
    repo.delete("b", strategy="data-optional")
    assert not blob_file(repo, b.hash).exists()
    c = ctx.log_artifact("c", b"ccc")

    def broken(digest):
        raise pa.StorageError("storage refuses deletes")

    monkeypatch.setattr(repo.storage, "delete_blob", broken)
    with pytest.raises(pa.StorageError):
        repo.delete("c", strategy="data-required")
    assert repo.get("c").load() == b"ccc"  # nothing deleted
    d = ctx.log_artifact("d", b"ddd")
    assert repo.delete("d", strategy="data-optional") == [1]  # warns, leaves bytes for gc
    assert blob_file(repo, d.hash).exists()
    monkeypatch.undo()
    assert repo.delete("c", strategy="data-required") == [1]
    assert not blob_file(repo, c.hash).exists()
    # two byte objects, the second refuses: the version goes, the first bytes go, the error
    # names what is left for gc — never a version whose bytes are half gone
    e = ctx.log_model("e", body=b"model bytes", extra_data={"notes": b"extra bytes"})
    real = repo.storage.delete_blob
    calls = []

    def second_fails(digest):
        calls.append(digest)
        if len(calls) == 2:
            raise pa.StorageError("refused")
        real(digest)

    monkeypatch.setattr(repo.storage, "delete_blob", second_fails)
    with pytest.raises(pa.StorageError, match="could not remove the bytes"):
        repo.delete("e", strategy="data-required")
    monkeypatch.undo()
    with pytest.raises(pa.ArtifactNotFoundError):
        repo.get("e")
    assert not blob_file(repo, calls[0]).exists() and blob_file(repo, calls[1]).exists()
    assert calls[1] in gc(repo, grace=timedelta(0)).orphans  # left for gc, which removes it
    assert e.hash in calls
    with pytest.raises(ValueError):
        repo.delete("d", strategy="shred")


# -- reindex ---------------------------------------------------------------------------------------
def build_history(repo: Repository) -> None:
    """Versions, moved tags, untags, label changes, deletions, extra data, and lineage from
    Prefect runs (producers, consumers, an identical re-log)."""
    ctx = ArtifactContext(repo)
    import pandas as pd

    ctx.log_dataset("events", pd.DataFrame({"x": [1, 2, 3]}), labels={"team": "ml"}, tag="prod")
    ctx.log_dataset("events", pd.DataFrame({"x": [1, 2, 3, 4]}), labels={"team": "ml"}, tag="prod")
    ctx.log_dataset("events", pd.DataFrame({"x": [5]}), tag="candidate")
    repo.tag("events:1", "golden")
    repo.untag("events@candidate")
    repo.set_labels("events:2", {"reviewed": "yes"})
    repo.set_labels("events:1", {"only": "this"}, replace=True)
    conf = ctx.log_plot("confusion", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    ctx.log_model(
        "model", body=b"w1", metrics={"auc": 0.5}, extra_data={"confusion": conf, "raw": b"raw"}
    )
    ctx.log_model("model", body=b"w2", metrics={"auc": 0.6}, tag="prod")
    ctx.log_artifact("temp", b"t1")
    ctx.log_artifact("temp", b"t2")
    ctx.log_artifact("temp", b"t3")
    ctx.log_artifact("temp", b"t3", labels={"again": "yes"}, description="re-logged")  # dedup
    repo.delete("temp:2")
    ctx.log_artifact("doomed", b"d")
    repo.delete("doomed")
    ctx.log_artifact("other-project", b"o", labels={"p": "2"})
    ArtifactContext(repo, project="research").log_artifact("notes", "hello", tag="v1")

    @task
    def produce():
        return pa.get_context(repository=repo).log_artifact("from-task", {"n": 1})

    @task
    def consume():
        return repo.get("from-task").load(), repo.get("events@prod").load()

    @flow
    def pipeline():
        produce()
        consume()

    pipeline()
    pipeline()  # the identical re-log adds a producer run to from-task:1


@pytest.fixture(params=["sqlite", "postgres"])
def rich_repo(request, tmp_path, prefect_server):
    url = (
        request.getfixturevalue("pg_url")
        if request.param == "postgres"
        else f"sqlite:///{tmp_path / 'catalog.db'}"
    )
    repo = Repository(
        Storage.from_url(str(tmp_path / "store")),
        Catalog(url),
        owner="tester",
    )
    build_history(repo)
    return repo


def test_reindex_rebuilds_the_lost_catalog_row_by_row(rich_repo):
    before = snapshot(rich_repo.catalog)
    assert len(before["lineage"]) >= 5 and before["tags"] and before["extras"]
    drop_catalog(rich_repo.catalog.engine)  # the catalog is lost entirely
    lost = Repository(rich_repo.storage, Catalog(rich_repo.catalog.url), owner="tester")
    report = reindex(lost)
    assert report.versions_restored == len(before["versions"]) and report.conflicts == 0
    after = snapshot(lost.catalog)
    for table in before:
        assert after[table] == before[table], table
    assert reindex(lost).versions_restored == 0  # idempotent
    assert snapshot(lost.catalog) == before
    assert lost.get("events@prod").version == 2 and lost.get("model:1").extra_data
    assert (
        lost.get("temp").version == 3
        and ArtifactContext(lost).log_artifact("temp", b"t4").version == 4
    )
    assert ArtifactContext(lost).log_artifact("doomed", b"again").version == 2  # never reused


def test_reindex_on_a_live_catalog_changes_nothing(rich_repo):
    before = snapshot(rich_repo.catalog)
    report = reindex(rich_repo)
    assert report.versions_restored == 0 and report.tags_restored == 0 and report.runs_restored == 0
    assert snapshot(rich_repo.catalog) == before
