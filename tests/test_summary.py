import datetime as dt
import decimal
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from prefect_artifacts.core.materializers import summary


def table(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df)


def test_preview_default_rows_and_json_safety():
    df = pd.DataFrame(
        {
            "f": [1.5, np.nan, np.inf, -np.inf] + [0.0] * 26,
            "t": pd.date_range("2024-01-01", periods=30, freq="h", tz="UTC"),
            "s": ["x" * 500] + ["y"] * 29,
            "b": [b"\x00\x01"] * 30,
            "d": [decimal.Decimal("1.10")] * 30,
        }
    )
    rows = summary.preview_of(table(df))
    assert len(rows) == 20
    first = rows[0]
    assert first["f"] == 1.5
    assert rows[1]["f"] is None and rows[2]["f"] == "inf" and rows[3]["f"] == "-inf"
    assert first["t"].startswith("2024-01-01T00:00:00")
    assert len(first["s"]) == summary.MAX_CELL and first["s"].endswith("…")
    assert first["b"].startswith("base64:")
    assert first["d"] == "1.10"
    json.dumps(rows, allow_nan=False)  # strictly valid JSON


def test_preview_rows_and_column_cap():
    df = pd.DataFrame({f"c{i}": range(50) for i in range(150)})
    rows = summary.preview_of(table(df), 5)
    assert len(rows) == 5
    assert list(rows[0]) == [f"c{i}" for i in range(summary.MAX_COLUMNS)]


def test_numeric_stats_match_pandas():
    rng = np.random.default_rng(1)
    values = rng.normal(10, 3, 5000)
    values[::50] = np.nan
    df = pd.DataFrame({"x": values, "i": rng.integers(0, 100, 5000)})
    stats = summary.stats_of(table(df))
    described = df["x"].describe()
    x = stats["x"]
    assert x["count"] == int(described["count"]) and x["nulls"] == 100
    for ours, theirs in (
        ("mean", "mean"),
        ("std", "std"),
        ("min", "min"),
        ("max", "max"),
        ("25%", "25%"),
        ("50%", "50%"),
        ("75%", "75%"),
    ):
        assert x[ours] == pytest.approx(described[theirs], rel=1e-9), ours
    assert "approx" not in x
    assert len(x["hist"]["counts"]) == summary.HIST_BINS
    assert len(x["hist"]["edges"]) == summary.HIST_BINS + 1
    assert sum(x["hist"]["counts"]) == x["count"]
    assert stats["i"]["type"] == "int64"
    assert stats["i"]["mean"] == pytest.approx(df["i"].mean())


def test_nan_and_inf_do_not_poison_stats():
    df = pd.DataFrame({"x": [1.0, 2.0, np.inf, 3.0]})
    x = summary.stats_of(table(df))["x"]
    assert x["mean"] == pytest.approx(2.0) and x["max"] == 3.0


def test_large_columns_get_approximate_quartiles_close_to_exact():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"x": rng.normal(size=400_000)})
    x = summary.stats_of(table(df))["x"]
    assert x["approx"] is True
    exact = np.quantile(df["x"], [0.25, 0.5, 0.75])
    assert x["25%"] == pytest.approx(exact[0], abs=0.02)
    assert x["50%"] == pytest.approx(exact[1], abs=0.02)
    assert x["75%"] == pytest.approx(exact[2], abs=0.02)
    assert sum(x["hist"]["counts"]) == 400_000


def test_string_categorical_bool_and_datetime_stats():
    df = pd.DataFrame(
        {
            "s": ["a", "b", "a", None, "c", "a"],
            "cat": pd.Categorical(["u", "v", "u", "u", "v", "w"]),
            "flag": [True, False, True, True, None, True],
            "when": pd.to_datetime(
                ["2024-01-02", "2024-01-01", None, "2024-03-01", "2024-01-05", "2024-02-01"]
            ),
        }
    )
    stats = summary.stats_of(table(df))
    assert stats["s"]["unique"] == 3 and stats["s"]["nulls"] == 1
    assert stats["s"]["top"][0] == {"value": "a", "count": 3}
    assert stats["cat"]["unique"] == 3 and stats["cat"]["top"][0] == {"value": "u", "count": 3}
    assert stats["flag"]["top"][0] == {"value": True, "count": 4}
    assert stats["when"]["min"].startswith("2024-01-01") and stats["when"]["max"].startswith(
        "2024-03-01"
    )
    assert stats["when"]["nulls"] == 1
    json.dumps(stats, allow_nan=False)


def test_all_null_and_empty_columns():
    df = pd.DataFrame({"x": pd.Series([None, None], dtype="float64"), "y": ["a", "b"]})
    assert summary.stats_of(table(df))["x"] == {"type": "double", "count": 0, "nulls": 2}
    assert summary.stats_of(table(df.iloc[:0]))["y"]["count"] == 0


def test_schema_skips_unnamed_index_but_keeps_named_index():
    df = pd.DataFrame({"v": [1, 2]}, index=pd.Index([10, 20], name="id"))
    names = [c["name"] for c in summary.schema_of(table(df))]
    assert names == ["v", "id"]
    df2 = pd.DataFrame({"v": [1, 2]}, index=[5, 7])
    assert [c["name"] for c in summary.schema_of(table(df2))] == ["v"]


def test_json_safe_nested_and_odd_values():
    value = {"a": [np.float64("nan"), np.int64(3)], "b": dt.timedelta(seconds=5), "c": object()}
    out = summary.json_safe(value)
    assert out["a"] == [None, 3] and out["b"] == "0:00:05" and out["c"].startswith("<object")


def test_large_string_columns_count_a_sample_and_say_so():
    rng = np.random.default_rng(3)
    rows = 600_000
    colours = rng.choice(["red", "green", "blue"], rows, p=[0.5, 0.3, 0.2])
    ids = np.char.add("id-", np.arange(rows).astype(str))
    stats = summary.stats_of(table(pd.DataFrame({"colour": colours, "id": ids})))
    colour = stats["colour"]
    assert colour["approx"] is True and colour["count"] == rows
    assert colour["unique"] == 3  # every value seen many times in the sample: the set is known
    exact = pd.Series(colours).value_counts()
    assert [t["value"] for t in colour["top"]] == list(exact.index)
    for t in colour["top"]:
        assert t["count"] == pytest.approx(exact[t["value"]], rel=0.02)
    assert stats["id"]["approx"] is True
    assert stats["id"]["unique"] is None  # all distinct in the sample: the total is unknown
    small = summary.stats_of(table(pd.DataFrame({"colour": colours[:1000]})))["colour"]
    assert "approx" not in small and small["unique"] == 3
    assert sum(t["count"] for t in small["top"]) == 1000


def test_large_numeric_histogram_comes_from_the_sample_scaled_to_the_rows():
    rng = np.random.default_rng(4)
    x = rng.exponential(size=500_001)
    hist = summary.stats_of(table(pd.DataFrame({"x": x})))["x"]["hist"]
    assert sum(hist["counts"]) == len(x)
    exact, _ = np.histogram(x, bins=len(hist["counts"]), range=(x.min(), x.max()))
    assert np.allclose(hist["counts"], exact, atol=0.01 * len(x))
