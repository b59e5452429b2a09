"""Property tests (hypothesis): what is logged loads back equal, in Arrow, pandas and polars,
and equal fingerprints mean equal content — over generated columns of nested, sliced,
dictionary, temporal and nullable types, many of them slices of one shared buffer."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefect_artifacts import ArtifactContext
from prefect_artifacts.core.materializers.dataset import DatasetMaterializer, PreparedTable
from tests.conftest import examples

ints = st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))
TYPES = {
    "int64": (pa.int64(), ints),
    "int8": (pa.int8(), st.one_of(st.none(), st.integers(-128, 127))),
    "float64": (pa.float64(), st.one_of(st.none(), st.floats(allow_nan=False, width=64))),
    "float32": (pa.float32(), st.one_of(st.none(), st.floats(allow_nan=False, width=32))),
    "bool": (pa.bool_(), st.one_of(st.none(), st.booleans())),
    "string": (pa.string(), st.one_of(st.none(), st.text(max_size=8))),
    "large_string": (pa.large_string(), st.one_of(st.none(), st.text(max_size=8))),
    "binary": (pa.binary(), st.one_of(st.none(), st.binary(max_size=8))),
    "date32": (pa.date32(), st.one_of(st.none(), st.dates(dt.date(1970, 1, 1)))),
    "date64": (pa.date64(), st.one_of(st.none(), st.dates(dt.date(1970, 1, 1)))),
    "timestamp_s": (
        pa.timestamp("s"),
        st.one_of(st.none(), st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2200, 1, 1))),
    ),
    "timestamp_us_utc": (
        pa.timestamp("us", tz="UTC"),
        st.one_of(
            st.none(),
            st.datetimes(
                dt.datetime(1970, 1, 1), dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
            ),
        ),
    ),
    "time32_s": (
        pa.time32("s"),
        st.one_of(st.none(), st.times().map(lambda t: t.replace(microsecond=0))),
    ),
    "duration": (
        pa.duration("ms"),
        st.one_of(
            st.none(), st.integers(-(10**9), 10**9).map(lambda n: dt.timedelta(milliseconds=n))
        ),
    ),
    "decimal": (
        pa.decimal128(10, 2),
        st.one_of(
            st.none(), st.decimals(-(10**7), 10**7, places=2, allow_nan=False, allow_infinity=False)
        ),
    ),
    "list": (pa.list_(pa.int64()), st.one_of(st.none(), st.lists(ints, max_size=3))),
    "struct": (
        pa.struct([("a", pa.int64()), ("b", pa.string())]),
        st.one_of(
            st.none(),
            st.fixed_dictionaries({"a": ints, "b": st.one_of(st.none(), st.text(max_size=4))}),
        ),
    ),
    "dictionary": (
        pa.dictionary(pa.int32(), pa.string()),
        st.one_of(st.none(), st.sampled_from(["x", "y", "z"])),
    ),
}
NO_PARQUET_ROUND_TRIP = set()  # every type above must come back as it went in
NO_CSV = {"list", "struct", "binary"}


@st.composite
def sliced_columns(draw, kinds=tuple(TYPES)):
    """A column made as a slice of a longer array (so its buffers are shared with others)."""
    name = draw(st.sampled_from(kinds))
    kind, values = TYPES[name]
    base = draw(st.lists(values, min_size=1, max_size=12))
    if name == "decimal":
        base = [v if v is None else decimal.Decimal(v) for v in base]
    array = pa.array(base, type=kind)
    start = draw(st.integers(0, len(base) - 1))
    length = draw(st.integers(0, len(base) - start))
    return name, array, array.slice(start, length)


@st.composite
def tables(draw, kinds=tuple(TYPES)):
    columns = draw(st.lists(sliced_columns(kinds), min_size=1, max_size=4))
    rows = min(len(sliced) for _, _, sliced in columns)
    arrays = [sliced.slice(0, rows) for _, _, sliced in columns]
    return pa.table(arrays, names=[f"{name}_{i}" for i, (name, _, _) in enumerate(columns)])


def fingerprint(table: pa.Table) -> str:
    return DatasetMaterializer().fingerprint(PreparedTable(table, "arrow"), "parquet")


@settings(max_examples=examples(600), deadline=None)
@given(st.data())
def test_equal_fingerprints_mean_equal_content(data):
    name = data.draw(st.sampled_from(tuple(TYPES)))
    _, base, first = data.draw(sliced_columns((name,)))
    start = data.draw(st.integers(0, len(base)))
    second = base.slice(start, data.draw(st.integers(0, len(base) - start)))
    if data.draw(st.booleans()) and name == "struct":  # children sliced apart from the parent
        children = [base.field(i).slice(start) for i in range(base.type.num_fields)]
        second = pa.StructArray.from_arrays(children, fields=list(base.type))
    a, b = pa.table({"c": first}), pa.table({"c": second})
    if fingerprint(a) == fingerprint(b):
        assert a.equals(b), (first.to_pylist(), second.to_pylist())
    if a.equals(b) and first.offset == second.offset and same_buffers(first, second):
        assert fingerprint(a) == fingerprint(b)


def same_buffers(x: pa.Array, y: pa.Array) -> bool:
    """Buffer by buffer equal (a missing validity buffer only equals a missing one)."""
    left, right = x.buffers(), y.buffers()
    return len(left) == len(right) and all(
        (p is None and q is None) or (p is not None and q is not None and p.equals(q))
        for p, q in zip(left, right, strict=True)
    )


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(table=tables())
def test_arrow_tables_load_back_equal(repo, table):
    version = ArtifactContext(repo).log_dataset("arrow-prop", table)
    loaded = version.load()
    assert loaded.schema == table.schema
    assert loaded.equals(table.combine_chunks())


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(table=tables(tuple(k for k in TYPES if k not in NO_CSV)))
def test_csv_loads_back_equal(repo, table):
    version = ArtifactContext(repo).log_dataset("csv-prop", table, format="csv")
    loaded = version.load()
    assert loaded.schema == table.schema
    # the same values (a dictionary's unused entries are not values: CSV cannot keep them)
    assert loaded.to_pylist() == table.to_pylist()


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    table=tables(
        (
            "int64",
            "float64",
            "bool",
            "string",
            "date32",
            "timestamp_us_utc",
            "duration",
            "dictionary",
        )
    )
)
def test_pandas_and_polars_frames_load_back_equal(repo, table):
    import pandas as pd
    import polars as pl

    ctx = ArtifactContext(repo)
    frame = table.to_pandas()
    loaded = ctx.log_dataset("pandas-prop", frame).load()
    # an empty categorical keeps its type; its unused categories need rows to be stored in
    pd.testing.assert_frame_equal(loaded, frame, check_categorical=len(frame) > 0)
    polars_frame = pl.from_arrow(table)
    assert ctx.log_dataset("polars-prop", polars_frame).load().equals(polars_frame)


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_a_zero_row_slice_and_an_empty_table_are_kept(repo, fmt):
    table = pa.table({"x": pa.array([1, 2, 3]).slice(3, 0)})
    assert ArtifactContext(repo).log_dataset(f"empty-{fmt}", table, format=fmt).load().equals(table)


def test_dictionaries_are_part_of_the_fingerprint(repo):
    """Same indices over different dictionaries are different data (found by the property test)."""
    ctx = ArtifactContext(repo)
    first = pa.table({"d": pa.DictionaryArray.from_arrays(pa.array([0], pa.int32()), ["y", "z"])})
    second = pa.table({"d": pa.DictionaryArray.from_arrays(pa.array([0], pa.int32()), ["z", "y"])})
    assert ctx.log_dataset("dict-fp", first).version == 1
    assert ctx.log_dataset("dict-fp", second).version == 2
    assert repo.get("dict-fp").load().column("d").to_pylist() == ["z"]


def test_an_all_null_categorical_stays_categorical(repo):
    """Found by the property test: Parquet forgets a dictionary column whose dictionary is empty."""
    import pandas as pd

    table = pa.table(
        {
            "d": pa.DictionaryArray.from_arrays(
                pa.array([None], pa.int32()), pa.array([], pa.string())
            )
        }
    )
    frame = table.to_pandas()
    loaded = ArtifactContext(repo).log_dataset("null-cat", frame).load()
    pd.testing.assert_frame_equal(loaded, frame)
