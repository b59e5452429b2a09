"""MLRun code runs with changed imports: each MLRun keyword accepted with its meaning or refused
with the alternative, store URIs wherever a ref is taken, DataItem-style access, plots."""

import pickle

import pandas as pd
import pytest

import prefect_artifacts as pa


@pytest.fixture
def ctx(env_repo):
    return pa.get_context()


def test_the_documented_mlrun_calls_work_as_written(ctx):
    df = pd.DataFrame({"x": range(30), "y": [i % 2 for i in range(30)]})
    data = ctx.log_dataset(key="my_data", df=df)
    assert data.rows == 30 and len(data.preview) == 20 and "x" in data.stats
    model = ctx.log_model(key="my_model", body=pickle.dumps({"w": 1}), model_file="my_model.pkl",
                          metrics={"accuracy": 0.9}, extra_data={"confusion": data.target_path})  # fmt: skip
    assert model.metrics == {"accuracy": 0.9} and model.extra_data["confusion"].artifact


def test_db_key_formats_local_paths_and_label_column(ctx, tmp_path):
    df = pd.DataFrame({"f": [1.0, 2.0, 3.0], "label": [0, 1, 0]})
    v = ctx.log_dataset("run-name", df, db_key="train-set", format="pq", label_column="label")
    assert (v.key, v.format, v.label_column) == ("train-set", "parquet", "label")
    df.to_parquet(tmp_path / "t.parquet")
    df.to_csv(tmp_path / "t.csv", index=False)
    from_file = ctx.log_dataset("from-file", local_path=tmp_path / "t.parquet")
    assert from_file.rows == 3 and from_file.as_df()["f"].tolist() == [1.0, 2.0, 3.0]
    assert ctx.log_dataset("from-csv", local_path=str(tmp_path / "t.csv")).format == "csv"
    assert ctx.log_dataset("as-csv", df, local_path="out.csv").format == "csv"
    art = ctx.log_artifact(item="raw", body=b"bytes", db_key="raw-bytes")
    assert art.key == "raw-bytes"
    (tmp_path / "notes.txt").write_text("hello")
    assert ctx.log_artifact("notes", local_path=tmp_path / "notes.txt").get() == b"hello"


def test_model_file_model_dir_schema_and_training_set(ctx, tmp_path):
    (tmp_path / "m.pkl").write_bytes(pickle.dumps([1, 2]))
    from_file = ctx.log_model("from-file", model_file=str(tmp_path / "m.pkl"))
    assert from_file.model_file == "m.pkl" and from_file.load(trusted=True) == [1, 2]
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01")
    (folder / "sub" / "config.json").write_text('{"a": 1}')
    first = ctx.log_model("dir-model", model_dir=folder, model_file="weights.bin")
    (folder / "weights.bin").touch()  # a newer mtime: the same bytes
    again = ctx.log_model("dir-model", model_dir=str(folder), model_file="weights.bin")
    assert again.version == first.version == 1 and again.hash == first.hash
    assert first.format == "tar" and first.model_file == "weights.bin"
    out = first.extract(tmp_path / "out")
    assert (out / "sub" / "config.json").read_text() == '{"a": 1}'
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(pa.InvalidArgumentError, match="holds no files"):
        ctx.log_model("empty-dir", model_dir=tmp_path / "empty")
    train = pd.DataFrame({"age": [20, 30, 40], "income": [1.0, 2.0, 3.0], "churn": [0, 1, 0]})
    m = ctx.log_model("clf", body=b"w", training_set=train, label_column="churn",
                      outputs=[{"name": "churn", "value_type": "int"}])  # fmt: skip
    assert [f["name"] for f in m.inputs] == ["age", "income"]
    assert m.outputs == [{"name": "churn", "value_type": "int"}]
    assert set(pa.get_artifact("clf").feature_stats) == {"age", "income", "churn"}
    assert m.label_column == "churn"

    class Feature:  # MLRun's Feature objects: anything with name and value_type
        def __init__(self, name, value_type):
            self.name, self.value_type = name, value_type

    m2 = ctx.log_model("clf2", body=b"w", inputs=[Feature("age", "int"), "income"])
    assert m2.inputs == [{"name": "age", "value_type": "int"}, {"name": "income"}]
    with pytest.raises(pa.InvalidArgumentError, match="label_column 'target' is not a column"):
        ctx.log_model("clf3", body=b"w", training_set=train, label_column="target")
    with pytest.raises(pa.InvalidArgumentError, match="not a local file"):
        ctx.log_model("clf3", model_file=str(tmp_path / "missing.pkl"))
    assert pa.list_artifacts(key="clf3") == []


@pytest.mark.parametrize(
    ("call", "kwargs", "alternative"),
    [
        ("log_model", {"artifact_path": "s3://b/p"}, "PREFECT_ARTIFACTS_STORAGE_URL"),
        ("log_model", {"feature_vector": "store://fv"}, "labels="),
        ("log_model", {"feature_weights": [0.1]}, "parameters="),
        ("log_dataset", {"artifact_path": "/tmp"}, "storage"),
        ("log_artifact", {"viewer": "web-app"}, "log_plot"),
        ("log_artifact", {"src_path": "/tmp/x"}, "local_path="),
        ("log_dataset", {"target_path": "s3://b/k.pq"}, "pass upload=False to register"),
        ("log_model", {"upload": False}, "name them with target_path="),
        ("log_artifact", {"no_such_option": 1}, "unexpected keyword argument 'no_such_option'"),
    ],
)
def test_keywords_without_an_equivalent_name_the_alternative(ctx, call, kwargs, alternative):
    args = {
        "log_model": ("m", b"w"),
        "log_dataset": ("d", pd.DataFrame({"a": [1]})),
        "log_artifact": ("a", b"x"),
    }[call]
    with pytest.raises(TypeError, match=alternative):
        getattr(ctx, call)(*args, **kwargs)
    assert pa.list_artifacts() == []


def test_plots_through_log_artifact(ctx):
    html = ctx.log_artifact("report", body="<html><body>hi</body></html>", format="html")
    assert isinstance(html, pa.PlotVersion) and html.format == "html"
    import matplotlib.pyplot as plt  # here, not at collection: every test worker collects this

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    plot = ctx.log_artifact(pa.PlotArtifact("curve", body=fig, title="a curve"))
    assert plot.kind == "plot" and plot.format == "png" and plot.description == "a curve"
    with pytest.raises(pa.InvalidArgumentError, match=r"log_plot\('curve2', fig\)"):
        ctx.log_artifact("curve2", fig)
    plt.close(fig)


def test_store_uris_wherever_a_ref_is_taken(ctx):
    for i in range(3):
        ctx.log_model("clf", body=f"m{i}".encode(), metrics={"auc": 0.5 + i / 10}, iteration=i)
    pa.tag_artifact(
        "store://artifacts/default/clf:2", "prod"
    )  # ':2' a version (no tag is a number)
    assert pa.get_artifact("store://models/default/clf:prod").version == 2
    assert pa.get_artifact("store://artifacts/default/clf").version == 3
    assert pa.get_artifact("store://artifacts/default/clf:latest").version == 3
    assert pa.get_artifact("store://artifacts/default/clf#0").version == 1
    assert pa.get_artifact("store://artifacts/default/clf#1:prod").iteration == 1
    assert pa.get_artifact("clf#2").version == 3
    with pytest.raises(pa.ArtifactNotFoundError, match="iteration 1, not 0"):
        pa.get_artifact("store://artifacts/default/clf#0:prod")
    with pytest.raises(pa.ArtifactNotFoundError, match="produced by run abc123"):
        pa.get_artifact("store://artifacts/default/clf:prod@abc123")  # a tree is a run id now
    with pytest.raises(pa.InvalidKeyError, match="invalid store URI"):
        pa.get_artifact("store://artifacts/clf")
    updated = pa.update_model("store://models/default/clf:prod", metrics={"f1": 0.4})
    assert updated.version == 2 and updated.metrics["f1"] == 0.4
    assert pa.compare("store://artifacts/default/clf#0")["version"].tolist() == [1]
    assert pa.ArtifactRef("store://artifacts/default/clf:prod").get().version == 2
    assert pa.delete_artifact("store://artifacts/default/clf#0") == [1]
    assert sorted(v.version for v in pa.list_artifacts(key="clf", all_versions=True)) == [2, 3]


def test_dataitem_access(ctx):
    v = ctx.log_artifact("blob", b"0123456789")
    assert v.get() == b"0123456789" and v.get(size=3, offset=2) == b"234"
    assert v.get(encoding="utf-8") == "0123456789"
    assert v.url == v.target_path and v.to_dataitem() is v
    path = v.local()
    with open(path, "rb") as handle:
        assert handle.read() == b"0123456789"
    assert v.local() == path
    df = ctx.log_dataset("frame", pd.DataFrame({"a": [1, 2]}))
    assert df.to_dataitem().as_df()["a"].tolist() == [1, 2]


def test_context_store_resource_and_dataitem_names(ctx):
    ctx.log_dataset("frame", pd.DataFrame({"a": [1, 2]}), tag="prod")
    assert ctx.get_store_resource("store://datasets/default/frame:prod").version == 1
    item = ctx.get_dataitem("store://artifacts/default/frame")
    assert item.as_df()["a"].tolist() == [1, 2]
    with pytest.raises(pa.ArtifactNotFoundError, match="'nothing'"):
        ctx.get_dataitem("store://artifacts/default/nothing")


def test_mlrun_key_colon_tag_names_the_at_form(ctx):
    ctx.log_artifact("blob", b"x", tag="prod")
    with pytest.raises(pa.InvalidKeyError, match="write 'blob@prod'"):
        pa.get_artifact("blob:prod")
    with pytest.raises(pa.InvalidKeyError, match="write 'team/blob@prod'"):
        pa.get_artifact("team/blob:prod")
    assert pa.get_artifact("blob@prod").version == 1
