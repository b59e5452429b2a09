"""Multi-part datasets from streams: parts of bounded size, merged statistics, every read path
(full, push-down, Arrow dataset, Dask, polars, DuckDB) with the data checked, shared parts
across versions surviving deletes, gc, reindex, verify and page-checksum detection — on local
storage + SQLite and on moto S3 + PostgreSQL."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.parquet as pq
import pytest

from prefect_artifacts import IntegrityError, InvalidArgumentError, Repository
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.diff import diff_versions
from prefect_artifacts.core.maintenance import gc, reindex, verify
from prefect_artifacts.core.materializers import summary
from tests.conftest import drop_catalog, snapshot

PART = 200_000  # bytes of Arrow data per part in these tests


def frame(start: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(start)
    return pd.DataFrame(
        {
            "id": np.arange(start, start + rows, dtype=np.int64),
            "amount": rng.normal(100, 15, rows),
            "city": rng.choice(["paris", "oslo", "lima", "rome"], rows),
            "maybe": np.where(rng.random(rows) < 0.1, np.nan, rng.random(rows)),
        }
    )


def chunks(n: int = 12, rows: int = 5_000):
    for i in range(n):
        yield frame(i * rows, rows)


def whole(n: int = 12, rows: int = 5_000) -> pd.DataFrame:
    return pd.concat(list(chunks(n, rows)), ignore_index=True)


@pytest.mark.slow
def test_streaming_log_writes_bounded_parts_with_merged_stats(store):
    v = store.log("events", chunks(), options={"part_size": PART})
    expected = whole()
    assert v.part_count == len(v.parts) > 3
    assert v.rows == len(expected) == sum(p.rows for p in v.parts)
    assert v.size == sum(p.size for p in v.parts)
    assert v.python_type == "pandas"
    # each part holds at most part_size of Arrow data (plus one batch)
    batch_bytes = pa.Table.from_pandas(frame(0, 5_000), preserve_index=False).nbytes
    assert all(p.rows * batch_bytes / 5_000 <= PART + batch_bytes for p in v.parts)
    pd.testing.assert_frame_equal(v.load(), expected)
    # merged stats equal the single-frame stats where they are exact
    exact = summary.stats_of(pa.Table.from_pandas(expected, preserve_index=False))
    for column in ("id", "amount", "maybe"):
        for stat in ("count", "nulls", "min", "max"):
            assert v.stats[column][stat] == exact[column][stat]
        assert v.stats[column]["mean"] == pytest.approx(exact[column]["mean"], rel=1e-12)
        assert v.stats[column]["std"] == pytest.approx(exact[column]["std"], rel=1e-9)
        assert v.stats[column]["50%"] == pytest.approx(exact[column]["50%"], rel=1e-12)
        assert sum(v.stats[column]["hist"]["counts"]) == exact[column]["count"]
    assert v.stats["city"]["top"] == exact["city"]["top"]
    assert v.stats["city"]["unique"] == 4
    assert v.preview == summary.preview_of(pa.Table.from_pandas(expected.head(20)))
    # the catalog holds the parts; the manifest lists them
    manifest = store.storage.read_json(store.storage.manifest_path("default", "events", 1))
    assert [p["hash"] for p in manifest["parts"]] == [p.hash for p in v.parts]
    # page checksums are written
    path = store.storage.blob_path(v.parts[0].hash)
    with store.storage.fs.open(path, "rb") as fh:
        assert (
            pq.ParquetFile(fh, page_checksum_verification=True).read().num_rows == v.parts[0].rows
        )


def test_large_column_quantiles_come_from_a_merged_sketch(repo):
    rng = np.random.default_rng(1)
    batches = (pa.record_batch({"x": rng.normal(0, 1, 100_000)}) for _ in range(5))
    v = repo.log("wide", batches, options={"part_size": 1 << 20})
    x = v.load().column("x").to_numpy()
    stats = v.stats["x"]
    assert stats["approx"] is True and stats["count"] == 500_000
    for q, name in ((0.25, "25%"), (0.5, "50%"), (0.75, "75%")):
        rank = (x < stats[name]).mean()  # the estimate's rank is close to q
        assert abs(rank - q) < 0.02
    assert sum(stats["hist"]["counts"]) == 500_000
    assert stats["hist"]["edges"][0] == x.min() and stats["hist"]["edges"][-1] == x.max()


@pytest.mark.parametrize("source", ["reader", "dataset", "lazyframe", "batches"])
def test_every_stream_kind_logs_and_loads_back(repo, tmp_path, source):
    expected = pa.Table.from_pandas(whole(6, 4_000), preserve_index=False)
    if source == "reader":
        obj = pa.RecordBatchReader.from_batches(expected.schema, expected.to_batches(3_000))
        back = "arrow"
    elif source == "dataset":
        (tmp_path / "in").mkdir()
        for i, batch in enumerate(expected.to_batches(5_000)):
            pq.write_table(pa.Table.from_batches([batch]), tmp_path / "in" / f"{i:02}.parquet")
        obj = pds.dataset(tmp_path / "in")
        back = "arrow"
    elif source == "lazyframe":
        pq.write_table(expected, tmp_path / "in.parquet")
        obj = pl.scan_parquet(tmp_path / "in.parquet").filter(pl.col("id") >= 0)
        back = "polars"
    else:
        obj = iter(expected.to_batches(2_500))
        back = "arrow"
    v = repo.log(f"from-{source}", obj, options={"part_size": PART})
    assert v.part_count > 1 and v.python_type == back
    loaded = v.load()
    table = loaded.to_arrow() if back == "polars" else loaded
    got = table.sort_by("id")
    assert got.column("id").to_pylist() == expected.column("id").to_pylist()
    assert got.column("amount").to_pylist() == expected.column("amount").to_pylist()
    assert got.column("city").to_pylist() == expected.column("city").to_pylist()


@pytest.mark.slow
def test_push_down_and_lazy_read_paths(store):
    v = store.log("events", chunks(), options={"part_size": PART})
    expected = whole()
    want = expected.loc[expected.id < 3_000, ["id", "amount"]].reset_index(drop=True)
    got = v.load(columns=["id", "amount"], filters=[("id", "<", 3_000)])
    pd.testing.assert_frame_equal(got, want)
    dataset = v.to_arrow_dataset()
    assert isinstance(dataset, pds.Dataset) and dataset.count_rows() == len(expected)
    ddf = v.to_dask()
    assert ddf.npartitions == v.part_count
    # Dask gives strings its own (Arrow-backed) dtype; the values are the same
    got = ddf.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert got.id.dtype == np.int64 and got.amount.dtype == np.float64
    lazy = v.to_polars(lazy=True)
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.filter(pl.col("city") == "oslo").select(pl.len()).collect().item() == int(
        (expected.city == "oslo").sum()
    )
    assert v.to_polars(lazy=False).shape == expected.shape
    rel = v.to_duckdb()
    assert rel.aggregate("sum(id)").fetchall()[0][0] == int(expected.id.sum())
    with pytest.raises(InvalidArgumentError, match="no column"):
        v.load(columns=["nope"])


def test_single_file_versions_have_the_same_read_paths(store):
    df = frame(0, 3_000)
    v = store.log("small", df)
    assert v.part_count is None
    got = v.load(columns=["id"], filters=[("amount", ">", 110)])
    pd.testing.assert_frame_equal(got, df.loc[df.amount > 110, ["id"]].reset_index(drop=True))
    pd.testing.assert_frame_equal(v.to_dask().compute(), df, check_dtype=False)
    assert v.to_arrow_dataset().count_rows() == 3_000
    assert v.to_polars().collect().height == 3_000


def test_partial_reads_detect_a_corrupt_page_and_full_loads_its_sha256(repo):
    v = repo.log("events", chunks(), options={"part_size": PART})
    part = v.parts[1]
    path = repo.storage.blob_path(part.hash)
    meta = pq.read_metadata(path)
    chunk = meta.row_group(0).column(1)  # "amount": plain float pages
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    inside = start + chunk.total_compressed_size - 16  # in its last data page
    with open(path, "r+b") as fh:
        fh.seek(inside)
        byte = fh.read(1)
        fh.seek(inside)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(IntegrityError, match="sha256"):  # changed since written: hashed first
        v.load(columns=["amount"])
    with pytest.raises(IntegrityError, match="checksum"), _verify_never(repo):  # pages checked
        v.load(columns=["amount"])
    with pytest.raises(IntegrityError):
        v.load()
    report = verify(repo, "events")
    assert [(p.what, p.hash) for p in report.problems] == [("corrupt", part.hash)]


@pytest.mark.slow
def test_incremental_versions_share_parts_and_survive_deletes(store):
    v1 = store.log("events", chunks(8), options={"part_size": PART})
    v2 = store.log("events", chunks(12), options={"part_size": PART})  # appends four chunks
    shared = {p.hash for p in v1.parts} & {p.hash for p in v2.parts}
    assert len(shared) >= len(v1.parts) - 1  # all but (at most) the last, partial part
    diff = diff_versions(store.get("events:1"), store.get("events:2"))
    assert diff.parts is not None and diff.parts.shared == len(shared)
    assert set(diff.parts.added) == {p.hash for p in v2.parts} - shared
    assert set(diff.parts.removed) == {p.hash for p in v1.parts} - shared
    # relogging identical content makes no new version
    again = store.log("events", chunks(12), options={"part_size": PART})
    assert again.version == 2
    store.delete("events:1")
    for digest in shared:
        assert store.storage.blob_exists(digest)
    for digest in {p.hash for p in v1.parts} - shared:  # only v1 had them: removed with it
        assert not store.storage.blob_exists(digest)
    pd.testing.assert_frame_equal(store.get("events").load(), whole(12))
    assert verify(store).ok
    report = gc(store, grace=timedelta(0))
    assert not set(report.orphans) & {p.hash for p in v2.parts}
    pd.testing.assert_frame_equal(store.get("events").load(), whole(12))
    store.delete("events")
    assert not any(store.storage.blob_exists(p.hash) for p in v2.parts)
    assert not store.storage.blob_exists(v2.hash)


@pytest.mark.slow
def test_reindex_rebuilds_multi_part_versions(store):
    store.log("events", chunks(8), options={"part_size": PART})
    store.log("events", chunks(12), options={"part_size": PART}, tag="prod")
    before = snapshot(store.catalog)
    drop_catalog(store.catalog.engine)
    catalog = Catalog(store.catalog.url)
    rebuilt = Repository(store.storage, catalog, owner="tester")
    report = reindex(rebuilt)
    assert report.versions_restored == 2 and not report.skipped
    assert snapshot(catalog) == before
    pd.testing.assert_frame_equal(rebuilt.get("events@prod").load(), whole(12))
    catalog.dispose()


def test_reindex_skips_a_version_whose_part_is_missing(repo):
    v = repo.log("events", chunks(8), options={"part_size": PART})
    repo.storage.delete_blob(v.parts[-1].hash)
    drop_catalog(repo.catalog.engine)
    rebuilt = Repository(repo.storage, Catalog(repo.catalog.url), owner="tester")
    report = reindex(rebuilt)
    assert report.versions_restored == 0
    assert any("parts" in why for why in report.skipped.values())


def test_bad_streams_are_refused_with_nothing_logged(repo):
    def changing():
        yield pd.DataFrame({"a": [1, 2]})
        yield pd.DataFrame({"b": [1, 2]})

    with pytest.raises(InvalidArgumentError, match="same columns"):
        repo.log("bad", changing())
    with pytest.raises(InvalidArgumentError, match="no batches"):
        repo.log("bad", iter([]))
    with pytest.raises(InvalidArgumentError, match="Parquet"):
        repo.log("bad", chunks(2), format="csv")
    assert repo.list() == []


def test_artifact_ref_can_ask_for_a_lazy_dask_frame(repo):
    import dask.dataframe as dd

    from prefect_artifacts import ArtifactRef

    repo.log("events", chunks(4), options={"part_size": PART}, tag="prod")
    lazy = ArtifactRef("events@prod", load="dask").resolve(repo)
    assert isinstance(lazy, dd.DataFrame) and lazy.npartitions == repo.get("events").part_count
    assert int(lazy.id.max().compute()) == 4 * 5_000 - 1
    eager = ArtifactRef("events@prod").resolve(repo)
    pd.testing.assert_frame_equal(eager, whole(4))
    with pytest.raises(ValueError, match="load='spark'"):
        ArtifactRef("events@prod", load="spark")


def test_cli_web_and_card_show_the_parts(env_repo):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from prefect_artifacts.cli import app
    from prefect_artifacts.prefect.cards import card
    from prefect_artifacts.web import create_app

    env_repo.log("events", chunks(8), options={"part_size": PART})
    env_repo.log("events", chunks(12), options={"part_size": PART})
    v = env_repo.get("events")
    shown = CliRunner().invoke(app, ["show", "events"]).output
    assert f"{v.part_count} Parquet parts" in shown
    changed = CliRunner().invoke(app, ["diff", "events:1", "events:2"]).output
    assert "parts:" in changed and "shared" in changed
    page = TestClient(create_app(env_repo)).get("/projects/default/artifacts/events").text
    assert 'id="parts"' in page and v.parts[0].hash[:16] in page
    assert page.count('<tr><td class="num">') >= v.part_count
    assert f"{v.part_count} Parquet parts" in card(v)


def test_single_frame_logs_write_page_checksums_too(repo):
    v = repo.log("small", frame(0, 50_000))
    path = repo.storage.blob_path(v.hash)
    chunk = pq.read_metadata(path).row_group(0).column(1)
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    with open(path, "r+b") as fh:
        fh.seek(start + chunk.total_compressed_size - 16)
        byte = fh.read(1)
        fh.seek(start + chunk.total_compressed_size - 16)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(IntegrityError, match="checksum"), _verify_never(repo):
        v.load(columns=["amount"])


@contextlib.contextmanager
def _verify_never(repo):
    """verify='never': push-down reads skip the part's sha256; page checksums still apply."""
    saved = repo.settings.verify
    repo.settings.verify = "never"
    try:
        yield
    finally:
        repo.settings.verify = saved


def test_to_dask_knows_divisions_of_a_sorted_index(repo):
    def indexed():
        for df in chunks(6):
            yield df.set_index("id")

    v = repo.log("indexed", indexed(), options={"part_size": PART})
    lazy = v.to_dask()
    assert lazy.known_divisions and lazy.divisions[0] == 0 and lazy.divisions[-1] == 29_999
    assert lazy.loc[12_000:12_004].compute().index.tolist() == list(range(12_000, 12_005))
    unsorted = repo.log("shuffled", reversed(list(indexed())), options={"part_size": PART})
    assert not unsorted.to_dask().known_divisions


@pytest.mark.slow
def test_stream_benchmark_reports_the_childs_own_peak_rss(tmp_path, monkeypatch):
    """The streaming benchmark's peak RSS is the logging child's own: on Linux a child's
    ``ru_maxrss`` keeps the high-water mark of the runner it was spawned from, which made a
    runner that had peaked near 1 GB report ~1 GB for a log that stays near 370 MB."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import bench_bigdata

    ballast = np.ones(80 << 20)  # 640 MB touched: this process's high-water mark passes 600 MB
    del ballast
    ours = bench_bigdata._child("ours", 0.05, tmp_path)
    assert 50 < ours["rss_mb"] < 600, ours


def test_streaming_log_keeps_no_statistics_per_part(repo):
    """Small parts each hold their numeric columns' values (for exact quartiles); they are
    merged as each part closes, so what is kept stays bounded however long the stream is."""
    from prefect_artifacts.core.repository import multipart

    rows, count = 5_000, 60  # 300,000 rows: more than summary.EXACT_QUANTILE_ROWS
    source = (
        pa.record_batch({"x": np.arange(i * rows, (i + 1) * rows, dtype=np.float64)})
        for i in range(count)
    )
    parts, _, merged = multipart.write_stream(repo.storage, source, "stream", 1 << 16, 20, True)
    assert len(parts) >= 20
    kept = [c.values for p in parts for c in p.stats.values() if c.values is not None]
    assert sum(len(v) for v in kept) == 0
    assert merged["x"].values is None and merged["x"].n == rows * count
    stats = multipart.partstats.finish(merged)["x"]
    assert stats["count"] == rows * count and stats["max"] == rows * count - 1
    assert stats["approx"] is True
