"""The verified-state record: sha256 checked once per blob and remembered until its file
changes; ``verify=True`` / ``PREFECT_ARTIFACTS_VERIFY=always`` hash on every load."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prefect_artifacts import ArtifactContext, IntegrityError, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.maintenance import verify
from prefect_artifacts.core.settings import ArtifactSettings
from prefect_artifacts.core.storage import Storage
from prefect_artifacts.core.storage.verified import RACY_NS, Identity, local_identity


def make_repo(tmp_path: Path, mode: str = "once", state: str = "state.db") -> Repository:
    return Repository(
        Storage.from_url(str(tmp_path / "store"), verified_state=tmp_path / state),
        Catalog(f"sqlite:///{tmp_path / 'catalog.db'}"),
        owner="tester",
        settings=ArtifactSettings(verify=mode, owner="tester"),
    )


def frame(seed: int = 0, rows: int = 2_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=rows), "s": rng.choice(["a", "b"], rows)})


def blob(repo: Repository, v) -> Path:
    return Path(repo.storage.blob_path(v.hash))


def hashes(repo: Repository) -> int:
    return repo.storage.verified.hashes


def rewrite(path: Path, data: bytes, *, keep_times: bool = False) -> None:
    """Write ``data`` into the blob in place (same inode), optionally restoring its mtime."""
    st = path.stat()
    with path.open("r+b") as fh:
        fh.write(data)
        fh.truncate()
    if keep_times:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_written_blob_is_trusted_and_loads_without_hashing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    df = frame()
    v = ArtifactContext(repo).log_dataset("d", df)
    for _ in range(3):
        pd.testing.assert_frame_equal(repo.get("d").load(), df)
    assert hashes(repo) == 0
    assert repo.storage.verified.hits == 3
    # another process (a new repository object on the same record) trusts it too
    again = make_repo(tmp_path)
    pd.testing.assert_frame_equal(again.get("d").load(), df)
    assert hashes(again) == 0
    assert again.storage.verified.trusted(v.hash, again.storage.identity(v.hash))


def test_verify_true_and_always_mode_hash_every_load(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    ArtifactContext(repo).log_dataset("d", frame())
    repo.get("d").load(verify=True)
    repo.get("d").load(verify=True)
    assert hashes(repo) == 2
    always = make_repo(tmp_path, "always")
    for _ in range(3):
        always.get("d").load()
    assert hashes(always) == 3


def test_tampered_same_size_raises_even_with_mtime_restored(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    v = ArtifactContext(repo).log_artifact("b", b"A" * 1000)
    assert repo.get("b").load() == b"A" * 1000 and hashes(repo) == 0
    rewrite(blob(repo, v), b"B" * 1000, keep_times=True)  # ctime still moves
    with pytest.raises(IntegrityError, match="corrupt"):
        repo.get("b").load()
    assert hashes(repo) == 1
    with pytest.raises(IntegrityError, match="corrupt"):  # not remembered as good
        repo.get("b").load()
    assert hashes(repo) == 2


def test_tampered_dataset_raises(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    v = ArtifactContext(repo).log_dataset("d", frame())
    repo.get("d").load()
    path = blob(repo, v)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    rewrite(path, bytes(data))
    with pytest.raises(IntegrityError, match="corrupt"):
        repo.get("d").load()


@pytest.mark.parametrize("change", ["content", "size", "mtime", "replaced"])
def test_changed_file_is_verified_again(tmp_path: Path, change: str) -> None:
    """Any change to the file's identity makes the next load hash it; unchanged content then
    loads and is remembered again."""
    repo = make_repo(tmp_path)
    payload = b"payload " * 500
    v = ArtifactContext(repo).log_artifact("b", payload)
    path = blob(repo, v)
    repo.get("b").load()
    assert hashes(repo) == 0
    if change == "content":  # the same bytes written again in place
        rewrite(path, payload)
    elif change == "size":  # grown, then restored: both changes are seen
        with path.open("ab") as fh:
            fh.write(b"x")
        with pytest.raises(IntegrityError):
            repo.get("b").load()
        assert hashes(repo) == 1
        rewrite(path, payload)
    elif change == "mtime":
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    else:  # a copy renamed over it: another inode
        copy = path.with_name("copy")
        copy.write_bytes(payload)
        os.replace(copy, path)
    before = hashes(repo)
    assert repo.get("b").load() == payload
    assert hashes(repo) == before + 1
    assert repo.get("b").load() == payload  # verified again: remembered
    assert hashes(repo) == before + 1 + _racy(path)


def _racy(path: Path) -> bool:
    """Whether a file just written in place counts as racily clean (mtime == ctime, changed
    less than RACY_NS ago): then it is hashed until the window has passed."""
    st = path.stat()
    changed = max(st.st_mtime_ns, st.st_ctime_ns)
    return st.st_mtime_ns >= st.st_ctime_ns and time.time_ns() - changed < RACY_NS


def test_racy_identity_is_not_trusted() -> None:
    now = time.time_ns()
    racy = Identity("k", changed_ns=now, ordered=False)
    assert not racy.trusted_at(now + 1000)
    assert racy.trusted_at(now + RACY_NS)
    assert Identity("k", changed_ns=now, ordered=True).trusted_at(now)


def test_never_mode_skips_hash_but_pickles_are_still_verified(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "never")
    ctx = ArtifactContext(repo)
    v = ctx.log_artifact("b", b"A" * 100)
    rewrite(blob(repo, v), b"B" * 100)
    assert repo.get("b").load() == b"B" * 100  # never: what is stored, unchecked
    assert hashes(repo) == 0
    p = ctx.log_artifact("obj", {"a": 1}, format="pkl")
    rewrite(blob(repo, p), blob(repo, p).read_bytes())  # same bytes, new identity
    assert repo.get("obj").load(trusted=True) == {"a": 1}
    assert hashes(repo) == 1


def test_cli_verify_always_hashes_and_refreshes_the_record(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    v = ArtifactContext(repo).log_artifact("b", b"A" * 100)
    assert verify(repo).ok and hashes(repo) == 1
    assert verify(repo).ok and hashes(repo) == 2  # always hashes
    path = blob(repo, v)
    rewrite(path, b"A" * 100)  # same content, new identity: verify records it
    assert verify(repo).ok and hashes(repo) == 3
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 10_000_000_000))  # not racy
    verify(repo)
    fresh = make_repo(tmp_path)
    assert fresh.get("b").load() == b"A" * 100 and hashes(fresh) == 0
    rewrite(path, b"C" * 100)
    report = verify(repo)
    assert [p.what for p in report.problems] == ["corrupt"]
    assert not fresh.storage.verified.trusted(v.hash, fresh.storage.identity(v.hash))


def test_unusable_record_falls_back_to_process_memory(tmp_path: Path) -> None:
    (tmp_path / "ro").write_text("a file where a folder should be")
    repo = make_repo(tmp_path, state="ro/state.db")
    ArtifactContext(repo).log_artifact("b", b"A" * 100)
    assert repo.get("b").load() == b"A" * 100
    assert hashes(repo) == 0  # remembered in memory


def test_s3_record_is_keyed_by_etag(s3_storage, tmp_path: Path) -> None:
    url, options = s3_storage
    repo = Repository(
        Storage.from_url(url, options, verified_state=tmp_path / "state.db"),
        Catalog(f"sqlite:///{tmp_path / 'catalog.db'}"),
        settings=ArtifactSettings(owner="tester"),
    )
    ctx = ArtifactContext(repo)
    df = frame()
    v = ctx.log_dataset("d", df)
    pd.testing.assert_frame_equal(repo.get("d").load(), df)
    assert hashes(repo) == 0  # the write remembered the ETag its PUT answered
    fresh = Repository(  # another process: its own record, which has never seen the object
        Storage.from_url(url, options, verified_state=tmp_path / "fresh.db"),
        Catalog(f"sqlite:///{tmp_path / 'catalog.db'}"),
        settings=ArtifactSettings(owner="tester"),
    )
    pd.testing.assert_frame_equal(fresh.get("d").load(), df)
    assert hashes(fresh) == 1  # first load hashes, and remembers the ETag
    pd.testing.assert_frame_equal(fresh.get("d").load(), df)
    assert hashes(fresh) == 1
    fresh.catalog.dispose()
    path = repo.storage.blob_path(v.hash)
    data = bytearray(repo.storage.fs.cat_file(path))
    data[len(data) // 2] ^= 0xFF
    repo.storage.fs.pipe_file(path, bytes(data))  # a new ETag
    with pytest.raises(IntegrityError, match="corrupt"):
        repo.get("d").load()
    assert hashes(repo) == 1


def test_forked_child_opens_its_own_record(tmp_path: Path) -> None:
    import multiprocessing

    repo = make_repo(tmp_path)
    ArtifactContext(repo).log_artifact("b", b"A" * 100)
    assert repo.get("b").load() == b"A" * 100  # the parent's connection is open

    state = repo.storage.verified
    parent_db = state._db
    assert parent_db is not None

    def child(queue) -> None:
        state._memory.clear()  # ask the SQLite record
        value = repo.get("b").load()
        queue.put((value, state.hashes, state._db is not None and state._db is not parent_db))

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    process = ctx.Process(target=child, args=(queue,))
    process.start()
    process.join(30)
    assert queue.get(timeout=5) == (b"A" * 100, 0, True)
    assert process.exitcode == 0
    assert repo.storage.verified._db is not None


def test_verify_setting_is_read_from_the_environment(env_repo, monkeypatch) -> None:
    from prefect_artifacts import get_repository

    ArtifactContext(env_repo).log_artifact("b", b"A" * 100)
    monkeypatch.setenv("PREFECT_ARTIFACTS_VERIFY", "always")
    repo = get_repository()
    assert repo.settings.verify == "always"
    before = repo.storage.verified.hashes
    repo.get("b").load()
    repo.get("b").load()
    assert repo.storage.verified.hashes == before + 2
    monkeypatch.setenv("PREFECT_ARTIFACTS_VERIFY", "sometimes")
    with pytest.raises(ValueError, match=r"PREFECT_ARTIFACTS_VERIFY='sometimes'.*'once'"):
        ArtifactSettings()


def test_cli_verify_refreshes_the_record(env_repo, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from prefect_artifacts.cli import app

    v = ArtifactContext(env_repo).log_artifact("b", b"A" * 100)
    path = blob(env_repo, v)
    rewrite(path, b"A" * 100)  # same bytes, new identity: no longer vouched for
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 10_000_000_000))
    state = env_repo.storage.verified
    assert not state.trusted(v.hash, env_repo.storage.identity(v.hash))
    result = CliRunner().invoke(app, ["verify", "b"])
    assert result.exit_code == 0, result.output
    fresh = Storage.from_url(env_repo.storage.root).verified
    assert fresh.trusted(v.hash, local_identity(str(path)))
    rewrite(path, b"C" * 100)
    assert CliRunner().invoke(app, ["verify", "b"]).exit_code == 4
    assert not Storage.from_url(env_repo.storage.root).verified.trusted(
        v.hash, local_identity(str(path))
    )


def test_unparseable_trusted_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    """Damage that keeps the identity (bit rot) is not noticed by `once`, but when it breaks
    the parse the load hashes and names it as corruption rather than a Parquet error."""
    repo = make_repo(tmp_path)
    v = ArtifactContext(repo).log_dataset("d", frame())
    path = blob(repo, v)
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-8:-4] = b"\xff\xff\xff\x7f"  # the footer length: Parquet cannot open it
    rewrite(path, bytes(data))
    repo.storage.verified.remember(v.hash, repo.storage.identity(v.hash))  # as if rot
    repo.storage.verified._memory[v.hash] = (
        repo.storage.verified._memory[v.hash][0],
        max(st.st_mtime_ns, st.st_ctime_ns) + RACY_NS + time.time_ns(),
    )
    with pytest.raises(IntegrityError, match="corrupt"):
        repo.get("d").load()


def test_relogging_identical_content_repairs_a_damaged_blob(tmp_path: Path) -> None:
    """A re-log of identical content normally stores nothing; when the record no longer
    vouches for the stored file (it changed), the bytes are written again and replace it."""
    repo = make_repo(tmp_path)
    df = frame()
    v = ArtifactContext(repo).log_dataset("d", df)
    path = blob(repo, v)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    rewrite(path, bytes(data))
    with pytest.raises(IntegrityError):
        repo.get("d").load()
    again = ArtifactContext(repo).log_dataset("d", df)
    assert (again.version, again.hash) == (1, v.hash)
    pd.testing.assert_frame_equal(repo.get("d").load(), df)
    repaired = path.stat().st_ino
    relog = ArtifactContext(repo).log_dataset("d", df)  # vouched for again: nothing written
    assert relog.version == 1 and path.stat().st_ino == repaired
    assert len(repo.versions("d")) == 1


def test_an_intact_blob_found_by_a_write_is_remembered(tmp_path: Path) -> None:
    """Another machine's record knows nothing of a blob; a write of the same bytes finds it
    intact (hashing it) and remembers it, so later loads and re-logs need no hash."""
    repo = make_repo(tmp_path)
    v = ArtifactContext(repo).log_artifact("b", b"A" * 1000)
    other = make_repo(tmp_path, state="other-machine.db")
    assert not other.storage.verified.trusted(v.hash, other.storage.identity(v.hash))
    ArtifactContext(other).log_artifact("c", b"A" * 1000)
    assert other.storage.verified.trusted(v.hash, other.storage.identity(v.hash))
    assert other.get("b").load() == b"A" * 1000 and hashes(other) == 0


def test_relog_on_a_machine_that_never_saw_the_blob_stays_fast(tmp_path: Path) -> None:
    """A record that has never seen a blob (another machine wrote it) does not make re-logs
    write it again; one that saw the file change does."""
    repo = make_repo(tmp_path)
    df = frame()
    v = ArtifactContext(repo).log_dataset("d", df)
    other = make_repo(tmp_path, state="other-machine.db")
    ArtifactContext(other).log_dataset("d", df)  # re-log: the file is not replaced
    assert not other.storage.verified.changed(v.hash, other.storage.identity(v.hash))
    # the write races the fingerprint that cancels it: when the write wins, the existing file
    # was checked and is remembered as it is now
    learned = other.storage.verified._load(v.hash)
    assert learned is None or learned[0] == other.storage.identity(v.hash).key
    path = blob(repo, v)
    rewrite(path, path.read_bytes())  # same bytes, another identity: known to have changed
    assert repo.storage.verified.changed(v.hash, repo.storage.identity(v.hash))
    ArtifactContext(repo).log_dataset("d", df)  # written again, found intact, remembered
    assert not repo.storage.verified.changed(v.hash, repo.storage.identity(v.hash))
    assert repo.storage.verified._memory[v.hash][0] == repo.storage.identity(v.hash).key


def test_put_bytes_skips_verified_bytes_and_replaces_tampered_ones(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    data = os.urandom(300_000)
    first = repo.storage.put_bytes(data)
    path = Path(repo.storage.blob_path(first.hash))
    before = path.stat()
    again = repo.storage.put_bytes(data)
    assert again == first
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    rewrite(path, b"x" * len(data), keep_times=True)  # damaged in place
    repo.storage.put_bytes(data)
    assert path.read_bytes() == data  # the damaged copy was replaced, never trusted
