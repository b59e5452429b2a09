"""Issue 24, round 3: what is logged loads back exactly, or the log is refused naming what
would be lost (``lossy="allow"`` stores it marked lossy); local copies are verified; symlinked
model folders; non-ASCII metric sorting. One test (or more) per reproduced defect."""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from prefect_artifacts import (
    ArtifactContext,
    IntegrityError,
    InvalidArgumentError,
    LossyFormatError,
    Repository,
    UnsupportedTypeError,
)
from prefect_artifacts.core.materializers import registry


@pytest.fixture
def ctx(repo: Repository) -> ArtifactContext:
    return ArtifactContext(repo)


# -- 1. safetensors and non-contiguous arrays -------------------------------------------------
def test_safetensors_keeps_transposed_strided_fortran_and_0d_arrays(ctx):
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    weights = {
        "transposed": w.T,
        "strided": w[:, ::2],
        "fortran": np.asfortranarray(w),
        "reversed": w[::-1],
        "scalar": np.array(3.5),
        "plain": w,
    }
    loaded = ctx.log_model("weights", model=weights, format="safetensors").load()
    assert set(loaded) == set(weights)
    for name, array in weights.items():
        assert loaded[name].shape == array.shape, name
        assert loaded[name].dtype == array.dtype, name
        np.testing.assert_array_equal(loaded[name], array, err_msg=name)


# -- 4, 5, 7. categoricals ----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet", "arrow"])
def test_ordered_categorical_keeps_category_order(ctx, fmt):
    df = pd.DataFrame(
        {"c": pd.Categorical(["b", "a", None, "b"], categories=["z", "c", "b", "a"], ordered=True)}
    )
    loaded = ctx.log_dataset(f"ordered-{fmt}", df, format=fmt).load()
    pd.testing.assert_frame_equal(loaded, df, check_exact=True)
    assert loaded["c"].max() == df["c"].max() == "a"


@pytest.mark.parametrize("fmt", ["csv", "parquet", "arrow"])
@pytest.mark.parametrize(
    "categories",
    [
        [3, 1, 2],
        [2.5, 0.5],
        [True, False],
        [pd.Timestamp("2024-01-02"), pd.Timestamp("2020-05-01")],
    ],
    ids=["int", "float", "bool", "datetime"],
)
def test_categoricals_of_any_category_type_load_as_categoricals(ctx, fmt, categories):
    df = pd.DataFrame({"c": pd.Categorical([categories[1], categories[0]], categories=categories)})
    loaded = ctx.log_dataset(f"cat-{fmt}", df, format=fmt).load()
    assert isinstance(loaded["c"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(loaded, df, check_exact=True)


def test_arrow_dictionary_of_ints_round_trips_in_csv(ctx):
    table = pa.table(
        {"d": pa.DictionaryArray.from_arrays(pa.array([1, 0, None, 1], pa.int8()), [7, 9])}
    )
    loaded = ctx.log_dataset("dict-int", table, format="csv").load()
    assert loaded.equals(table)


# -- 6. boolean column labels ---------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_boolean_column_labels_are_refused_naming_the_fix(ctx, fmt):
    pivot = pd.DataFrame([[1, 2]], columns=pd.Index([False, True]))
    with pytest.raises(LossyFormatError, match=r"column labels \[False, True\] are booleans"):
        ctx.log_dataset(f"pivot-{fmt}", pivot, format=fmt)
    assert ctx.repository.count() == 0


def test_lossy_allow_stores_with_a_marker_and_a_warning(ctx, caplog):
    pivot = pd.DataFrame([[1, 2]], columns=pd.Index([False, True]))
    with caplog.at_level(logging.WARNING, logger="prefect_artifacts"):
        version = ctx.log_dataset("pivot", pivot, lossy="allow")
    assert version.lossy and "booleans" in version.lossy[0]
    assert "stored lossy" in caplog.text
    again = ctx.repository.get("pivot")
    assert again.lossy == version.lossy
    exact = ctx.log_dataset("exact", pd.DataFrame({"a": [1]}))
    assert exact.lossy is None
    with pytest.raises(InvalidArgumentError, match="lossy='allow'"):
        ctx.log_dataset("pivot", pivot, lossy="yes")


# -- 8. JSON keys ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, phrase",
    [
        ({1: "int", "1": "str"}, "the same in JSON"),
        ({1: "a"}, "loads back as the string '1'"),
        ({"a": [1, (2, 3)]}, "is a tuple"),
        ((1, 2), "is a tuple"),
        ({True: 1}, "as the string 'true'"),
    ],
)
def test_json_refuses_what_it_cannot_give_back(ctx, value, phrase):
    with pytest.raises(LossyFormatError, match=phrase):
        ctx.log_artifact("j", value)
    assert ctx.repository.count() == 0


def test_json_exact_values_still_log(ctx):
    value = {"a": [1, 2.5, None, {"b": "c"}], "é": True}
    assert ctx.log_artifact("j", value).load() == value
    lossy = ctx.log_artifact("k", {1: "a"}, lossy="allow")
    assert lossy.load() == {"1": "a"} and lossy.lossy


# -- 9. CSV NaN ------------------------------------------------------------------------------------
def test_csv_keeps_nan_apart_from_null(ctx):
    table = pa.table(
        {
            "x": pa.array([1.0, float("nan"), None, float("inf"), -0.0]),
            "s": pa.array(["nan", "NaN", "", None, "NA"]),
        }
    )
    loaded = ctx.log_dataset("nan", table, format="csv").load()
    x = loaded.column("x").to_pylist()
    assert x[0] == 1.0 and np.isnan(x[1]) and x[2] is None and x[3] == float("inf")
    assert loaded.column("s").to_pylist() == ["nan", "NaN", "", None, "NA"]
    frame = pl.DataFrame({"x": [1.0, float("nan"), None]})
    back = ctx.log_dataset("nan-polars", frame, format="csv").load()
    assert back["x"].is_nan().to_list() == [False, True, None]


# -- 10. mixed time zones --------------------------------------------------------------------------
def test_object_column_of_mixed_time_zones_is_refused(ctx):
    mixed = pd.Series(
        [pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-01", tz="Europe/Paris")],
        dtype=object,
    )
    with pytest.raises(LossyFormatError, match="2 time zones"):
        ctx.log_dataset("tz", pd.DataFrame({"t": mixed}))
    one = pd.DataFrame({"t": pd.Series([dt.datetime(2024, 1, 1, tzinfo=dt.UTC)] * 2)})
    pd.testing.assert_frame_equal(ctx.log_dataset("tz1", one).load(), one)


# -- 11. a column selection keeps the named index ----------------------------------------------------
def test_load_columns_keeps_a_named_index(ctx):
    df = pd.DataFrame({"a": [1, 2], "b": [3, 4]}, index=pd.Index(["x", "y"], name="idx"))
    version = ctx.log_dataset("indexed", df)
    loaded = version.load(columns=["a"])
    pd.testing.assert_frame_equal(loaded, df[["a"]])
    filtered = version.load(columns=["b"], filters=[("a", ">", 1)])
    pd.testing.assert_frame_equal(filtered, df.loc[["y"], ["b"]])


# -- 13. a stream's later batch of another type --------------------------------------------------------
def test_stream_batch_that_would_cast_lossy_is_refused(ctx):
    def batches():
        yield pa.table({"x": pa.array([1], pa.int64())})
        yield pa.table({"x": pa.array(["01234"])})

    with pytest.raises(InvalidArgumentError, match=r"x \(string → int64\)"):
        ctx.log_dataset("stream", batches())
    assert ctx.repository.count() == 0


def test_stream_batch_widening_or_all_null_still_logs(ctx):
    def batches():
        yield pa.table({"x": pa.array([1], pa.int64()), "y": pa.array(["a"])})
        yield pa.table({"x": pa.array([2], pa.int32()), "y": pa.nulls(1)})

    loaded = ctx.log_dataset("widen", batches()).load()
    assert loaded.column("x").to_pylist() == [1, 2]
    assert loaded.column("y").to_pylist() == ["a", None]


# -- 14. returns_equal decides per frame ----------------------------------------------------------------
def test_returns_equal_is_decided_per_frame(ctx):
    dataset = registry.by_name("dataset")
    exact = pd.DataFrame({"a": [1, 2]})
    assert dataset.returns_equal(exact, ctx.log_dataset("exact", exact))
    pivot = pd.DataFrame([[1, 2]], columns=pd.Index([False, True]))
    lossy = ctx.log_dataset("pivot", pivot, lossy="allow")
    assert not dataset.returns_equal(pivot, lossy)
    batch = pa.record_batch({"a": [1]})
    assert not dataset.returns_equal(batch, ctx.log_dataset("batch", batch))  # loads a Table
    table = pa.table({"a": [1]})
    assert dataset.returns_equal(table, ctx.log_dataset("table", table))
    assert not dataset.returns_equal(exact, ctx.log_dataset("as-arrow", table))


# -- Also: unsupported Arrow types ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "column, what",
    [
        (pa.array([pa.MonthDayNano([1, 2, 3])], pa.month_day_nano_interval()), "interval"),
        (
            pa.UnionArray.from_sparse(
                pa.array([0, 1], pa.int8()), [pa.array([1, 2]), pa.array(["a", "b"])]
            ),
            "union",
        ),
        (pa.RunEndEncodedArray.from_arrays([2], [1]), "run-end encoded"),
    ],
    ids=["month_day_nano", "union", "ree"],
)
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_unsupported_arrow_types_get_a_clear_error(ctx, column, what, fmt):
    with pytest.raises(UnsupportedTypeError, match=f"column 'x' is .*{what}.*format='arrow'"):
        ctx.log_dataset("odd", pa.table({"x": column}), format=fmt)


def test_unsupported_arrow_types_in_a_stream_get_a_clear_error(ctx):
    reader = pa.RecordBatchReader.from_batches(
        pa.schema([("x", pa.month_day_nano_interval())]),
        [pa.record_batch([pa.array([pa.MonthDayNano([1, 2, 3])])], names=["x"])],
    )
    with pytest.raises(UnsupportedTypeError, match="column 'x' is a month_day_nano interval"):
        ctx.log_dataset("odd-stream", reader)


def test_polars_int128_gets_a_clear_error(ctx):
    frame = pl.DataFrame({"x": pl.Series([1], dtype=pl.Int128)})
    with pytest.raises(UnsupportedTypeError, match=r"\['x'\] are polars 128-bit integers"):
        ctx.log_dataset("wide", frame)
    with pytest.raises(UnsupportedTypeError, match="128-bit"):
        ctx.log_dataset("wide-stream", iter([frame]))


# -- 3. local copies: verified, in a private folder --------------------------------------------------
@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_local_never_hands_out_a_planted_file_of_the_right_size(ctx, private_tmp):
    version = ctx.log_model("model", body=b"genuine model bytes", model_file="model.pkl")
    first = version.local()
    assert Path(first).read_bytes() == b"genuine model bytes"
    # an attacker (or a bug) replaces the cached copy with other bytes of the same size
    planted = b"X" * len(b"genuine model bytes")
    os.unlink(first)
    with open(first, "wb") as handle:
        handle.write(planted)
    again = version.local()
    assert Path(again).read_bytes() == b"genuine model bytes"
    # a copy planted before the first use is not handed out either
    other = ctx.log_model("other", body=b"second model", model_file="other.pkl")
    root = private_tmp / f"prefect-artifacts-{os.getuid()}"
    target = root / other.hash[:2] / other.hash / "other.pkl"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"Z" * len(b"second model"))
    assert Path(other.local()).read_bytes() == b"second model"


def test_local_cache_folder_is_private_and_checked_once(ctx, private_tmp):
    version = ctx.log_model("model", body=b"bytes", model_file="m.bin")
    path = version.local()
    root = private_tmp / f"prefect-artifacts-{os.getuid()}"
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert os.stat(root).st_uid == os.getuid()
    hashes = ctx.repository.storage.verified.hashes
    assert version.local() == path
    assert ctx.repository.storage.verified.hashes == hashes  # recorded: not hashed again
    os.chmod(root, 0o777)
    version.local()
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700


def test_local_cache_owned_by_someone_else_or_a_link_is_refused(ctx, private_tmp, tmp_path):
    from prefect_artifacts import StorageError

    version = ctx.log_model("model", body=b"bytes", model_file="m.bin")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, private_tmp / f"prefect-artifacts-{os.getuid()}")
    with pytest.raises(StorageError, match="symbolic link"):
        version.local()
    os.unlink(private_tmp / f"prefect-artifacts-{os.getuid()}")
    # a folder of another user: stat reports another owner
    from prefect_artifacts.core.storage import localcache

    real_lstat = os.lstat

    class Foreign:
        def __init__(self, st):
            self._st = st

        def __getattr__(self, name):
            return 4242 if name == "st_uid" else getattr(self._st, name)

    def lstat(path, *args, **kwargs):
        st = real_lstat(path, *args, **kwargs)
        return Foreign(st) if str(path).endswith(f"prefect-artifacts-{os.getuid()}") else st

    localcache.os.lstat = lstat
    try:
        with pytest.raises(StorageError, match="belongs to another user"):
            version.local()
    finally:
        localcache.os.lstat = real_lstat


def test_extract_goes_to_the_private_cache(ctx, private_tmp, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"w")
    version = ctx.log_model("folder", model_dir=folder)
    out = version.extract()
    assert out.is_relative_to(private_tmp / f"prefect-artifacts-{os.getuid()}")
    assert (out / "weights.bin").read_bytes() == b"w"


# -- 16. non-ASCII metric names sort on SQLite and PostgreSQL ------------------------------------------
def test_sort_by_a_non_ascii_metric(store):
    ctx = ArtifactContext(store)
    for i, value in enumerate([0.5, 0.9, 0.1, None, 0.7]):
        metrics = {"précision": value, "ß": -i} if value is not None else {"other": 1.0}
        ctx.log_model(f"m{i}", body=b"x%d" % i, metrics=metrics)
    down = [v.key for v in store.list(sort="-metric:précision")]
    assert down == ["m1", "m4", "m0", "m2", "m3"]
    up = [v.key for v in store.list(sort="metric:précision")]
    assert up == ["m2", "m0", "m4", "m1", "m3"]
    assert [v.key for v in store.list(sort="metric:ß")][:4] == ["m4", "m2", "m1", "m0"]


# -- 17. model folders with symbolic links -----------------------------------------------------------------
def test_model_dir_follows_links_inside_and_says_what_it_stored(ctx, tmp_path):
    snapshot = tmp_path / "snapshot"
    (snapshot / "blobs").mkdir(parents=True)
    (snapshot / "blobs" / "abc").write_bytes(b"weights")
    (snapshot / "config.json").write_text("{}")
    os.symlink("blobs/abc", snapshot / "model.safetensors")  # like a Hugging Face snapshot
    os.symlink("blobs", snapshot / "linked")
    version = ctx.log_model("hf", model_dir=snapshot)
    assert version.meta["files"] == [
        "blobs/abc",
        "config.json",
        "linked/abc",
        "model.safetensors",
    ]
    out = version.extract(tmp_path / "out")
    assert (out / "model.safetensors").read_bytes() == b"weights"
    assert not (out / "model.safetensors").is_symlink()
    assert (out / "linked" / "abc").read_bytes() == b"weights"
    with tarfile.open(fileobj=version.open(), mode="r|") as tar:
        assert all(member.isfile() or member.isdir() for member in tar)


@pytest.mark.parametrize("link", ["outside", "broken", "loop"])
def test_model_dir_refuses_links_that_leave_it(ctx, tmp_path, link):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"a")
    secret = tmp_path / "secret.txt"
    secret.write_text("not part of the model")
    target = {"outside": secret, "broken": tmp_path / "gone", "loop": folder}[link]
    os.symlink(target, folder / "link")
    phrase = {"outside": "points outside it", "broken": "is broken", "loop": "a loop"}[link]
    with pytest.raises(InvalidArgumentError, match=phrase):
        ctx.log_model("model", model_dir=folder)
    assert ctx.repository.count() == 0


# -- 15. push-down trusts no footer statistics it has not verified ----------------------------------------
def _forge_footer_max(path: str, real: int, forged: int) -> None:
    """Rewrite the footer's statistics of an int64 column: its max ``real`` becomes ``forged``
    (the page checksums do not cover the footer)."""
    data = bytearray(Path(path).read_bytes())
    footer_len = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - footer_len
    footer = bytes(data[start:-8])
    assert real.to_bytes(8, "little") in footer
    data[start:-8] = footer.replace(real.to_bytes(8, "little"), forged.to_bytes(8, "little"))
    Path(path).write_bytes(bytes(data))


@pytest.mark.parametrize("parts", [True, False], ids=["multi-part", "single-file"])
def test_push_down_refuses_a_forged_footer(ctx, parts):
    table = pa.table({"x": pa.array(range(1000), pa.int64())})
    version = ctx.log_dataset("forged", iter([table]) if parts else table)
    digest = version.parts[0].hash if parts else version.hash
    assert version.load(filters=[("x", ">", 500)]).num_rows == 499
    _forge_footer_max(ctx.repository.storage.blob_path(digest), 999, 100)
    with pytest.raises(IntegrityError, match="sha256"):
        version.load(filters=[("x", ">", 500)])
    with pytest.raises(IntegrityError):
        version.to_arrow_dataset()


def test_push_down_hashes_a_part_once_per_verify_mode(ctx, monkeypatch):
    table = pa.table({"x": pa.array(range(1000), pa.int64())})
    version = ctx.log_dataset("once", iter([table]))
    state = ctx.repository.storage.verified
    before = state.hashes
    version.load(filters=[("x", ">", 500)])
    assert state.hashes == before  # written by us: recorded as verified
    monkeypatch.setattr(ctx.repository.settings, "verify", "always")
    version.load(filters=[("x", ">", 500)])
    assert state.hashes == before + 1


# -- 12. a filtered Dask frame keeps its row labels ---------------------------------------------------
@pytest.mark.parametrize(
    "keep",
    [lambda x: x >= 15, lambda x: x % 2 == 0, lambda x: (x < 3) | (x > 16), lambda x: x >= 0],
    ids=["tail", "even", "ends", "all"],
)
def test_filtered_dask_frame_keeps_its_index(ctx, keep):
    import dask
    import dask.dataframe as dd

    frame = pd.DataFrame({"x": range(20), "y": [f"r{i}" for i in range(20)]})
    ddf = dd.from_pandas(frame, npartitions=4)
    filtered = ddf[keep(ddf.x)]
    with dask.config.set(scheduler="synchronous"):
        expected = filtered.compute()
        loaded = ctx.log_dataset("filtered", filtered).load()
    pd.testing.assert_frame_equal(loaded, expected, check_exact=True)


# -- the lossy marker in the UI and the JSON API --------------------------------------------------------
def test_the_ui_and_api_show_the_lossy_marker(ctx):
    from fastapi.testclient import TestClient

    from prefect_artifacts.web import create_app

    pivot = pd.DataFrame([[1, 2]], columns=pd.Index([False, True]))
    ctx.log_dataset("pivot", pivot, lossy="allow")
    ctx.log_dataset("exact", pd.DataFrame({"a": [1]}))
    client = TestClient(create_app(ctx.repository))
    page = client.get("/projects/default/artifacts/pivot").text
    assert 'class="kind lossy"' in page and 'id="lossy"' in page
    assert "are booleans, which load back as text" in page
    assert 'id="lossy"' not in client.get("/projects/default/artifacts/exact").text
    api = client.get("/api/projects/default/artifacts/pivot/versions/1").json()
    assert api["lossy"] and "booleans" in api["lossy"][0]


def test_same_bytes_with_other_categories_or_types_is_a_new_version(ctx):
    """What load() restores from the version's metadata (categories, a CSV's column types,
    an index frequency) is part of its identity: identical bytes do not make it a re-log."""
    first = pd.DataFrame({"c": pd.Categorical([], categories=[40, -9])})
    second = pd.DataFrame({"c": pd.Categorical([], categories=[-8, -9])})
    a, b = ctx.log_dataset("cats", first), ctx.log_dataset("cats", second)
    assert a.hash == b.hash and (a.version, b.version) == (1, 2)
    assert list(b.load()["c"].cat.categories) == [-8, -9]
    small = pa.table({"x": pa.array([1], pa.int8())})
    wide = pa.table({"x": pa.array([1], pa.int64())})
    c, d = (
        ctx.log_dataset("typed", small, format="csv"),
        ctx.log_dataset("typed", wide, format="csv"),
    )
    assert c.hash == d.hash and d.version == 2 and d.load().schema == wide.schema
    days = pd.DataFrame({"x": [1, 2]}, index=pd.date_range("2024-01-01", periods=2))
    plain = days.copy()
    plain.index = pd.DatetimeIndex(list(days.index))
    assert ctx.log_dataset("freq", plain).load().index.freq is None
    assert ctx.log_dataset("freq", days).load().index.freq == "D"
