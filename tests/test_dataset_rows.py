"""Rows on demand: a window of a stored Parquet dataset, read row group by row group."""

import pandas as pd
import pyarrow as pa
import pytest

from prefect_artifacts.core.errors import InvalidArgumentError, UnsupportedTypeError


def test_rows_window_across_parts(repo):
    batches = (
        pa.RecordBatch.from_pandas(
            pd.DataFrame({"i": range(k * 10_000, (k + 1) * 10_000), "s": ["x" * 20] * 10_000}),
            preserve_index=False,
        )
        for k in range(5)
    )
    v = repo.log("d", batches, options={"part_size": 65536})
    assert v.part_count > 5  # the window crosses parts
    for offset in (0, 7, 9_990, 10_000, 23_457, 49_960, 49_999, 50_000):
        got = [r["i"] for r in repo.dataset_rows(v, offset=offset, limit=50)]
        assert got == list(range(offset, min(offset + 50, 50_000)))
    assert list(repo.dataset_rows(v, offset=3, limit=1, columns=["s"])[0]) == ["s"]
    with pytest.raises(InvalidArgumentError, match="limit <= 500"):
        repo.dataset_rows(v, offset=0, limit=501)


def test_rows_of_a_single_file_dataset_and_not_a_dataset(repo):
    v = repo.log("one", pd.DataFrame({"i": range(100)}))
    assert [r["i"] for r in repo.dataset_rows(v, offset=95, limit=50)] == [95, 96, 97, 98, 99]
    other = repo.log("blob", b"bytes")
    with pytest.raises(UnsupportedTypeError, match="Parquet dataset"):
        repo.dataset_rows(other, offset=0)
