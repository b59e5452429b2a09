"""Multi-part full loads use the verified-state record per part, like single-file loads:
``once`` hashes a part once and remembers it until its file changes, ``always`` (or
``verify=True``) hashes every part on every load, ``never`` skips the hash."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from prefect_artifacts import IntegrityError, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Storage
from tests.test_bigdata import PART, chunks, whole
from tests.test_verified_state import _racy, hashes, make_repo, rewrite


def logged(repo: Repository):
    v = repo.log("events", chunks(), options={"part_size": PART})
    assert v.part_count > 3
    return v


def test_written_parts_are_trusted_and_load_without_hashing(tmp_path):
    repo = make_repo(tmp_path)
    v = logged(repo)
    for _ in range(3):
        pd.testing.assert_frame_equal(repo.get("events").load(), whole())
    assert hashes(repo) == 0
    assert repo.storage.verified.hits == 3 * v.part_count
    fresh = make_repo(tmp_path, state="other.db")  # a record that knows nothing
    fresh.get("events").load()
    assert hashes(fresh) == v.part_count  # each part hashed once...
    fresh.get("events").load()
    assert hashes(fresh) == v.part_count  # ...and remembered
    assert all(
        fresh.storage.verified.trusted(p.hash, fresh.storage.identity(p.hash)) for p in v.parts
    )


def test_verify_true_and_always_mode_hash_every_part_every_load(tmp_path):
    repo = make_repo(tmp_path)
    v = logged(repo)
    repo.get("events").load(verify=True)
    repo.get("events").load(verify=True)
    assert hashes(repo) == 2 * v.part_count
    always = make_repo(tmp_path, "always")
    for _ in range(3):
        always.get("events").load()
    assert hashes(always) == 3 * v.part_count


def test_never_mode_skips_the_hash(tmp_path):
    repo = make_repo(tmp_path, "never", state="never.db")
    logged(repo)
    fresh = make_repo(tmp_path, "never", state="unknown.db")
    pd.testing.assert_frame_equal(fresh.get("events").load(), whole())
    assert hashes(fresh) == 0 and fresh.storage.verified.hits == 0


def test_a_tampered_part_raises_and_is_not_remembered(tmp_path):
    repo = make_repo(tmp_path)
    v = logged(repo)
    repo.get("events").load()
    path = Path(repo.storage.blob_path(v.parts[1].hash))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    st = path.stat()
    rewrite(path, bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime restored; ctime still moves
    with pytest.raises(IntegrityError, match="corrupt"):
        repo.get("events").load()
    assert hashes(repo) == 1  # only the changed part was hashed
    with pytest.raises(IntegrityError, match="corrupt"):  # not remembered as good
        repo.get("events").load()
    assert hashes(repo) == 2


def test_a_changed_part_is_verified_again(tmp_path):
    repo = make_repo(tmp_path)
    v = logged(repo)
    repo.get("events").load()
    path = Path(repo.storage.blob_path(v.parts[2].hash))
    rewrite(path, path.read_bytes())  # the same bytes written again in place
    pd.testing.assert_frame_equal(repo.get("events").load(), whole())
    assert hashes(repo) == 1
    pd.testing.assert_frame_equal(repo.get("events").load(), whole())
    assert hashes(repo) == 1 + _racy(path)


def test_s3_parts_are_remembered_by_etag(s3_storage, pg_url, tmp_path):
    url, options = s3_storage
    repo = Repository(
        Storage.from_url(url, options, verified_state=tmp_path / "s3.db"),
        Catalog(pg_url),
        owner="tester",
    )
    v = logged(repo)
    pd.testing.assert_frame_equal(repo.get("events").load(), whole())
    assert hashes(repo) == 0  # each part's PUT answered its ETag: remembered by the write
    fresh = Repository(
        Storage.from_url(url, options, verified_state=tmp_path / "fresh.db"),
        Catalog(pg_url),
        owner="tester",
    )
    pd.testing.assert_frame_equal(fresh.get("events").load(), whole())
    assert hashes(fresh) == v.part_count
    pd.testing.assert_frame_equal(fresh.get("events").load(), whole())
    assert hashes(fresh) == v.part_count  # unchanged objects (same ETag): not hashed again
    fresh.get("events").load(verify=True)
    assert hashes(fresh) == 2 * v.part_count
    fresh.catalog.dispose()
    repo.catalog.dispose()
