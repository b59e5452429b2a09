import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from prefect_artifacts import (
    ArtifactContext,
    Materializer,
    UnsupportedTypeError,
    register_materializer,
)
from prefect_artifacts.core.materializers import registry
from prefect_artifacts.core.materializers.dataset import DatasetMaterializer
from prefect_artifacts.core.materializers.generic import (
    BytesMaterializer,
    FileMaterializer,
    JsonMaterializer,
    TextMaterializer,
)
from prefect_artifacts.core.materializers.model import ModelPickleMaterializer
from prefect_artifacts.core.materializers.plot import MatplotlibMaterializer, PlotlyMaterializer


@pytest.mark.parametrize(
    ("obj", "kind", "expected"),
    [
        (pd.DataFrame({"a": [1]}), None, DatasetMaterializer),
        (pa.table({"a": [1]}), None, DatasetMaterializer),
        (pl.DataFrame({"a": [1]}), None, DatasetMaterializer),
        (b"raw", None, BytesMaterializer),
        ("text", None, TextMaterializer),
        ({"a": 1}, None, JsonMaterializer),
        ([1, 2], None, JsonMaterializer),
        (Path("x.csv"), None, FileMaterializer),
    ],
)
def test_registry_dispatch(obj, kind, expected):
    assert isinstance(registry.resolve(obj, kind=kind), expected)


def test_models_are_inferred_from_ml_types_only():
    from sklearn.linear_model import LinearRegression

    assert isinstance(registry.resolve(LinearRegression()), ModelPickleMaterializer)
    assert isinstance(registry.resolve(object(), kind="model"), ModelPickleMaterializer)
    with pytest.raises(UnsupportedTypeError):
        registry.resolve(object())


def test_unsupported_type_is_a_type_error_saying_how_to_register():
    class Thing:
        pass

    with pytest.raises(TypeError) as err:
        registry.resolve(Thing(), kind="artifact")
    assert "register_materializer" in str(err.value) and "Thing" in str(err.value)
    with pytest.raises(TypeError):
        registry.resolve(Thing(), kind="dataset")


class Point:
    def __init__(self, x: float, y: float) -> None:
        self.x, self.y = x, y


class PointMaterializer(Materializer):
    kind = "artifact"
    types = (Point,)
    formats = ("point",)

    def save(self, prepared, sink, fmt):
        sink.write(f"{prepared.x},{prepared.y}".encode())

    def metadata(self, prepared, fmt, options):
        return {"norm": (prepared.x**2 + prepared.y**2) ** 0.5}

    def load(self, data, version):
        return Point(*map(float, data.decode().split(",")))


def test_custom_materializer_round_trip(repo):
    register_materializer(PointMaterializer)
    try:
        version = ArtifactContext(repo).log_artifact("point", Point(3, 4))
        assert version.format == "point" and version.meta == {"norm": 5.0}
        loaded = repo.get("point").load()
        assert (loaded.x, loaded.y) == (3.0, 4.0)
    finally:
        registry.unregister(PointMaterializer)
    with pytest.raises(UnsupportedTypeError) as err:
        repo.get("point").load()
    assert "not registered" in str(err.value)


def test_register_rejects_non_materializers():
    with pytest.raises(TypeError):
        register_materializer(object)


def test_matplotlib_png_and_svg(repo):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.hist(np.random.default_rng(0).normal(size=500), bins=20)
    ctx = ArtifactContext(repo)
    png = ctx.log_plot("hist", fig)
    assert png.kind == "plot" and png.format == "png" and png.content_type == "image/png"
    assert (png.width, png.height) == (400, 300)
    assert png.load().startswith(b"\x89PNG")
    svg = ctx.log_plot("hist-svg", fig, format="svg")
    assert b"<svg" in svg.load()[:500]
    plt.close(fig)
    assert isinstance(registry.resolve(fig), MatplotlibMaterializer)


def test_plotly_html_renders_offline_and_json(repo):
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 3]), layout={"width": 500, "height": 300})
    ctx = ArtifactContext(repo)
    html = ctx.log_plot("bars", fig)
    body = html.load()
    assert html.format == "html" and b"<html" in body and b"plotly" in body
    # plotly.js comes from the version's own extra data (stored once for all plots): the UI
    # renders it offline; only a copy opened away from the repository falls back to the CDN
    assert body.index(b'<script src="extra/plotly.min.js">') < body.index(b"cdn.plot.ly")
    assert html.extra_data["plotly.min.js"].read().startswith(b"/**")
    assert (html.width, html.height) == (500, 300)
    spec = ctx.log_plot("bars-json", fig, format="json")
    assert json.loads(spec.load())["data"][0]["type"] == "bar"
    assert isinstance(registry.resolve(fig), PlotlyMaterializer)


def test_image_bytes_are_sniffed(repo):
    png = (
        b"\x89PNG\r\n\x1a\n"
        + b"\x00\x00\x00\rIHDR"
        + (7).to_bytes(4, "big")
        + (5).to_bytes(4, "big")
    )
    version = ArtifactContext(repo).log_plot("img", png + b"\x00" * 20)
    assert version.format == "png" and (version.width, version.height) == (7, 5)
    svg = ArtifactContext(repo).log_plot("vec", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>")
    assert svg.format == "svg" and svg.content_type == "image/svg+xml"


def test_sklearn_model_records_framework_and_params(repo):
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(max_depth=3).fit([[0], [1], [2], [3]], [0, 0, 1, 1])
    version = ArtifactContext(repo).log_model(
        "tree", model=model, metrics={"accuracy": 1.0}, parameters={"note": "x"}
    )
    assert version.framework == "sklearn" and version.algorithm == "DecisionTreeClassifier"
    assert version.parameters["max_depth"] == 3 and version.parameters["note"] == "x"
    assert version.load().predict([[2.5]]).tolist() == [1]


def test_generic_values(repo, tmp_path):
    ctx = ArtifactContext(repo)
    assert ctx.log_artifact("b", b"\x00\x01").load() == b"\x00\x01"
    assert ctx.log_artifact("t", "héllo").load() == "héllo"
    assert ctx.log_artifact("j", {"a": [1, 2.5, None]}).load() == {"a": [1, 2.5, None]}
    notes = tmp_path / "notes.md"
    notes.write_text("# hi")
    version = ctx.log_artifact("f", local_path=notes)
    assert version.format == "md" and version.filename == "notes.md" and version.load() == "# hi"
    data = tmp_path / "blob.bin"
    data.write_bytes(b"\xff" * 10)
    assert ctx.log_artifact("g", local_path=str(data)).load() == b"\xff" * 10
    pickled = ctx.log_artifact("p", {1, 2, 3}, format="pkl")
    assert pickled.format == "pkl" and pickled.load() == {1, 2, 3}


def test_generic_bad_values(repo, tmp_path):
    ctx = ArtifactContext(repo)
    with pytest.raises(UnsupportedTypeError, match="JSON"):
        ctx.log_artifact("j", {"a": float("nan")})
    with pytest.raises(UnsupportedTypeError, match="format='pkl'"):
        ctx.log_artifact("s", {1, 2})
    with pytest.raises(FileNotFoundError, match="not a file"):
        ctx.log_artifact("f", local_path=tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="exactly one"):
        ctx.log_artifact("x")


@pytest.mark.parametrize("fmt", ["parquet", "csv", "arrow"])
def test_dataset_formats_round_trip(repo, fmt):
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    version = ArtifactContext(repo).log_dataset("d", df, format=fmt)
    assert version.format == fmt
    pd.testing.assert_frame_equal(version.load().reset_index(drop=True), df, check_dtype=False)


def test_dataset_keeps_its_python_type(repo):
    ctx = ArtifactContext(repo)
    arrow = ctx.log_dataset("arrow", pa.table({"a": [1, 2]}))
    assert isinstance(arrow.load(), pa.Table) and isinstance(arrow.as_df(), pd.DataFrame)
    polars = ctx.log_dataset("polars", pl.DataFrame({"a": [1, 2]}))
    assert isinstance(polars.load(), pl.DataFrame) and polars.load()["a"].to_list() == [1, 2]
    batch = ctx.log_dataset("batch", pa.record_batch({"a": [1]}))
    assert batch.load().num_rows == 1


def test_dataset_rejects_unconvertible_frames(repo):
    df = pd.DataFrame({"mixed": [1, "a", 2.5]})
    with pytest.raises(TypeError, match="one type"):
        ArtifactContext(repo).log_dataset("bad", df)
    with pytest.raises(ValueError, match="format"):
        ArtifactContext(repo).log_dataset("bad", pd.DataFrame({"a": [1]}), format="xlsx")


def test_pickle_bytes_model_loads_to_object(repo):
    version = ArtifactContext(repo).log_model("m", body=pickle.dumps({"w": 1}), model_file="m.pkl")
    assert version.format == "pkl" and version.load() == {"w": 1}
    raw = ArtifactContext(repo).log_model("onnx", body=b"ONNX", model_file="m.onnx")
    assert raw.format == "onnx" and raw.load() == b"ONNX" and raw.filename == "m.onnx"
