"""The cheaper log path: Parquet dictionary encoding only where values repeat, and a one-pass
histogram that agrees with numpy's."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from prefect_artifacts import ArtifactContext
from prefect_artifacts.core.materializers import summary
from prefect_artifacts.core.materializers.dataset import DatasetMaterializer, dictionary_columns


def test_distinct_columns_are_written_plain_and_repeating_ones_as_dictionary(repo) -> None:
    rng = np.random.default_rng(0)
    rows = 100_000
    df = pd.DataFrame(
        {
            "f": rng.normal(size=rows),
            "id": np.arange(rows),
            "code": rng.integers(0, 50, rows),
            "s": rng.choice(["red", "green", "blue"], rows),
            "cat": pd.Categorical(rng.choice(["x", "y"], rows)),
            "flag": rng.random(rows) > 0.5,
            "cycle": np.arange(rows) % 10_000,  # distinct in any run of rows, yet 10k values
        }
    )
    table = pa.Table.from_pandas(df, preserve_index=False)
    assert dictionary_columns(table) == ["code", "s", "cat", "flag", "cycle"]
    v = ArtifactContext(repo).log_dataset("d", df)
    meta = pq.ParquetFile(repo.storage.blob_path(v.hash)).metadata.row_group(0)
    encodings = {
        meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)
    }
    assert not any("DICTIONARY" in e for e in encodings["f"]), encodings["f"]
    assert any("DICTIONARY" in e for e in encodings["s"]), encodings["s"]
    pd.testing.assert_frame_equal(repo.get("d").load(verify=True), df)


def test_missing_values_do_not_make_distinct_columns_look_repeating() -> None:
    """Nulls and NaNs are left out of the sample: a tenth of them once made a random float
    column look repeating (dictionary-encoded, then the writer's fallback to plain)."""
    rng = np.random.default_rng(1)
    rows = 100_000
    x = rng.normal(size=rows)
    x[rng.random(rows) < 0.1] = np.nan
    ids = pd.array(np.arange(rows), dtype="Int64")
    ids[rng.random(rows) < 0.2] = pd.NA
    codes = pd.array(rng.integers(0, 50, rows), dtype="Int64")
    codes[rng.random(rows) < 0.2] = pd.NA
    empty = pd.Series([None] * rows, dtype=object)
    df = pd.DataFrame({"x": x, "ids": ids, "codes": codes, "empty": empty})
    table = pa.Table.from_pandas(df, preserve_index=False)
    assert dictionary_columns(table) == ["codes", "empty"]


def test_small_and_nested_tables_keep_the_default() -> None:
    assert dictionary_columns(pa.table({"x": np.arange(10.0)})) is True
    nested = pa.table({"x": np.arange(100_000.0), "l": [[1]] * 100_000})
    assert dictionary_columns(nested) is True
    sink = io.BytesIO()
    m = DatasetMaterializer()
    m.save(m.prepare(nested, "parquet", {}), sink, "parquet")
    assert pq.read_table(io.BytesIO(sink.getvalue())).equals(nested)


def test_histogram_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    rows = summary.EXACT_QUANTILE_ROWS  # above it the histogram comes from a sample
    for values in (rng.normal(size=rows), rng.integers(-1000, 1000, rows)):
        stats = summary.column_stats(pa.chunked_array([values]))
        expected, edges = np.histogram(values, bins=summary.HIST_BINS)
        assert stats["hist"]["counts"] == expected.tolist()
        assert stats["hist"]["edges"] == [float(e) for e in edges]
        assert stats["min"] == values.min() and stats["max"] == values.max()


def test_synced_ahead_writes_store_every_byte_and_fail_cleanly(tmp_path) -> None:
    """With fsync on, pages are flushed in the background every few MB while the write runs;
    the blob is complete, and a write that fails midway leaves nothing behind."""
    import hashlib

    import pytest

    from prefect_artifacts.core.storage import SYNC_AHEAD, Storage

    storage = Storage.from_url(str(tmp_path / "store"), fsync=True)
    payload = np.random.default_rng(0).bytes(3 * SYNC_AHEAD + 123)

    def chunks(sink) -> None:
        for start in range(0, len(payload), 1 << 20):
            sink.write(payload[start : start + (1 << 20)])

    blob = storage.write_blob(chunks)
    assert blob.hash == hashlib.sha256(payload).hexdigest()
    with open(storage.blob_path(blob.hash), "rb") as fh:
        assert fh.read() == payload

    def failing(sink) -> None:
        sink.write(payload[: 2 * SYNC_AHEAD])
        raise RuntimeError("serializer failed")

    with pytest.raises(RuntimeError, match="serializer failed"):
        storage.write_blob(failing)
    assert list((tmp_path / "store" / "tmp").glob("*")) == []
