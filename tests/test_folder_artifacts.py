"""Folder artifacts: files stored by content (shared across versions), links inside followed
and links leaving refused, download recreates the folder, open(name) reads one file, the UI
lists the files, reindex restores them."""

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import prefect_artifacts as pa
from prefect_artifacts import Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Storage
from prefect_artifacts.web import create_app


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "run-output"
    (root / "plots").mkdir(parents=True)
    (root / "metrics.json").write_text('{"auc": 0.9}')
    (root / "plots" / "roc.txt").write_text("roc curve")
    (root / "train.sh").write_text("#!/bin/sh\n")
    (root / "train.sh").chmod(0o755)
    os.symlink("metrics.json", root / "latest.json")  # inside: followed
    return root


def _blob_files(repo: Repository) -> int:
    return sum(1 for p in Path(repo.storage.path("blobs")).rglob("*") if p.is_file())


def test_a_folder_round_trips(env_repo, folder, tmp_path):
    v = pa.log_artifact("outputs", local_path=folder)
    assert (v.kind, v.format, v.size) == ("artifact", "folder", 12 + 9 + 10 + 12)
    assert [f["path"] for f in v.files()] == [
        "latest.json", "metrics.json", "plots/roc.txt", "train.sh"
    ]  # fmt: skip
    assert v.open("plots/roc.txt").read() == b"roc curve"
    out = v.download(tmp_path / "copy")
    assert (out / "latest.json").read_text() == '{"auc": 0.9}' and not (
        out / "latest.json"
    ).is_symlink()
    assert (out / "plots" / "roc.txt").read_text() == "roc curve"
    assert os.access(out / "train.sh", os.X_OK) and not os.access(out / "metrics.json", os.X_OK)
    assert Path(v.load()).joinpath("metrics.json").read_text() == '{"auc": 0.9}'
    with pytest.raises(pa.ArtifactNotFoundError, match=r"has no file 'nope\.txt'"):
        v.open("nope.txt")


def test_unchanged_files_share_bytes_across_versions(env_repo, folder):
    first = pa.log_artifact("outputs", local_path=folder)
    blobs = _blob_files(env_repo)
    assert pa.log_artifact("outputs", local_path=folder).version == first.version  # identical
    (folder / "plots" / "pr.txt").write_text("pr curve")
    second = pa.log_artifact("outputs", local_path=folder)
    assert second.version == 2
    assert _blob_files(env_repo) == blobs + 2  # the new file and the new index, nothing else
    shared = {f["path"]: f["hash"] for f in first.files()}
    assert all(shared[f["path"]] == f["hash"] for f in second.files() if f["path"] in shared)


def test_links_leaving_the_folder_and_empty_folders_are_refused(env_repo, folder, tmp_path):
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", folder / "escape.txt")
    with pytest.raises(pa.InvalidArgumentError, match="links outside it"):
        pa.log_artifact("outputs", local_path=folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(pa.InvalidArgumentError, match="holds no files"):
        pa.log_artifact("empty", local_path=empty)
    assert pa.list_artifacts() == []


def test_the_ui_lists_the_files(env_repo, folder):
    pa.log_artifact("outputs", local_path=folder)
    page = TestClient(create_app(env_repo)).get("/projects/default/artifacts/outputs").text
    table = page.split('id="folder-files"')[1].split("</table>")[0]
    assert "plots/roc.txt" in table and table.count("<tr>") == 5


def test_reindex_restores_a_folder_and_gc_keeps_its_files(tmp_path, folder):
    storage = Storage.from_url(str(tmp_path / "store"))
    repo = Repository(storage, Catalog(f"sqlite:///{tmp_path / 'a.db'}"))
    v = pa.ArtifactContext(repo).log_artifact("outputs", local_path=folder)
    assert pa.gc(grace=__import__("datetime").timedelta(0), repository=repo).removed == 0
    fresh = Repository(storage, Catalog(f"sqlite:///{tmp_path / 'b.db'}"))
    pa.reindex(repository=fresh)
    again = fresh.get("outputs")
    assert again.uid == v.uid and again.open("plots/roc.txt").read() == b"roc curve"
