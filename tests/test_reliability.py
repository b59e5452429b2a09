"""Issue 11, item by item: silent data changes, crash windows, the trust model and inputs that
used to crash. Each test failed on the code before the fix."""

from __future__ import annotations

import datetime as dt
import decimal
import fractions
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from prefect_artifacts import ArtifactContext, Repository
from prefect_artifacts.cli import app
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.errors import (
    ArtifactNotFoundError,
    InvalidArgumentError,
    InvalidKeyError,
    StorageError,
    UnsupportedTypeError,
    UntrustedContentError,
)
from prefect_artifacts.core.maintenance import gc, reindex, verify
from prefect_artifacts.core.storage import Storage
from prefect_artifacts.core.storage.streams import SPOOL_PREFIX, clean_stale_spools
from tests.conftest import drop_catalog, local_repository, snapshot


# -- 1 fingerprints ------------------------------------------------------------------------------
def test_1_nested_columns_sliced_from_one_buffer_are_told_apart(repo):
    child = pa.array([1, 2, 3, 4])
    first = pa.table({"s": pa.StructArray.from_arrays([child.slice(0, 2)], ["x"])})
    second = pa.table({"s": pa.StructArray.from_arrays([child.slice(2, 2)], ["x"])})
    ctx = ArtifactContext(repo)
    assert ctx.log_dataset("nested", first).version == 1
    v2 = ctx.log_dataset("nested", second)
    assert v2.version == 2 and v2.load().column("s").to_pylist() == [{"x": 3}, {"x": 4}]
    lists = pa.array([[1], [2]])
    ctx.log_dataset("lists", pa.table({"l": lists.slice(0, 1)}))
    assert ctx.log_dataset("lists", pa.table({"l": lists.slice(1, 1)})).version == 2
    frame = pd.DataFrame({"c": [{"s": {"x": 1}}]})
    ctx.log_dataset("dicts", frame)
    assert ctx.log_dataset("dicts", pd.DataFrame({"c": [{"s": {"x": 3}}]})).version == 2
    assert ctx.log_dataset("dicts", pd.DataFrame({"c": [{"s": {"x": 3}}]})).version == 2


# -- 2 manifests only for committed versions --------------------------------------------------------
def test_2_reindex_skips_manifests_whose_bytes_are_gone(repo):
    ctx = ArtifactContext(repo)
    ctx.log_artifact("kept", b"kept")
    ghost = json.loads(Path(repo.storage.manifest_path("default", "kept", 1)).read_text())
    ghost.update(version=2, uid="f" * 32, hash="0" * 64)  # a manifest whose bytes never landed
    Path(repo.storage.manifest_path("default", "kept", 2)).write_text(json.dumps(ghost))
    committed = snapshot(repo.catalog)
    assert gc(repo, grace=dt.timedelta(0)).removed == 0
    drop_catalog(repo.catalog.engine)
    rebuilt = Repository(repo.storage, Catalog(repo.catalog.url), owner="tester")
    report = reindex(rebuilt)
    assert any("bytes 000000000000… are missing" in why for why in report.skipped.values())
    assert snapshot(rebuilt.catalog) == committed
    assert rebuilt.get("kept").version == 1 and verify(rebuilt).ok


# -- 3 CSV ----------------------------------------------------------------------------------------------
def test_3_csv_round_trips_exactly_or_refuses(repo):
    ctx = ArtifactContext(repo)
    df = pd.DataFrame(
        {"a": [1.0, None, 3.5], "b": ["x", None, ""], "when": pd.to_datetime(["2026-01-01"] * 3)},
        index=pd.Index([10, 20, 30], name="row"),
    )
    single = pd.DataFrame({"only": [1.0, None, 2.0]})
    v = ctx.log_dataset("csv", df, format="csv")
    back = v.load()
    assert v.rows == 3 and len(back) == 3
    pd.testing.assert_frame_equal(back, df)
    pd.testing.assert_frame_equal(ctx.log_dataset("one", single, format="csv").load(), single)
    with pytest.raises(UnsupportedTypeError, match="CSV cannot hold"):
        ctx.log_dataset("nested-csv", pd.DataFrame({"l": [[1, 2]]}), format="csv")
    assert repo.list(key="nested-csv") == []


# -- 4 tags and labels commit with their journal ----------------------------------------------------
def test_4_a_full_disk_does_not_fail_tags_and_labels_and_leaves_no_tmp(repo, monkeypatch):
    ArtifactContext(repo).log_artifact("k", b"x")
    real_open = open

    def disk_full(path, mode="r", *args, **kwargs):
        if str(path).endswith(".tmp") and "w" in mode:
            raise OSError(28, "No space left on device")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", disk_full)
    assert repo.tag("k:1", "prod").tags == ["prod"]  # no StorageError: it committed
    assert repo.set_labels("k:1", {"a": "b"}).labels == {"a": "b"}
    monkeypatch.undo()
    journal = Path(repo.storage.root) / "journal"
    assert not list(journal.rglob("*.tmp"))
    committed = snapshot(repo.catalog)
    repo.drain(full=True)
    drop_catalog(repo.catalog.engine)
    rebuilt = Repository(repo.storage, Catalog(repo.catalog.url), owner="tester")
    reindex(rebuilt)
    assert snapshot(rebuilt.catalog) == committed


# -- 5 corrupt bytes are replaced -----------------------------------------------------------------------
def test_5_a_corrupt_blob_is_replaced_by_the_next_identical_write(repo):
    ctx = ArtifactContext(repo)
    first = ctx.log_artifact("a", b"the content" * 100)
    path = Path(repo.storage.blob_path(first.hash))
    path.write_bytes(b"X" * path.stat().st_size)  # same size, wrong bytes
    second = ctx.log_artifact("b", b"the content" * 100)  # same content, another key
    assert second.hash == first.hash and path.read_bytes() == b"the content" * 100
    assert verify(repo).ok and repo.get("a").load() == b"the content" * 100
    path.write_bytes(b"short")  # truncated
    ctx.log_artifact("c", b"the content" * 100)
    assert verify(repo).ok


# -- 6 trust model ------------------------------------------------------------------------------------------
def test_6_signed_repositories_refuse_forged_manifests_and_unsigned_pickles(tmp_path):
    repo = local_repository(tmp_path, signing_key="hmac:team-secret")
    ctx = ArtifactContext(repo)
    good = ctx.log_model("model", model={"weights": [1, 2]}, metrics={"auc": 0.9})
    assert good.signature and good.load() == {"weights": [1, 2]}
    # someone with write access to storage only adds a manifest and a pickle that runs code
    forged = json.loads(Path(repo.storage.manifest_path("default", "model", 1)).read_text())
    evil = repo.storage.put_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    forged.update(version=2, uid="e" * 32, hash=evil.hash, size=evil.size)
    Path(repo.storage.manifest_path("default", "model", 2)).write_text(json.dumps(forged))
    report = reindex(repo)
    assert report.versions_restored == 0
    assert (
        "its signature does not match"
        in report.skipped[repo.storage.manifest_path("default", "model", 2)]
    )
    unsigned = local_repository(tmp_path)  # the same storage and catalog, no key: reindex takes it
    assert reindex(unsigned).versions_restored == 1
    with pytest.raises(UntrustedContentError, match="signature does not match"):
        repo.get("model:2").load()  # the keyed repository still refuses to unpickle it


def test_6_pickles_load_only_when_trusted_and_safe_formats_need_no_trust(tmp_path):
    from sklearn.linear_model import LogisticRegression

    repo = local_repository(tmp_path, trust_pickles=False)
    ctx = ArtifactContext(repo)
    pickled = ctx.log_model("pickled", model={"w": 1})
    with pytest.raises(UntrustedContentError, match="Load it with load\\(trusted=True\\)"):
        pickled.load()
    assert pickled.load(trusted=True) == {"w": 1}
    model = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    safe = ctx.log_model("safe", model=model, format="skops", metrics={"auc": 1.0})
    assert safe.format == "skops" and safe.framework == "sklearn"
    assert safe.load().predict([[1.0]]).tolist() == [1]
    weights = ctx.log_model("weights", model={"w": np.arange(3.0)}, format="safetensors")
    assert weights.load()["w"].tolist() == [0.0, 1.0, 2.0]


def test_6_keys_sign_and_verify(tmp_path):
    from prefect_artifacts.core.signing import Signer, new_ed25519_key

    private, public = new_ed25519_key()
    record = {"uid": "u", "project": "p", "key": "k", "version": 1, "hash": "h", "size": 1}
    signature = Signer(private).sign(record)
    assert Signer(public).verify(record, signature) is None
    assert Signer(public).verify({**record, "version": 2}, signature) == (
        "its signature does not match"
    )
    with pytest.raises(InvalidArgumentError, match="verifies only"):
        Signer(public).sign(record)
    with pytest.raises(InvalidArgumentError, match="SCHEME:MATERIAL"):
        Signer("nonsense")
    result = CliRunner().invoke(app, ["keygen"])
    assert (
        result.exit_code == 0 and "ed25519:" in result.output and "ed25519-public:" in result.output
    )


# -- 7 statistics never fail a log --------------------------------------------------------------------------
def test_7_statistics_never_fail_a_log(repo):
    import polars as pl

    ctx = ArtifactContext(repo)
    frame = pd.DataFrame(
        {
            "delay": pd.to_timedelta([1, 2, 3], unit="s"),
            "half": np.array([1.0, 2.0, 3.0], dtype=np.float16),
            "id": np.array([2**62 + 1] * 3, dtype=np.int64),
            "tiny": [1.0, 1.0 + 1e-15, 1.0],
        }
    )
    v = ctx.log_dataset("odd-types", frame, stats=True)
    assert v.stats["delay"]["min"] == "0:00:01" and v.stats["half"]["max"] == 3.0
    assert v.stats["id"]["hist"]["counts"] == [3] and v.stats["tiny"]["hist"]["counts"] == [3]
    one = ctx.log_dataset("one-row", pd.DataFrame({"id": [9_007_199_254_740_993]}), stats=True)
    assert one.stats["id"]["min"] == 9_007_199_254_740_993
    duration = pl.DataFrame({"d": [dt.timedelta(seconds=5)]})
    assert ctx.log_dataset("polars-duration", duration, stats=True).stats["d"]["max"] == "0:00:05"


# -- 8 re-log racing a delete --------------------------------------------------------------------------------
def test_8_an_identical_relog_racing_a_delete_still_logs(repo):
    import threading

    ctx = ArtifactContext(repo)
    frame = pd.DataFrame({"x": range(1000)})
    ctx.log_dataset("raced", frame)
    errors: list[BaseException] = []
    relogged = threading.Event()
    deletes = 0

    def relog() -> None:
        for _ in range(60):  # a count, not a time: the same work on any machine
            try:
                ctx.log_dataset("raced", frame)
            except BaseException as exc:
                errors.append(exc)
        relogged.set()

    def delete() -> None:
        nonlocal deletes
        while not relogged.is_set():
            deletes += 1
            try:
                repo.delete("raced:latest")
            except ArtifactNotFoundError:
                pass
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=relog), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [], errors[:3]
    assert deletes > 1  # the two really ran side by side
    assert ctx.log_dataset("raced", frame).load()["x"].tolist() == list(range(1000))


# -- 9 reindex skips bad files --------------------------------------------------------------------------------
def test_9_reindex_skips_and_reports_bad_files_and_restores_the_rest(repo):
    ctx = ArtifactContext(repo)
    for key in ("a", "b", "c"):
        ctx.log_artifact(key, key.encode())
    repo.tag("a:1", "prod")
    root = Path(repo.storage.root)
    manifest_b = Path(repo.storage.manifest_path("default", "b", 1))
    manifest_b.write_text(manifest_b.read_text()[:40])  # truncated
    Path(repo.storage.manifest_path("default", "z", 1)).parent.mkdir(parents=True)
    Path(repo.storage.manifest_path("default", "z", 1)).write_text("{}")
    (root / "journal" / "default" / "broken.json").write_text('{"op": "tag", "key"')
    drop_catalog(repo.catalog.engine)
    rebuilt = Repository(repo.storage, Catalog(repo.catalog.url), owner="tester")
    report = reindex(rebuilt)
    assert report.versions_restored == 2
    reasons = " ".join(report.skipped.values())
    assert "not valid JSON" in reasons and "missing or not a str" in reasons
    assert rebuilt.get("a@prod").version == 1 and rebuilt.get("c").load() == b"c"
    out = CliRunner().invoke(app, ["reindex"], env=_cli_env(rebuilt))
    assert out.exit_code == 0 and "skipped" in out.output


# -- 10 stale spools ------------------------------------------------------------------------------------------
def test_10_spools_of_killed_uploads_are_removed(tmp_path, repo):
    dead = 2**22 + 12345  # beyond pid_max: never alive
    stale = tmp_path / f"{SPOOL_PREFIX}{dead}-abc"
    stale.write_bytes(b"x" * 1000)
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = tmp_path / f"{SPOOL_PREFIX}{os.getpid()}-def"
    fresh.write_bytes(b"y")
    assert clean_stale_spools(str(tmp_path)) == 1
    assert not stale.exists() and fresh.exists()


# -- 11-14 the CLI -------------------------------------------------------------------------------------------
def _cli_env(repo: Repository) -> dict[str, str]:
    return {
        "PREFECT_ARTIFACTS_STORAGE_URL": repo.storage.root,
        "PREFECT_ARTIFACTS_CATALOG_URL": repo.catalog.url,
    }


def test_11_rich_markup_in_stored_text_is_shown_as_text(repo):
    ArtifactContext(repo).log_artifact(
        "marked", b"x", labels={"a": "[/ml]", "b": "[link=http://x]y"}
    )
    runner = CliRunner()
    listing = runner.invoke(app, ["ls"], env=_cli_env(repo))
    assert (
        listing.exit_code == 0
        and "[/ml]" in listing.output
        and "[link=http://x]y" in listing.output
    )
    bad = runner.invoke(app, ["show", "x[/red]"], env=_cli_env(repo))
    assert bad.exit_code == 2 and "x[/red]" in bad.output


def test_12_huge_numbers_are_clear_errors(repo, pg_url):
    ArtifactContext(repo).log_artifact("k", b"x")
    for ref in ("k:99999999999999999999", "k:9223372036854775808", "k:2147483648"):
        with pytest.raises(InvalidKeyError, match="out of range"):
            repo.get(ref)
    runner = CliRunner()
    env = _cli_env(repo)
    for args in (
        ["show", "k:9223372036854775808"],
        ["rm", "-y", "k:99999999999999999999"],
        ["ls", "--since", "999999d"],
        ["gc", "--grace", "999999d"],
        ["prune", "--keep-last", "1", "--older-than", "999999d"],
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
    pg_store = Storage.from_url(repo.storage.root + "-pg")  # a catalog has its own storage
    pg = Repository(pg_store, Catalog(pg_url), owner="tester")
    ArtifactContext(pg).log_artifact("k", b"x")
    with pytest.raises(InvalidKeyError):
        pg.get("k:9223372036854775808")
    with pytest.raises(InvalidArgumentError, match="backwards"):
        pg.list(key="[z-a]*")


def test_13_download_reports_missing_bytes_and_makes_folders(repo, tmp_path):
    version = ArtifactContext(repo).log_artifact("doc", b"hello", format="txt")
    runner = CliRunner()
    target = tmp_path / "newdir"
    saved = runner.invoke(app, ["download", "doc", f"{target}/"], env=_cli_env(repo))
    assert saved.exit_code == 0 and (target / "doc-v1.txt").read_bytes() == b"hello"
    Path(repo.storage.blob_path(version.hash)).unlink()
    missing = runner.invoke(app, ["download", "doc", str(tmp_path)], env=_cli_env(repo))
    assert missing.exit_code == 4 and "missing" in missing.output


def test_14_verify_of_an_unknown_key_fails(repo):
    ArtifactContext(repo).log_artifact("real", b"x")
    result = CliRunner().invoke(app, ["verify", "reel"], env=_cli_env(repo))
    assert result.exit_code == 3 and "not found" in result.output


# -- 15 metrics --------------------------------------------------------------------------------------------
def test_15_every_finite_real_number_is_a_metric(repo):
    ctx = ArtifactContext(repo)
    good = {
        "i": np.int64(2),
        "f": np.float32(0.5),
        "d": decimal.Decimal("0.25"),
        "q": fractions.Fraction(1, 4),
        "n": 3,
    }
    assert ctx.log_model("m", body=b"x", metrics=good).metrics == {
        "i": 2.0,
        "f": 0.5,
        "d": 0.25,
        "q": 0.25,
        "n": 3.0,
    }
    for value, message in (
        (True, "boolean"),
        (10**400, "beyond"),
        (float("nan"), "not a finite"),
        ("0.9", "str"),
        (None, "NoneType"),
    ):
        with pytest.raises(InvalidArgumentError, match=message):
            ctx.log_model("m", body=b"y", metrics={"x": value})


# -- 16 and the rest ----------------------------------------------------------------------------------------
def test_16_bad_inputs_are_clear_errors_and_store_nothing(repo):
    ctx = ArtifactContext(repo)
    for description in (b"bytes", ["a", "b"]):
        with pytest.raises(InvalidArgumentError, match="description must be a string"):
            ctx.log_artifact("d", b"x", description=description)
    with pytest.raises(InvalidArgumentError, match="lone surrogate"):
        ctx.log_artifact("d", b"x", description="bad \udc80")
    with pytest.raises(InvalidKeyError, match="lone surrogate"):
        ctx.log_artifact("d", b"x", labels={"a": "bad \udc80"})
    with pytest.raises(UnsupportedTypeError, match="lone surrogate"):
        ctx.log_artifact("d", "text \udc80")
    ghost = repo.storage.blob_url("ab" + "0" * 62)
    with pytest.raises(InvalidArgumentError, match="does not hold"):
        ctx.log_model("m", body=b"x", extra_data={"ghost": ghost})
    with pytest.raises(StorageError, match="cannot read"):
        ctx.log_model("m", body=b"x", extra_data={"far": "http://127.0.0.1:9/nothing"})
    with pytest.raises(UnsupportedTypeError, match="appear more than once"):
        ctx.log_dataset("dup", pa.table([pa.array([1]), pa.array([2])], names=["x", "x"]))
    with pytest.raises(UnsupportedTypeError, match="complex numbers"):
        ctx.log_dataset("cx", pd.DataFrame({"z": [1 + 2j]}))
    with pytest.raises(UnsupportedTypeError, match="sparse"):
        ctx.log_dataset("sp", pd.DataFrame({"s": pd.arrays.SparseArray([0, 0, 1])}))
    assert repo.list() == []


def test_16_parquet_keeps_types_and_rows(repo):
    ctx = ArtifactContext(repo)
    table = pa.table(
        {
            "d64": pa.array([dt.date(2026, 1, 2)], pa.date64()),
            "t32": pa.array([dt.time(1, 2, 3)], pa.time32("s")),
            "ts": pa.array([dt.datetime(2026, 1, 2, 3, 4, 5)], pa.timestamp("s")),
        }
    )
    assert ctx.log_dataset("types", table).load().schema == table.schema
    empty = pd.DataFrame(index=range(3))
    v = ctx.log_dataset("no-columns", empty)
    assert v.rows == 3 and v.load().shape == (3, 0)


def test_16_the_ui_on_every_address_without_a_token_warns(env_repo, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    result = CliRunner().invoke(app, ["ui", "--host", "0.0.0.0"])
    assert result.exit_code == 0 and "without a token" in result.output
