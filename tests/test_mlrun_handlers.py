"""MLRun tutorial handlers run as written — only the context changes: ``pa.get_context()`` in a
Prefect flow instead of MLRun's ``MLClientCtx`` (and the imports from ``prefect_artifacts``)."""

import json
import pickle
from pathlib import Path

import pandas as pd
import pytest
from prefect import flow

import prefect_artifacts as pa
from prefect_artifacts import DataItem, get_model, update_model

# -- MLRun's tutorial handlers, as written -----------------------------------------------------


def prep_data(context, source_url: DataItem, label_column="label"):
    df = source_url.as_df()
    df = df.dropna()
    context.logger.info(f"prep: {df.shape[0]} rows")
    context.log_dataset("cleaned_data", df=df, index=False, format="csv")
    context.log_result("num_rows", df.shape[0])


def train(context, dataset: DataItem, label_column: str = "label"):
    from sklearn.linear_model import LogisticRegression  # here: a test worker that never
    from sklearn.model_selection import train_test_split  # trains skips the 2 s import

    df = dataset.as_df()
    X = df.drop(label_column, axis=1)
    y = df[label_column]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    clf = LogisticRegression(C=context.get_param("C", 1.0))
    clf.fit(X_train, y_train)
    acc = clf.score(X_test, y_test)
    context.log_dataset("test_set", df=pd.concat([X_test, y_test], axis=1), index=False)
    context.log_model(
        "model",
        body=pickle.dumps(clf),
        artifact_path=context.artifact_subpath("models"),
        model_file="model.pkl",
        metrics={"accuracy": acc},
        training_set=df,
        label_column=label_column,
    )


def evaluate(context, models_path: DataItem, test_set: DataItem, label_column="label"):
    xtest = test_set.as_df()
    ytest = xtest.pop(label_column)
    model_file, model_obj, _ = get_model(models_path, suffix=".pkl")
    with open(model_file, "rb") as handle:
        model = pickle.load(handle)
    acc = model.score(xtest, ytest)
    update_model(model_artifact=model_obj, metrics={"test_accuracy": acc})
    context.log_result("test_accuracy", acc)


# -- the runs -------------------------------------------------------------------------------------


def _source(n=120):
    return pd.DataFrame(
        {"x1": [i % 7 for i in range(n)], "x2": [(i * 3) % 11 for i in range(n)],
         "label": [int(i % 7 > 3) for i in range(n)]}
    )  # fmt: skip


def test_train_and_test_with_get_model_and_update_model(env_repo, prefect_server):
    source = pa.log_dataset("iris", _source())

    @flow(name="mlrun-pipeline")
    def pipeline(source_url: str, C: float = 0.5):
        context = pa.get_context()
        prep_data(context, context.get_input("source_url"))
        train(context, context.get_input("cleaned_data"))
        model = pa.get_artifact("model")
        evaluate(
            context, context.get_input("models", model.store_uri), context.get_input("test_set")
        )
        return context.run_id, context.results

    run_id, results = pipeline(source.store_uri)
    model = pa.get_artifact("model")
    assert model.parameters == {} and model.model_file == "model.pkl"
    assert set(model.metrics) == {"accuracy", "test_accuracy"}
    assert results == {"num_rows": 120, "test_accuracy": model.metrics["test_accuracy"]}
    assert model.revisions()[0].updater.kind == "prefect"
    assert pa.run_results(run_id) == results
    assert [c.flow_run_id for c in source.consumers()] == [run_id]
    assert pa.get_artifact("cleaned_data").format == "csv"
    pa.flush_registrations()


def test_get_param_reads_flow_then_task_parameters(env_repo, prefect_server):
    from prefect import task

    @task
    def inner(lr: float):
        return pa.get_context().get_param("lr"), pa.get_context().get_param("epochs", 3)

    @flow
    def outer(lr: float = 0.1, epochs: int = 7):
        ctx = pa.get_context()
        return ctx.get_param("lr"), ctx.get_param("missing", "d"), inner(0.01)

    assert outer() == (0.1, "d", (0.01, 7))
    assert pa.get_context().get_param("lr", 5) == 5  # outside a run: the default


def test_logger_is_the_run_logger_inside_a_flow(env_repo, prefect_server, caplog):
    import logging

    @flow
    def logs():
        pa.get_context().logger.info("hello from the handler")
        return type(pa.get_context().logger).__name__

    assert logs() == "PrefectLogAdapter"  # the run logger: its lines show on the run page
    assert isinstance(pa.get_context().logger, logging.Logger)


def test_get_input_takes_store_uris_refs_and_parameters(env_repo):
    ctx = pa.get_context()
    df = pd.DataFrame({"a": [1, 2]}, index=[10, 11])
    v = ctx.log_dataset("frame", df)
    for item in (ctx.get_input("x", v.store_uri), ctx.get_input("frame"),
                 ctx.get_input("x", "frame:1"), ctx.get_input("x", pa.ArtifactRef("frame"))):  # fmt: skip
        assert item.as_df()["a"].tolist() == [1, 2]
        assert item.meta.ref == v.ref and item.url == v.target_path
        assert item.get() == v.get() and Path(item.local()).read_bytes() == v.get()
    with pytest.raises(pa.ArtifactNotFoundError, match="no parameter 'nope'"):
        ctx.get_input("nope")
    art = ctx.log_artifact("blob", body=b"\x00\x01")
    with pytest.raises(pa.InvalidArgumentError, match="not a table"):
        ctx.get_input("blob").as_df()
    assert ctx.get_input("blob").get() == b"\x00\x01" and art.store_uri.startswith("store://")


def test_log_dataset_index_and_writer_keywords(env_repo):
    ctx = pa.get_context()
    df = pd.DataFrame({"a": [1, 2]}, index=pd.Index([10, 11], name="id"))
    assert ctx.log_dataset("kept", df).as_df().index.tolist() == [10, 11]
    dropped = ctx.log_dataset("dropped", df, index=False).as_df()
    assert dropped.index.tolist() == [0, 1] and "id" not in dropped.columns
    with pytest.raises(TypeError, match="does not pass compression= to a writer"):
        ctx.log_dataset("bad", df, compression="gzip")
    assert pa.list_artifacts(key="bad") == []


def test_store_uri_forms_with_iteration_and_tree(env_repo):
    ctx = pa.get_context()
    v1 = ctx.log_model("m", body=b"one")
    v2 = ctx.log_model("m", body=b"two")
    assert v2.store_uri == f"store://models/default/m#0:2@{v2.uid}"
    assert pa.get_artifact(v2.store_uri).version == 2
    assert pa.get_artifact(f"store://models/default/m#0@{v1.uid}").version == 1
    assert pa.get_artifact("store://models/default/m#0").version == 2
    assert pa.get_artifact("store://models/default/m#0:1").version == 1
    with pytest.raises(pa.ArtifactNotFoundError, match="produced by run nope"):
        pa.get_artifact("store://models/default/m#0@nope")
    with pytest.raises(pa.InvalidKeyError, match="tree"):
        pa.get_artifact("store://models/default/m#0@a.b")


def test_get_model_reads_folders_suffixes_and_extra_data(env_repo, tmp_path):
    ctx = pa.get_context()
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"w")
    (folder / "config.json").write_text("{}")
    v = ctx.log_model("dir-model", model_dir=folder, model_file="weights.bin",
                      extra_data={"notes": b"hello"})  # fmt: skip
    path, art, extra = get_model(v.store_uri)
    assert Path(path).read_bytes() == b"w" and art.ref == v.ref
    assert (
        extra["notes"].get() == b"hello" and Path(extra["notes"].local()).read_bytes() == b"hello"
    )
    assert get_model("dir-model", suffix=".json")[0].endswith("config.json")
    assert get_model(str(folder), suffix=".bin") == (str(folder / "weights.bin"), None, {})
    with pytest.raises(pa.ArtifactNotFoundError, match=r"ending with '\.onnx'"):
        get_model("dir-model", suffix=".onnx")
    ctx.log_dataset("table", pd.DataFrame({"a": [1]}))
    with pytest.raises(pa.InvalidArgumentError, match="not a model"):
        get_model("table")


def test_update_model_takes_model_artifact_once(env_repo):
    v = pa.log_model("m", body=b"x")
    assert update_model(model_artifact=v, metrics={"auc": 0.5}).metrics == {"auc": 0.5}
    assert update_model(model_artifact="m", metrics={"f1": 0.2}).metrics == {"auc": 0.5, "f1": 0.2}
    with pytest.raises(TypeError, match="takes the model once"):
        update_model("m", model_artifact="m")
    with pytest.raises(TypeError, match="takes the model once"):
        update_model()


def test_results_and_subpaths_outside_prefect(env_repo):
    ctx = pa.get_context()
    assert ctx.run_id.startswith("local-") and ctx.run_id == pa.get_context().run_id
    ctx.log_result("score", 0.5)
    ctx.log_results({"score": 0.7, "name": "best"})
    assert ctx.results == {"name": "best", "score": 0.7}
    path = ctx.artifact_subpath("models", "v1")
    assert path.endswith("models/v1") and ctx.run_id in path
    with pytest.raises(pa.InvalidArgumentError, match="relative names"):
        ctx.artifact_subpath("../x")
    with pytest.raises(TypeError, match="artifact_path"):
        ctx.log_model("m", body=b"x", artifact_path="/somewhere/else")


@pytest.fixture(autouse=True)
def _registered():
    yield
    pa.flush_registrations()  # Prefect's UI updates finish while its test server runs


def test_relogging_identical_data_with_other_preview_or_stats_is_a_revision(env_repo, tmp_path):
    df = pd.DataFrame({"a": range(50)})
    first = pa.log_dataset("data", df)
    assert len(first.preview) == 20 and first.stats is not None
    again = pa.log_dataset("data", df, preview=5, stats=False)
    assert (again.version, again.hash) == (first.version, first.hash)  # content unchanged
    assert len(again.preview) == 5 and again.stats is None
    [revision] = again.revisions()
    assert revision.changes["details"]["old"] == {"preview": "20 rows", "stats": "1 columns"}
    assert pa.log_dataset("data", df, preview=5).revisions() == again.revisions()  # same: none
    assert len(pa.log_dataset("data", df).preview) == 5  # nothing asked: nothing recomputed
    from prefect_artifacts.core.catalog import Catalog

    fresh = pa.Repository(env_repo.storage, Catalog(f"sqlite:///{tmp_path / 'b.db'}"))
    pa.reindex(repository=fresh)
    restored = fresh.get("data")
    assert len(restored.preview) == 5 and restored.stats is None


def test_a_task_parameter_typed_dataitem_receives_the_item(env_repo, prefect_server):
    source = pa.log_dataset("source", pd.DataFrame({"x": [1, 2, 3]}))

    @pa.artifact_task(key="doubled")
    def double(dataset: DataItem, other=None) -> pd.DataFrame:
        assert isinstance(dataset, DataItem) and isinstance(other, DataItem)
        return dataset.as_df() * 2

    @flow
    def pipeline():
        return double(source.store_uri, other=pa.ArtifactRef("source", as_item=True))

    pipeline()
    doubled = pa.get_artifact("doubled")
    assert doubled.as_df()["x"].tolist() == [2, 4, 6]
    [consumer] = source.consumers()  # recorded once for the run
    assert consumer.task_run_id == doubled.producer.task_run_id


def test_mlrun_stats_shape(env_repo):
    from fastapi.testclient import TestClient

    from prefect_artifacts.web import create_app

    v = pa.log_dataset("d", pd.DataFrame({"a": range(10), "s": ["x", "y"] * 5}), preview=3)
    shaped = pa.mlrun_stats("d")
    assert shaped["header"] == ["a", "s"] and shaped["preview"] == [[0, "x"], [1, "y"], [2, "x"]]
    assert set(shaped["stats"]["a"]) == {
        "count",
        "mean",
        "std",
        "min",
        "25%",
        "50%",
        "75%",
        "max",
        "hist",
    }
    counts, edges = shaped["stats"]["a"]["hist"]
    assert sum(counts) == 10 and len(edges) == len(counts) + 1
    assert shaped["stats"]["s"] == {"count": 10, "unique": 2, "top": "x", "freq": 5}
    assert shaped["schema"]["fields"] == [
        {"name": "a", "type": "integer"},
        {"name": "s", "type": "string"},
    ]
    api = TestClient(create_app(env_repo)).get(f"/api/projects/default/artifacts/d/versions/{v.version}/stats",
                                               params={"stats_format": "mlrun"})  # fmt: skip
    assert api.json() == json.loads(json.dumps(shaped))
    with pytest.raises(pa.InvalidArgumentError, match="reads datasets"):
        pa.mlrun_stats(pa.log_artifact("b", body=b"x"))
