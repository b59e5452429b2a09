"""Issue 24, round 3 (integrity and security items): journal replay, signed journals and
manifests, keyless writers, range requests, gc leases, retries, depth limits. Each test failed on
the code before its fix."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path

import pytest

from prefect_artifacts import ArtifactContext, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.errors import ArtifactNotFoundError
from prefect_artifacts.core.maintenance import reindex
from prefect_artifacts.core.settings import ArtifactSettings
from prefect_artifacts.core.storage import Storage
from tests.conftest import drop_catalog, local_repository, snapshot


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
    repo = local_repository(tmp_path)
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


@pytest.mark.slow
@pytest.mark.parametrize("seed", [*range(8), 17])
def test_2_replaying_any_history_gives_exactly_the_live_catalog(tmp_path, seed):
    repo = local_repository(tmp_path)
    _random_history(repo, random.Random(seed), 40)
    live = snapshot(repo.catalog)
    again, report = rebuilt(repo)
    assert report.skipped == {}
    assert snapshot(again.catalog) == live


# -- 18 every journal entry and every manifest field is signed -----------------------------------
KEY = "hmac:team-secret"


def _journal(repo: Repository) -> dict[Path, dict]:
    return {
        Path(p): repo.storage.read_json(p)
        for p in repo.storage.find("journal")
        if p.endswith(".json")
    }


def test_18_forged_journal_entries_are_skipped_and_reported(tmp_path):
    repo = local_repository(tmp_path, signing_key=KEY)
    ctx = ArtifactContext(repo)
    ctx.log_model("m", body=b"one", model_file="m.bin", metrics={"auc": 0.5}, tag="prod")
    ctx.log_model("m", body=b"two", model_file="m.bin", metrics={"auc": 0.6})
    repo.set_labels("m:1", {"team": "ml"})
    repo.drain(full=True)
    entries = _journal(repo)
    assert all(e["signature"]["key"] == repo.signer.key_id for e in entries.values())
    live = snapshot(repo.catalog)
    folder = next(iter(entries)).parent
    # a writer with storage access only: deletes v2, moves prod, relabels v1
    forged = {
        "journal": 1,
        "at": "2099-01-01T00:00:00+00:00",
        "project": "default",
        "key": "m",
        "seq": 90,
    }
    (folder / "forged-delete.json").write_text(
        json.dumps({**forged, "op": "delete", "versions": [2]})
    )
    (folder / "forged-tag.json").write_text(
        json.dumps({**forged, "seq": 91, "op": "tag", "version": 2, "tag": "prod"})
    )
    path, genuine = next((p, e) for p, e in entries.items() if e["op"] == "labels")
    path = path.with_name("copied.json")  # a genuine entry copied with a change, seal kept
    path.write_text(json.dumps({**genuine, "labels": {"team": "evil"}}))
    again, report = rebuilt(repo, signing_key=KEY)
    assert snapshot(again.catalog) == live
    assert (
        "record not sealed: it is not signed" in report.skipped[str(folder / "forged-delete.json")]
    )
    assert "it is not signed" in report.skipped[str(folder / "forged-tag.json")]
    assert "its signature does not match" in report.skipped[str(path)]
    assert again.get("m:1").labels == {"team": "ml"} and again.get("m@prod").version == 1
    _, unkeyed = rebuilt(repo)  # without the key the forgeries would have been replayed
    assert unkeyed.skipped == {}


def test_18_every_manifest_field_is_signed(tmp_path):
    repo = local_repository(tmp_path, signing_key=KEY)
    ctx = ArtifactContext(repo)
    ctx.log_model("m", body=b"one", model_file="m.bin", metrics={"auc": 0.5})
    ctx.log_model("m", body=b"two", model_file="m.bin", metrics={"auc": 0.6})
    path = Path(repo.storage.manifest_path("default", "m", 1))
    document = json.loads(path.read_text())
    document["meta"]["metrics"] = {"auc": 0.99}  # the identity signature does not cover metrics
    path.write_text(json.dumps(document))
    again, report = rebuilt(repo, signing_key=KEY)
    assert "its signature does not match" in report.skipped[str(path)]
    assert [v.version for v in again.versions("m")] == [2]
    assert again.get("m:2").metrics == {"auc": 0.6}


def test_18_records_name_their_format_and_writer_and_old_ones_still_read(tmp_path):
    from prefect_artifacts.core.catalog.outbox import writer_version

    repo = local_repository(tmp_path)
    ctx = ArtifactContext(repo)
    ctx.log_artifact("k", b"one", tag="prod")
    ctx.log_artifact("k", b"two")
    repo.untag("k", "prod")
    repo.drain(full=True)
    entries = _journal(repo)
    assert {(e["journal"], e["writer"]) for e in entries.values()} == {(1, writer_version())}
    manifest = Path(repo.storage.manifest_path("default", "k", 1))
    assert json.loads(manifest.read_text())["writer"] == writer_version() != "unknown"
    live = snapshot(repo.catalog)
    for path, entry in entries.items():  # as 0.x releases wrote them
        path.write_text(
            json.dumps({k: v for k, v in entry.items() if k not in ("journal", "writer")})
        )
    again, report = rebuilt(repo)
    assert report.skipped == {} and snapshot(again.catalog) == live
    path, entry = next(iter(entries.items()))
    path.write_text(json.dumps({**entry, "journal": 7, "writer": "9.0"}))
    _, report = rebuilt(again)
    assert "journal format 7 is newer than this release reads (1)" in report.skipped[str(path)]
    assert "written by prefect-artifacts 9.0" in report.skipped[str(path)]


# -- 19 with signing on, a keyless writer is refused before anything changes ---------------------
def _files(repo: Repository) -> dict[str, bytes]:
    root = Path(repo.storage.path(""))
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("key", ["none", "verify-only"])
def test_19_a_keyless_writer_is_refused_before_anything_changes(tmp_path, key):
    from prefect_artifacts.core.errors import SigningKeyRequiredError
    from prefect_artifacts.core.signing import new_ed25519_key

    private, public = new_ed25519_key()
    signed = local_repository(tmp_path, signing_key=private)
    ArtifactContext(signed).log_model("m", model={"w": [1]}, metrics={"auc": 0.9}, tag="prod")
    signed.drain(full=True)
    before, files = snapshot(signed.catalog), _files(signed)
    writer = local_repository(tmp_path, **({"signing_key": public} if key == "verify-only" else {}))
    ctx = ArtifactContext(writer)
    attempts = {
        "update_model": lambda: writer.revise("m", extra_data={"card": b"x"}, kind="model"),
        "log a new key": lambda: ctx.log_artifact("other", b"bytes"),
        "log a version": lambda: ctx.log_model("m", model={"w": [2]}),
        "tag": lambda: writer.tag("m:1", "staging"),
        "untag": lambda: writer.untag("m", "prod"),
        "labels": lambda: writer.set_labels("m:1", {"team": "x"}),
        "description": lambda: writer.set_description("m:1", "changed"),
        "delete": lambda: writer.delete("m:1"),
    }
    for name, attempt in attempts.items():
        with pytest.raises(SigningKeyRequiredError, match="PREFECT_ARTIFACTS_SIGNING_KEY"):
            attempt()
        assert snapshot(signed.catalog) == before, name
        assert _files(signed) == files, name
    assert signed.get("m").load() == {"w": [1]}  # key holders still load it
    assert signed.revise("m", extra_data={"card": b"x"}, kind="model").load() == {"w": [1]}


# -- 24 a truncated part read with push-down is an integrity error ------------------------------
@pytest.mark.parametrize("how", ["truncated", "same size"])
def test_24_a_damaged_part_read_with_push_down_raises_integrity_error(tmp_path, how):
    import pandas as pd

    from prefect_artifacts.core.errors import IntegrityError, InvalidArgumentError

    repo = local_repository(tmp_path)
    frame = pd.DataFrame({"x": range(1000), "y": ["a"] * 1000})
    v = ArtifactContext(repo).log_dataset("d", frame)
    assert len(repo.load_dataset(v, filters=[("x", ">", 500)])) == 499
    blob = Path(repo.storage.blob_path(v.hash))
    data = blob.read_bytes()
    damaged = data[: len(data) // 2] if how == "truncated" else data[:-4] + b"XXXX"
    blob.write_bytes(damaged)
    with pytest.raises(IntegrityError, match=r"corrupt|sha256") as raised:
        repo.load_dataset(v, filters=[("x", ">", 500)])
    assert not isinstance(raised.value, InvalidArgumentError)
    with pytest.raises(IntegrityError):
        repo.dataset_rows(v, offset=0, limit=5)
    with pytest.raises(InvalidArgumentError):  # a bad filter on intact bytes stays a usage error
        blob.write_bytes(data)
        repo.load_dataset(v, filters=[("x", ">", "text")])


# -- 25 values nested too deep are refused with a clear error -----------------------------------
def test_25_values_nested_too_deep_are_refused_clearly(tmp_path):
    from prefect_artifacts.core.errors import InvalidArgumentError

    repo = local_repository(tmp_path)
    ctx = ArtifactContext(repo)
    deep_list: list = []
    deep_dict: dict = {}
    for _ in range(2000):
        deep_list, deep_dict = [deep_list], {"a": deep_dict}
    attempts = {
        "a list": lambda: ctx.log_artifact("a", deep_list),
        "a dict as JSON": lambda: ctx.log_artifact("b", deep_dict, format="json"),
        "parameters": lambda: ctx.log_model(
            "m", body=b"w", model_file="m.bin", parameters={"p": deep_dict}
        ),
        "a revision": lambda: repo.revise("m2", parameters={"p": deep_dict}),
    }
    ctx.log_model("m2", body=b"w", model_file="m.bin")
    for name, attempt in attempts.items():
        with pytest.raises(
            InvalidArgumentError, match="nested more than 100 levels deep"
        ) as raised:
            attempt()
        assert not isinstance(raised.value.__context__, RecursionError), name
    assert [v.key for v in repo.list()] == ["m2"]  # nothing half-written
    shallow: dict = {}
    for _ in range(90):
        shallow = {"a": shallow}
    assert ctx.log_artifact("ok", shallow, format="json").load() == shallow


# -- also: log_dataset(options=...) and quotes in metric sorts -----------------------------------
def test_also_log_dataset_takes_the_documented_part_size_option(tmp_path):
    import numpy as np
    import pandas as pd

    from prefect_artifacts.core.errors import InvalidArgumentError

    ctx = ArtifactContext(local_repository(tmp_path))

    def batches():
        for i in range(8):
            yield pd.DataFrame({"x": np.arange(i * 20_000, (i + 1) * 20_000, dtype="int64")})

    default = ctx.log_dataset("one", batches())
    small = ctx.log_dataset("many", batches(), options={"part_size": 1 << 17})
    assert default.part_count == 1 and small.part_count > 1
    assert small.load()["x"].tolist() == list(range(160_000))
    with pytest.raises(InvalidArgumentError, match="part_size must be at least 65536"):
        ctx.log_dataset("tiny", batches(), options={"part_size": 10})
    with pytest.raises(InvalidArgumentError, match=r"unknown option 'compression'.*part_size"):
        ctx.log_dataset("bad", pd.DataFrame({"x": [1]}), options={"compression": "zstd"})


@pytest.mark.parametrize("name", ["it's", 'say "hi"', "back\\slash"])
def test_also_a_metric_sort_with_a_quote_is_refused(tmp_path, name):
    from prefect_artifacts.core.errors import InvalidArgumentError

    repo = local_repository(tmp_path)
    with pytest.raises(InvalidArgumentError, match="without quotes or backslashes"):
        repo.list(sort=f"-metric:{name}")


# -- 20 a byte range of a blob is served only once the blob is known to be intact ----------------
def test_20_a_range_of_a_blob_of_unknown_state_is_verified_first(tmp_path):
    from fastapi.testclient import TestClient

    from prefect_artifacts.web import create_app

    repo = local_repository(tmp_path)
    payload = bytes(range(256)) * 12_000  # 3 MB: several chunks
    v = ArtifactContext(repo).log_artifact("big", payload)
    blob = Path(repo.storage.blob_path(v.hash))
    client = TestClient(create_app(repo), raise_server_exceptions=False)
    url = "/api/projects/default/artifacts/big/versions/1/download"
    whole = {"Range": "bytes=0-"}
    answer = client.get(url, headers={"Range": "bytes=100-"})
    assert answer.status_code == 206 and answer.content == payload[100:]
    hashed = repo.storage.verified.hashes
    assert client.get(url, headers=whole).content == payload
    assert repo.storage.verified.hashes == hashed  # verified once, then trusted as it is
    blob.write_bytes(b"X" * 10 + payload[10:])  # same size, other bytes: its state is unknown
    answer = client.get(url, headers=whole)
    assert answer.status_code == 500 and b"sha256" in answer.content
    assert answer.content != b"X" * 10 + payload[10:]
    assert client.get(url, headers={"Range": "bytes=20-"}).status_code == 500


# -- 21 gc leaves the parts and temporary files of a stream log in flight alone --------------------
def test_21_gc_with_no_grace_does_not_break_a_stream_log_in_flight(tmp_path):
    import datetime as dt
    import threading

    import numpy as np
    import pandas as pd

    from prefect_artifacts.core.maintenance import gc, verify

    repo = local_repository(tmp_path)
    reached, go = threading.Event(), threading.Event()

    def batches():
        for i in range(6):
            if i == 3:
                reached.set()  # parts of the first batches are written by now
                assert go.wait(60)
            yield pd.DataFrame({"x": np.arange(i * 20_000, (i + 1) * 20_000, dtype="int64")})

    result: dict = {}

    def log() -> None:
        try:
            result["v"] = ArtifactContext(repo).log_dataset(
                "live", batches(), options={"part_size": 1 << 16}
            )
        except Exception as exc:  # reported below
            result["error"] = exc

    writer = threading.Thread(target=log)
    writer.start()
    assert reached.wait(60)
    leases = list(Path(repo.storage.path("leases")).glob("*.json"))
    assert len(leases) == 1  # the writer holds a lease while it writes
    report = gc(repo, grace=dt.timedelta(0))
    assert report.removed == 0 and report.temporary_removed == 0 and report.blobs_seen > 0
    go.set()
    writer.join(60)
    assert "error" not in result, result.get("error")
    assert result["v"].load()["x"].tolist() == list(range(120_000))
    assert verify(repo).ok
    assert list(Path(repo.storage.path("leases")).glob("*.json")) == []  # released
    Path(repo.storage.path("leases")).mkdir(exist_ok=True)
    stale = Path(repo.storage.path("leases/dead.json"))
    stale.write_text(
        json.dumps({"started": "2000-01-01T00:00:00+00:00", "renewed": "2000-01-01T00:00:00+00:00"})
    )
    assert gc(repo, grace=dt.timedelta(0)).leases_removed == 1 and not stale.exists()


# -- 23 gc aborts incomplete S3 multipart uploads under the repository --------------------------
def test_23_gc_aborts_incomplete_multipart_uploads_older_than_the_grace(s3_storage, tmp_path):
    import datetime as dt

    import s3fs

    from prefect_artifacts.core.maintenance import gc

    url, options = s3_storage
    repo = Repository(
        Storage.from_url(url, options), Catalog(f"sqlite:///{tmp_path / 'c.db'}"), owner="t"
    )
    ArtifactContext(repo).log_artifact("kept", b"kept")
    fs = s3fs.S3FileSystem(**options)
    bucket, prefix = url.removeprefix("s3://").split("/", 1)

    def start(key: str) -> str:  # what a SIGKILL in the middle of an upload leaves
        upload = fs.call_s3("create_multipart_upload", Bucket=bucket, Key=key)
        fs.call_s3(
            "upload_part",
            Bucket=bucket,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=1,
            Body=b"x" * (5 << 20),
        )
        return key

    ours = start(f"{prefix}/blobs/sha256/ab/{'c' * 62}")
    start(f"{prefix}-other/blobs/x")  # another repository's prefix: not ours to abort

    def pending() -> list[str]:
        answer = fs.call_s3("list_multipart_uploads", Bucket=bucket)
        return sorted(u["Key"] for u in answer.get("Uploads", []))

    # (moto reports every upload as initiated in 2010, so the grace itself is not exercised)
    dry = gc(repo, grace=dt.timedelta(0), dry_run=True)
    assert dry.uploads_aborted == 1 and ours in pending()
    assert gc(repo, grace=dt.timedelta(0)).uploads_aborted == 1
    assert pending() == [f"{prefix}-other/blobs/x"]
    assert repo.get("kept").load() == b"kept"


# -- 22 a PostgreSQL backend killed mid-transaction is rolled back and retried --------------------
@pytest.mark.slow
def test_22_logs_survive_a_storm_of_killed_postgres_backends(tmp_path, pg_url):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import sqlalchemy as sa

    repo = Repository(
        Storage.from_url(str(tmp_path / "store")), Catalog(pg_url, retry_seconds=30), owner="t"
    )
    ctx = ArtifactContext(repo)
    ctx.log_artifact("warm", b"up")  # the schema exists before the storm
    database = sa.engine.make_url(pg_url).database
    killer = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    done = threading.Event()
    kills = {"n": 0}
    logged = {"n": 0}
    lock = threading.Lock()

    def storm() -> None:  # terminate every other backend of the catalog's database, repeatedly
        with killer.connect() as conn:
            while not done.is_set():
                kills["n"] += conn.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": database},
                ).scalar()
                done.wait(0.25)

    def log(i: int) -> int:
        version = ctx.log_artifact(f"k{i % 5}", f"content {i}".encode(), labels={"i": str(i)})
        with lock:
            logged["n"] += 1
            if logged["n"] == 10:  # the storm starts once logs are under way
                threading.Thread(target=storm, daemon=True).start()
        return version.version

    failures = []
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(log, i) for i in range(75)]
        for future in futures:
            try:
                future.result()
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc}"[:200])
    done.set()
    killer.dispose()
    assert kills["n"] > 0, "the storm killed no backend"
    assert failures == []
    assert sum(len(repo.versions(f"k{i}")) for i in range(5)) == 75
    repo.catalog.dispose()
