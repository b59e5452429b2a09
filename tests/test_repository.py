"""The write path and read paths on local storage + SQLite."""

import contextlib
import hashlib
import json
import pickle
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prefect_artifacts import (
    ArtifactContext,
    ArtifactNotFoundError,
    DatasetVersion,
    IntegrityError,
    ModelVersion,
    Repository,
)
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Storage


def frame(n: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"x": rng.normal(size=n), "n": rng.integers(0, 9, n), "s": rng.choice(["a", "b", "c"], n)}
    )


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def store_root(repo) -> Path:
    return Path(repo.storage.root)


def test_log_dataset_records_everything(repo):
    df = frame(50)
    v = ArtifactContext(repo).log_dataset(
        "my_data", df, labels={"team": "ml"}, tag="prod", description="events"
    )
    assert isinstance(v, DatasetVersion)
    assert (v.key, v.version, v.kind, v.project, v.format) == (
        "my_data",
        1,
        "dataset",
        "default",
        "parquet",
    )
    assert v.uri == "artifact://default/my_data:1"
    blob = Path(v.target_path.removeprefix("file://"))
    assert blob.is_file() and blob.stat().st_size == v.size
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == v.hash
    assert v.labels == {"team": "ml"} and v.tags == ["prod"] and v.description == "events"
    assert v.owner == "tester" and v.producer.kind == "local" and v.producer.pid
    assert v.created_at.tzinfo is not None and v.updated_at >= v.created_at
    assert v.rows == 50 and v.columns == 3
    assert [c["name"] for c in v.schema] == ["x", "n", "s"]
    assert len(v.preview) == 20 and set(v.preview[0]) == {"x", "n", "s"}
    assert v.stats["x"]["mean"] == pytest.approx(df["x"].mean())
    assert v.filename == "my_data.parquet" and v.content_type == "application/vnd.apache.parquet"
    manifest = store_root(repo) / f"manifests/default/my_data/1-{v.uid}.json"
    assert manifest.is_file() and v.hash in manifest.read_text()


def test_preview_and_stats_options(repo):
    ctx = ArtifactContext(repo)
    assert len(ctx.log_dataset("a", frame(), preview=5).preview) == 5
    assert ctx.log_dataset("b", frame(), preview=0).preview is None
    assert ctx.log_dataset("c", frame(), stats=False).stats is None
    assert ctx.log_dataset("d", frame(), stats=True).stats is not None


def test_stats_none_skips_very_large_frames(repo, monkeypatch):
    from prefect_artifacts.core.materializers import summary

    monkeypatch.setattr(summary, "STATS_MAX_CELLS", 100)
    ctx = ArtifactContext(repo)
    assert ctx.log_dataset("big", frame(50)).stats is None  # 150 cells
    assert ctx.log_dataset("big2", frame(50), stats=True).stats is not None
    assert ctx.log_dataset("small", frame(10)).stats is not None


def test_versions_increment_and_identical_content_is_not_a_new_version(repo):
    ctx = ArtifactContext(repo)
    v1 = ctx.log_dataset("k", frame(seed=1))
    v2 = ctx.log_dataset("k", frame(seed=2))
    again = ctx.log_dataset("k", frame(seed=2))
    assert (v1.version, v2.version, again.version) == (1, 2, 2)
    assert again.hash == v2.hash and again.uid == v2.uid
    assert [v.version for v in repo.versions("k")] == [2, 1]
    # identical to an *older* version is new content relative to the latest: a new version
    assert ctx.log_dataset("k", frame(seed=1)).version == 3


def test_identical_bytes_under_two_keys_are_stored_once(repo):
    ctx = ArtifactContext(repo)
    a = ctx.log_artifact("a", b"same bytes")
    b = ctx.log_artifact("b", b"same bytes")
    assert a.hash == b.hash and a.target_path == b.target_path
    assert len(files_under(store_root(repo) / "blobs")) == 1


def test_model_metrics_change_makes_a_new_version_even_with_same_bytes(repo):
    ctx = ArtifactContext(repo)
    body = pickle.dumps({"w": 1})
    m1 = ctx.log_model("m", body=body, model_file="m.pkl", metrics={"accuracy": 0.8})
    m2 = ctx.log_model("m", body=body, model_file="m.pkl", metrics={"accuracy": 0.8})
    m3 = ctx.log_model("m", body=body, model_file="m.pkl", metrics={"accuracy": 0.9})
    assert (m1.version, m2.version, m3.version) == (1, 1, 2)


def test_get_by_key_version_and_tag(repo):
    ctx = ArtifactContext(repo)
    for seed in range(3):
        ctx.log_dataset("k", frame(seed=seed))
    repo.tag("k:2", "prod")
    assert repo.get("k").version == 3
    assert repo.get("k:1").version == 1
    assert repo.get("k@prod").version == 2
    assert repo.get("k", version=1).version == 1
    assert repo.get("k", tag="prod").version == 2
    assert repo.get("default/k:2").version == 2
    assert repo.get("k:latest").version == 3


def test_not_found_errors_name_the_missing_thing(repo):
    ArtifactContext(repo).log_artifact("k", b"x")
    with pytest.raises(LookupError, match="'nope' not found"):
        repo.get("nope")
    with pytest.raises(ArtifactNotFoundError, match=r"no version 7.*latest is version 1"):
        repo.get("k:7")
    with pytest.raises(ArtifactNotFoundError, match="no tag 'prod'"):
        repo.get("k@prod")
    with pytest.raises(ArtifactNotFoundError):
        repo.get("k", project="other")


def test_tags_are_unique_per_key_and_move(repo):
    ctx = ArtifactContext(repo)
    ctx.log_artifact("k", b"1")
    ctx.log_artifact("k", b"2")
    ctx.log_artifact("other", b"1")
    repo.tag("k:1", "prod")
    repo.tag("other:1", "prod")  # same tag name on another key is independent
    moved = repo.tag("k:2", "prod")
    assert moved.tags == ["prod"] and repo.get("k:1").tags == []
    assert repo.get("other@prod").version == 1
    assert repo.untag("k@prod") == 2
    with pytest.raises(ArtifactNotFoundError):
        repo.get("k@prod")
    with pytest.raises(ArtifactNotFoundError):
        repo.untag("k", "prod")
    with pytest.raises(ValueError):
        repo.tag("k:1", "latest")


def test_tag_at_log_time_moves_too(repo):
    ctx = ArtifactContext(repo)
    ctx.log_artifact("k", b"1", tag="prod")
    ctx.log_artifact("k", b"2", tag="prod")
    assert repo.get("k@prod").version == 2 and repo.get("k:1").tags == []


def test_load_open_download(repo, tmp_path):
    df = frame(30)
    v = ArtifactContext(repo).log_dataset("k", df)
    pd.testing.assert_frame_equal(v.load(), df)
    pd.testing.assert_frame_equal(repo.get("k").as_df(), df)
    blob = Path(v.target_path.removeprefix("file://")).read_bytes()
    with v.open() as fh:
        assert fh.read() == blob
    out = v.download(tmp_path / "out.parquet")
    assert out == tmp_path / "out.parquet" and out.read_bytes() == blob
    into_dir = v.download(tmp_path)
    assert into_dir == tmp_path / "my_data.parquet" or into_dir.name == "k.parquet"
    assert into_dir.read_bytes() == blob


def tamper(version) -> Path:
    path = Path(version.target_path.removeprefix("file://"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def test_tampered_dataset_is_refused(repo, tmp_path):
    v = ArtifactContext(repo).log_dataset("k", frame(1000))
    tamper(v)
    with pytest.raises(IntegrityError, match="corrupt"):
        v.load()
    with pytest.raises(IntegrityError), v.open() as fh:
        fh.read()
    with pytest.raises(IntegrityError):
        v.download(tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
    assert not list(tmp_path.glob("*.partial"))


class _Boom:
    def __reduce__(self):
        return (Path.touch, (Path(_Boom.marker),))


def test_tampered_pickle_is_never_unpickled(repo, tmp_path):
    v = ArtifactContext(repo).log_model("m", body=pickle.dumps([1, 2, 3]), model_file="m.pkl")
    _Boom.marker = str(tmp_path / "pwned")
    Path(v.target_path.removeprefix("file://")).write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(IntegrityError):
        v.load()
    assert not (tmp_path / "pwned").exists()


def test_missing_bytes_are_reported(repo):
    v = ArtifactContext(repo).log_artifact("k", b"data")
    Path(v.target_path.removeprefix("file://")).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        v.load()


def test_seed_calls_and_extra_data(repo, tmp_path):
    context = ArtifactContext(repo)
    context.log_dataset(key="my_data", df=frame())
    confusion = context.log_artifact("confusion", {"tp": 5, "fp": 1})
    report = tmp_path / "report.txt"
    report.write_text("fine")
    model_data = pickle.dumps({"coef": [1.0]})
    m = context.log_model(
        key="my_model",
        body=model_data,
        model_file="my_model.pkl",
        metrics={"accuracy": 0.9},
        extra_data={
            "confusion": confusion.target_path,
            "raw": b"\x01\x02",
            "report": report,
            "data": repo.get("my_data"),
        },
    )
    assert isinstance(m, ModelVersion)
    assert m.model_file == "my_model.pkl" and m.metrics == {"accuracy": 0.9}
    assert m.load() == {"coef": [1.0]}
    extra = repo.get("my_model").extra_data
    assert (
        extra["confusion"].source == "artifact"
        and extra["confusion"].artifact == "default/confusion:1"
    )
    assert extra["confusion"].read() == b'{"tp": 5, "fp": 1}'
    assert extra["raw"].read() == b"\x01\x02" and extra["raw"].source == "bytes"
    assert extra["report"].filename == "report.txt"
    assert extra["report"].download(tmp_path / "dl").read_text() == "fine"
    assert extra["data"].artifact == "default/my_data:1"
    with extra["data"].open() as fh:
        assert fh.read(4) == b"PAR1"


def test_dataset_extra_data(repo):
    v = ArtifactContext(repo).log_dataset("d", frame(), extra_data={"readme": b"about"})
    assert v.extra_data["readme"].read() == b"about"


def test_bad_extra_data(repo, tmp_path):
    ctx = ArtifactContext(repo)
    with pytest.raises(ValueError, match="not an existing file"):
        ctx.log_model("m", body=b"x", extra_data={"c": str(tmp_path / "nope.png")})
    with pytest.raises(TypeError, match="extra_data"):
        ctx.log_model("m", body=b"x", extra_data={"c": 3.5})
    with pytest.raises(ValueError):
        ctx.log_model("m", body=b"x", extra_data={"bad name": b"x"})
    assert repo.list() == []


@pytest.mark.parametrize("metric", [float("nan"), float("inf"), -float("inf"), "0.9", None, True])
def test_metrics_must_be_finite_numbers(repo, metric):
    with pytest.raises(ValueError, match="accuracy"):
        ArtifactContext(repo).log_model("m", body=b"x", metrics={"accuracy": metric})
    assert repo.list() == [] and files_under(store_root(repo) / "blobs") == []


@pytest.mark.parametrize("key", ["../x", "a/b", "", "a\nb", "k" * 129, "-x"])
def test_bad_keys_store_nothing(repo, key):
    with pytest.raises(ValueError):
        ArtifactContext(repo).log_dataset(key, frame())
    assert repo.list(project="*") == []
    assert files_under(store_root(repo)) == []


def test_log_model_needs_exactly_one_body(repo):
    ctx = ArtifactContext(repo)
    with pytest.raises(ValueError, match="exactly one"):
        ctx.log_model("m")
    with pytest.raises(ValueError, match="exactly one"):
        ctx.log_model("m", body=b"x", model=object())
    with pytest.raises(ValueError, match="serialized"):
        ctx.log_model("m", body={"not": "bytes"})


def test_failure_while_writing_leaves_nothing(repo):
    from prefect_artifacts import Materializer, register_materializer
    from prefect_artifacts.core.materializers import registry

    class Flaky:
        pass

    class FlakyMaterializer(Materializer):
        types = (Flaky,)

        def save(self, prepared, sink, fmt):
            sink.write(b"partial" * 1000)
            raise RuntimeError("disk on fire")

        def load(self, data, version):
            return data

    register_materializer(FlakyMaterializer)
    try:
        with pytest.raises(RuntimeError, match="disk on fire"):
            ArtifactContext(repo).log_artifact("k", Flaky())
    finally:
        registry.unregister(FlakyMaterializer)
    assert repo.list() == []
    identity = {store_root(repo) / "repository.json", *files_under(store_root(repo) / "writers")}
    assert set(files_under(store_root(repo))) == identity  # no blob, temporary file, manifest


def test_a_manifest_that_cannot_be_written_yet_stays_queued(repo, monkeypatch, caplog):
    """The manifest commits with the version (outbox); storage gets it once it can."""

    def fail(path, document):
        raise OSError("storage went away")

    assert repo.repository_id  # the repository's identity is in storage already
    monkeypatch.setattr(repo.storage, "create_json", fail)
    version = ArtifactContext(repo).log_artifact("k", b"x")
    assert version.version == 1  # committed
    manifest = Path(repo.storage.manifest_path("default", "k", 1, version.uid))
    assert "stay queued" in caplog.text and not manifest.exists()
    assert len(repo.catalog.pending()) == 1
    monkeypatch.undo()
    assert ArtifactContext(repo).log_artifact("other", b"y").version == 1  # the next write...
    assert json.loads(manifest.read_text())["key"] == "k"  # ...drains the queue
    assert repo.catalog.pending() == []


def test_delete_version_key_and_shared_bytes(repo):
    ctx = ArtifactContext(repo)
    ctx.log_artifact("a", b"shared")
    ctx.log_artifact("a", b"only-a")
    ctx.log_artifact("b", b"shared")
    assert repo.delete("a:2") == [2]
    assert repo.get("a").version == 1
    assert len(files_under(store_root(repo) / "blobs")) == 1  # only-a's bytes are gone
    assert repo.delete("a") == [1]
    assert len(files_under(store_root(repo) / "blobs")) == 1  # still used by b
    with pytest.raises(ArtifactNotFoundError):
        repo.get("a")
    assert repo.get("b").load() == b"shared"
    manifest_b = store_root(repo) / f"manifests/default/b/1-{repo.get('b').uid}.json"
    assert manifest_b.exists()
    repo.delete("b", data=False)
    assert len(files_under(store_root(repo) / "blobs")) == 1  # metadata only
    assert not manifest_b.exists()
    with pytest.raises(ArtifactNotFoundError):
        repo.delete("b")


def test_extra_data_keeps_bytes_alive(repo):
    ctx = ArtifactContext(repo)
    conf = ctx.log_artifact("conf", b"matrix")
    ctx.log_model("m", body=b"model", extra_data={"confusion": conf})
    repo.delete("conf")
    assert repo.get("m").extra_data["confusion"].read() == b"matrix"


def test_version_numbers_are_never_reused(repo):
    ctx = ArtifactContext(repo)
    ctx.log_artifact("k", b"1")
    ctx.log_artifact("k", b"2")
    repo.delete("k:2")
    assert ctx.log_artifact("k", b"3").version == 3
    repo.delete("k")
    assert ctx.log_artifact("k", b"4").version == 4


def test_delete_by_tag(repo):
    ctx = ArtifactContext(repo)
    ctx.log_artifact("k", b"1", tag="old")
    ctx.log_artifact("k", b"2")
    assert repo.delete("k@old") == [1]


def test_set_labels(repo):
    ArtifactContext(repo).log_artifact("k", b"1", labels={"team": "ml", "stage": "dev"})
    assert repo.set_labels("k", {"stage": "prod"}).labels == {"team": "ml", "stage": "prod"}
    assert repo.set_labels("k", {"only": "this"}, replace=True).labels == {"only": "this"}


def test_list_filters(repo):
    ctx = ArtifactContext(repo)
    ctx.log_dataset("events-raw", frame(seed=1), labels={"team": "ml", "src": "web"})
    ctx.log_dataset("events-clean", frame(seed=2), labels={"team": "ml"})
    ctx.log_model("model", body=b"m", labels={"team": "bi"})
    ctx.log_artifact("notes", "text")
    ctx.log_artifact("notes", "text 2")
    repo.tag("notes:1", "prod")
    keys = lambda versions: [v.key for v in versions]  # noqa: E731
    assert keys(repo.list()) == ["notes", "model", "events-clean", "events-raw"]
    assert repo.list()[0].version == 2
    assert repo.list(kind="dataset")[0].preview is None  # lists leave out previews and stats
    assert keys(repo.list(key="events-*")) == ["events-clean", "events-raw"]
    assert keys(repo.list(key="*RAW")) == ["events-raw"]  # globs ignore case
    assert keys(repo.list(key="model")) == ["model"]
    assert keys(repo.list(kind="dataset")) == ["events-clean", "events-raw"]
    assert keys(repo.list(labels={"team": "ml"})) == ["events-clean", "events-raw"]
    assert keys(repo.list(labels={"team": "ml", "src": "web"})) == ["events-raw"]
    assert keys(repo.list(labels=["src"])) == ["events-raw"]
    assert [(v.key, v.version) for v in repo.list(tag="prod")] == [("notes", 1)]
    assert len(repo.list(all_versions=True)) == 5
    # newest update first: tagging version 1 updated it after version 2 was logged
    assert [v.version for v in repo.list(key="notes", all_versions=True)] == [1, 2]
    assert [v.version for v in repo.versions("notes")] == [2, 1]
    assert len(repo.list(limit=2)) == 2
    assert keys(repo.list(limit=2, offset=2)) == ["events-clean", "events-raw"]
    assert repo.list(producer="no-such-flow") == []


def test_list_by_time(repo):
    ctx = ArtifactContext(repo)
    ctx.log_artifact("old", b"1")
    time.sleep(0.05)
    middle = datetime.now(UTC)
    time.sleep(0.05)
    ctx.log_artifact("new", b"2")
    assert [v.key for v in repo.list(since=middle)] == ["new"]
    assert [v.key for v in repo.list(until=middle)] == ["old"]
    local_naive = datetime.now() - timedelta(hours=1)  # naive means local time
    assert len(repo.list(since=local_naive)) == 2
    assert repo.list(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    # a tag change is an update: "old" becomes recent
    repo.tag("old:1", "prod")
    assert {v.key for v in repo.list(since=middle)} == {"old", "new"}


def test_projects_are_namespaces(repo):
    ArtifactContext(repo).log_artifact("k", b"default")
    ArtifactContext(repo, project="other").log_artifact("k", b"other")
    ArtifactContext(repo, project="other").log_artifact("k", b"other 2")
    assert repo.get("k").version == 1 and repo.get("k").load() == b"default"
    assert repo.get("other/k").version == 2
    assert repo.get("k", project="other").load() == b"other 2"
    assert len(repo.list(project="*")) == 2
    assert [p.project for p in repo.projects()] == ["default", "other"]


def test_bad_list_filters(repo):
    with pytest.raises(ValueError):
        repo.list(labels={"bad label": "x"})
    with pytest.raises(ValueError):
        repo.list(limit=-1)
    with pytest.raises(ValueError):
        repo.list(project="../etc")


def test_versions_pickle_without_their_repository(repo):
    v = ArtifactContext(repo).log_artifact("k", b"x")
    clone = pickle.loads(pickle.dumps(v))
    assert clone.model_dump() == v.model_dump() and clone._repo is None


def test_producer_and_consumers_outside_prefect(repo):
    v = ArtifactContext(repo).log_artifact("k", b"x")
    v.load()
    assert v.consumers() == [] and v.producers() == []  # only Prefect runs are recorded


def test_delete_latest_deletes_one_version(repo):
    ctx = ArtifactContext(repo)
    for i in range(3):
        ctx.log_artifact("k", f"v{i}".encode())
    assert repo.delete("k:latest") == [3]
    assert [v.version for v in repo.versions("k")] == [2, 1]


def test_relogging_identical_content_applies_new_labels_and_description(repo):
    ctx = ArtifactContext(repo)
    ctx.log_artifact("j", "same", labels={"team": "ml"})
    again = ctx.log_artifact("j", "same", labels={"stage": "prod"}, description="checked")
    assert again.version == 1
    assert again.labels == {"team": "ml", "stage": "prod"} and again.description == "checked"
    df = frame(30)
    ctx.log_dataset("d", df)
    relogged = ctx.log_dataset("d", df, labels={"x": "1"}, description="fast path")
    assert relogged.version == 1 and relogged.labels == {"x": "1"}
    assert relogged.description == "fast path"


def test_file_names_never_escape_the_download_folder(repo, tmp_path):
    ctx = ArtifactContext(repo)
    for bad in ("../../escaped.bin", "/etc/passwd", "a/b.pkl", "..", ""):
        with pytest.raises(ValueError, match="plain file name"):
            ctx.log_model("m", body=b"x", model_file=bad)
    v = ctx.log_artifact("k", b"data")
    folder = tmp_path / "downloads"
    folder.mkdir()
    saved = repo.download_blob(v.hash, folder, "../../escaped.bin")
    assert saved == folder / "escaped.bin" and saved.read_bytes() == b"data"
    assert repo.download_blob(v.hash, folder, "..").parent == folder


def test_stale_versions_fail_fast_and_clearly(repo, monkeypatch):
    from prefect_artifacts.core.catalog import database, utcnow

    v = ArtifactContext(repo).log_artifact("k", b"x")
    vid = v._row_id
    repo.delete("k")
    waits: list[float] = []
    monkeypatch.setattr(database.time, "sleep", waits.append)
    with pytest.raises(ArtifactNotFoundError, match="deleted while"):
        repo.catalog.set_tag(vid, "prod", utcnow())
    with pytest.raises(ArtifactNotFoundError, match="deleted while"):
        repo.catalog.add_run(vid, "consumer", {"flow_run_id": "f"}, utcnow())
    assert waits == []  # not retried like an outage


def test_key_globs_with_classes_ignore_case_on_sqlite(repo):
    import sqlalchemy as sa

    ArtifactContext(repo).log_artifact("Features", b"1")
    assert [v.key for v in repo.list(key="f[e]atures")] == ["Features"]
    assert [v.key for v in repo.list(key="F[!x]ATURES")] == ["Features"]
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    sa.event.listen(repo.catalog.engine, "before_cursor_execute", seen)
    try:
        assert repo.list(key="*a*a*a*a*a*a*a*[z]") == []
    finally:
        sa.event.remove(repo.catalog.engine, "before_cursor_execute", seen)
    # SQLite's own GLOB matcher (no backtracking), never a regular expression
    assert any(" GLOB " in s for s in statements)
    assert not any("REGEXP" in s.upper() for s in statements)
    with pytest.raises(ValueError, match="at most 8 wildcards"):
        repo.list(key="*a*a*a*a*a*a*a*a*a")


def test_bad_format_names_are_refused(repo):
    with pytest.raises(ValueError, match="not a format name"):
        ArtifactContext(repo).log_artifact("k", b"x", format="../../x")


def test_large_loads_leave_no_open_files(repo, monkeypatch):
    import os

    import pyarrow as pa

    from prefect_artifacts.core.repository import blobread

    monkeypatch.setattr(blobread, "IN_MEMORY_MAX", 1000)  # take the streaming path
    ctx = ArtifactContext(repo)
    arrow = ctx.log_dataset("arrow", pa.table({"x": list(range(20_000))}), format="arrow")
    pandas = ctx.log_dataset("pandas", frame(20_000))

    def open_in_storage() -> list[str]:  # this process's descriptors on the storage's files
        found = []
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # closed meanwhile (another thread's)
                target = os.readlink(f"/proc/self/fd/{fd}")
                if target.startswith(repo.storage.root):
                    found.append(target)
        return found

    assert open_in_storage() == []
    for _ in range(5):
        assert arrow.load().num_rows == 20_000
        assert len(pandas.load()) == 20_000
    deadline = time.monotonic() + 10  # Arrow's I/O threads may close a file just after a read
    while open_in_storage() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_in_storage() == []


def _log_in_child(root: str, queue) -> None:
    repo = Repository(Storage.from_url(f"{root}/store"), Catalog(f"sqlite:///{root}/c.db"))
    queue.put(ArtifactContext(repo).log_dataset("child", frame(100, seed=9)).version)


def test_logging_works_in_a_forked_child(repo, tmp_path):
    import multiprocessing as mp

    shared = Repository(
        Storage.from_url(f"{tmp_path}/store"), Catalog(f"sqlite:///{tmp_path}/c.db")
    )
    ArtifactContext(shared).log_dataset("parent", frame(100))  # the parent's pool is in use
    shared.get("parent").load()
    context = mp.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_log_in_child, args=(str(tmp_path), results))
    child.start()
    child.join(60)
    if child.is_alive():  # hung: do not leave it behind
        child.kill()
    assert child.exitcode == 0 and results.get(timeout=5) == 1
