"""The fidelity contract (docs/explanation/fidelity.md) as property tests: Hypothesis generates
pandas frames across dtypes, categoricals (category types, order, unused categories), column
labels, indexes, time zones, NaN vs null and ``attrs``, logs each in every dataset format and
as a pickle, and checks that it loads back exactly — or that the log was refused with
``LossyFormatError`` for one of the documented reasons. JSON values and safetensors weights
likewise."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefect_artifacts import ArtifactContext, LossyFormatError
from tests.conftest import examples

EXAMPLES = examples(150)
ROWS = st.integers(0, 6)
# What a refusal may name (the "refused" column of the table in the docs).
DOCUMENTED = ("are booleans", "time zones", "too many categories", "is a tuple", "the key")

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _floats(n):
    return st.lists(
        st.one_of(st.floats(allow_infinity=True, allow_nan=False, width=64), st.just(math.nan)),
        min_size=n,
        max_size=n,
    ).map(lambda v: pd.Series(v, dtype="float64"))


def _column(draw, n):
    kind = draw(
        st.sampled_from(
            [
                "int",
                "float",
                "bool",
                "str",
                "Int64",
                "cat-str",
                "cat-int",
                "cat-float",
                "cat-bool",
                "cat-date",
                "naive",
                "utc",
                "zoned",
                "mixed-zones",
            ]
        )
    )
    if kind == "int":
        return pd.Series(draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n)))
    if kind == "float":
        return draw(_floats(n))
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind == "str":
        text = st.one_of(st.none(), st.text(max_size=5))
        return pd.Series(draw(st.lists(text, min_size=n, max_size=n)), dtype=object)
    if kind == "Int64":
        values = st.one_of(st.none(), st.integers(-1000, 1000))
        return pd.Series(draw(st.lists(values, min_size=n, max_size=n)), dtype="Int64")
    if kind.startswith("cat-"):
        pool = {
            "cat-str": st.text(min_size=1, max_size=3),
            "cat-int": st.integers(-50, 50),
            "cat-float": st.floats(-10, 10, allow_nan=False).map(lambda x: round(x, 2)),
            "cat-bool": st.booleans(),
            "cat-date": st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 1, 1)).map(
                lambda d: pd.Timestamp(d.replace(microsecond=0))
            ),
        }[kind]
        categories = draw(st.lists(pool, min_size=1, max_size=4, unique=True))
        values = draw(
            st.lists(st.one_of(st.none(), st.sampled_from(categories)), min_size=n, max_size=n)
        )
        return pd.Series(pd.Categorical(values, categories=categories, ordered=draw(st.booleans())))
    stamps = st.datetimes(dt.datetime(1980, 1, 1), dt.datetime(2100, 1, 1))
    if kind == "naive":
        return pd.Series(pd.to_datetime(draw(st.lists(stamps, min_size=n, max_size=n))))
    if kind in ("utc", "zoned"):
        zone = "UTC" if kind == "utc" else "Europe/Paris"
        naive = pd.to_datetime(draw(st.lists(stamps, min_size=n, max_size=n)))
        return pd.Series(pd.DatetimeIndex(naive).tz_localize("UTC").tz_convert(zone))
    zones = st.sampled_from(["UTC", "Asia/Tokyo", "America/New_York"])
    values = [pd.Timestamp(draw(stamps), tz="UTC").tz_convert(draw(zones)) for _ in range(n)]
    return pd.Series(values, dtype=object)


@st.composite
def frames(draw):
    n = draw(ROWS)
    count = draw(st.integers(1, 4))
    columns = {i: _column(draw, n) for i in range(count)}
    labels = draw(st.sampled_from(["str", "int", "bool"]))
    if labels == "bool" and count > 2:
        labels = "str"
    names = {
        "str": [f"c{i}" for i in range(count)],
        "int": list(range(10, 10 + count)),
        "bool": [False, True][:count],
    }[labels]
    frame = pd.DataFrame(
        {name: col.values for name, col in zip(names, columns.values(), strict=True)}
    )
    if labels == "bool":
        frame.columns = pd.Index(names, dtype=bool)
    index = draw(st.sampled_from(["range", "offset", "named", "ints", "dates"]))
    if index == "offset":
        frame.index = pd.RangeIndex(5, 5 + 2 * n, 2)
    elif index == "named":
        frame.index = pd.Index([f"r{i}" for i in range(n)], name="row", dtype=object)
    elif index == "ints":
        frame.index = pd.Index(
            draw(st.lists(st.integers(-100, 100), min_size=n, max_size=n)), dtype="int64"
        )
    elif index == "dates":
        frame.index = pd.DatetimeIndex(pd.date_range("2024-01-01", periods=n), name="day")
    if draw(st.booleans()):
        frame.attrs = {"source": draw(st.text(max_size=5)), "n": n}
    return frame


def _refused_for_a_documented_reason(error: LossyFormatError) -> None:
    assert error.losses
    for loss in error.losses:
        assert any(reason in loss for reason in DOCUMENTED), loss


@SETTINGS
@given(frame=frames(), fmt=st.sampled_from(["parquet", "csv", "arrow", "pkl"]))
def test_frames_round_trip_exactly_or_are_refused(repo, frame, fmt):
    ctx = ArtifactContext(repo)
    try:
        if fmt == "pkl":
            version = ctx.log_artifact("frame", frame, format="pkl")
        else:
            version = ctx.log_dataset("frame", frame, format=fmt)
    except LossyFormatError as error:
        assert fmt != "pkl"
        _refused_for_a_documented_reason(error)
        return
    loaded = version.load(trusted=True)
    expected = frame if fmt == "pkl" else as_strings(frame)
    pd.testing.assert_frame_equal(loaded, expected, check_exact=True, check_index_type=True)
    pd.testing.assert_index_equal(loaded.index, expected.index, exact=True, check_exact=True)
    assert loaded.attrs == frame.attrs
    assert version.lossy is None


def as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """The one documented normalisation: an object column (or index) of strings loads with
    pandas' string dtype, as ``pd.read_parquet`` gives it."""

    def texts(values) -> bool:
        return (
            values.dtype == object
            and any(isinstance(x, str) for x in values)
            and all(isinstance(x, str) or x is None for x in values)
        )

    out = frame.copy()
    for position, name in enumerate(frame.columns):
        if texts(frame.iloc[:, position]):
            out[name] = frame.iloc[:, position].astype("str")
    if texts(frame.index):
        out.index = frame.index.astype("str")
    out.attrs = frame.attrs
    return out


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
)
json_keys = st.one_of(st.text(max_size=3), st.integers(-3, 3), st.booleans(), st.none())
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(json_keys, inner, max_size=3),
    ),
    max_leaves=10,
)


@SETTINGS
@given(value=st.one_of(st.dictionaries(json_keys, json_values, max_size=4), st.lists(json_values)))
def test_json_values_round_trip_exactly_or_are_refused(repo, value):
    ctx = ArtifactContext(repo)
    try:
        version = ctx.log_artifact("value", value)
    except LossyFormatError as error:
        _refused_for_a_documented_reason(error)
        return
    loaded = version.load()
    assert loaded == value and _same_types(loaded, value)


def _same_types(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    return True


@st.composite
def weights(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64, np.int8, np.uint16, bool]))
    shape = draw(st.lists(st.integers(1, 4), min_size=0, max_size=3))
    array = np.arange(int(np.prod(shape)) if shape else 1).reshape(shape).astype(dtype)
    view = draw(st.sampled_from(["plain", "T", "fortran", "step", "reverse"]))
    if view == "T":
        array = array.T
    elif view == "fortran":
        array = np.asfortranarray(array)
    elif view == "step" and array.ndim:
        array = array[::2]
    elif view == "reverse" and array.ndim:
        array = array[::-1]
    return array


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(arrays=st.dictionaries(st.text("abc", min_size=1, max_size=3), weights(), min_size=1))
def test_safetensors_weights_round_trip_exactly(repo, arrays):
    loaded = ArtifactContext(repo).log_model("w", model=arrays, format="safetensors").load()
    assert set(loaded) == set(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        np.testing.assert_array_equal(loaded[name], array)


@pytest.mark.parametrize("fmt", ["skops", "pkl"])
def test_models_round_trip_in_skops_and_pickle(repo, fmt):
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    model = LogisticRegression().fit(X, [0, 1, 1, 0])
    loaded = ArtifactContext(repo).log_model("m", model=model, format=fmt).load(trusted=True)
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
