"""@artifact_task on a real Prefect server: capture, templates, submit/map, retries, async."""

import asyncio

import numpy as np
import pandas as pd
import pytest
from prefect import flow, task

import prefect_artifacts as pa

pytestmark = pytest.mark.usefixtures("prefect_server")


def frame(n: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "s": rng.choice(["a", "b"], n)})


def test_return_value_is_logged_and_returned_unchanged(env_repo):
    @pa.artifact_task(key="clean-events", labels={"team": "ml"}, tag="candidate")
    def clean(n: int) -> pd.DataFrame:
        return frame(n)

    @task
    def consume(df: pd.DataFrame) -> str:
        return type(df).__name__

    @flow
    def pipeline():
        df = clean(20)
        return df, consume(df)

    df, name = pipeline()
    assert isinstance(df, pd.DataFrame) and name == "DataFrame"
    v = pa.get_artifact("clean-events@candidate")
    assert v.kind == "dataset" and v.rows == 20 and v.labels == {"team": "ml"}
    pd.testing.assert_frame_equal(v.load(), df)
    assert v.producer.task_run_name.startswith("clean")


def test_kind_is_inferred_and_default_key_is_the_task_name(env_repo):
    from sklearn.linear_model import LinearRegression

    @pa.artifact_task
    def fit_model():
        return LinearRegression().fit([[0], [1]], [0, 1])

    @pa.artifact_task(name="make report")
    def report():
        return {"rows": 3}

    @pa.artifact_task(key="raw-bytes")
    def blob():
        return b"\x00\x01"

    @flow
    def pipeline():
        fit_model()
        report()
        blob()

    pipeline()
    assert pa.get_artifact("fit_model").kind == "model"
    assert pa.get_artifact("make-report").load() == {"rows": 3}
    assert pa.get_artifact("raw-bytes").kind == "artifact"


def test_key_templates_tuple_and_dict_returns(env_repo):
    @pa.artifact_task(key="features-{parameters[region]}")
    def features(region: str) -> pd.DataFrame:
        return frame(5, seed=len(region))

    @pa.artifact_task(key=("train-set", "test-set", None))
    def split(df: pd.DataFrame):
        return df.iloc[:3], df.iloc[3:], "not logged"

    @pa.artifact_task(key={"summary": "split-summary"})
    def describe(df: pd.DataFrame):
        return {"summary": {"rows": len(df)}, "other": object()}

    @pa.artifact_task(key="{flow_run.name}-report")
    def report():
        return "done"

    @flow
    def pipeline():
        df = features("emea")
        features("apac")
        train, test, note = split(df)
        out = describe(df)
        report()
        return len(train), len(test), note, out["summary"]

    state = pipeline(return_state=True)
    assert state.result() == (3, 2, "not logged", {"rows": 5})
    assert {v.key for v in pa.list_artifacts(key="features-*")} == {
        "features-emea",
        "features-apac",
    }
    assert pa.get_artifact("train-set").rows == 3 and pa.get_artifact("test-set").rows == 2
    assert pa.get_artifact("split-summary").load() == {"rows": 5}
    flow_run_name = pa.get_artifact("split-summary").producer.flow_run_name
    assert pa.get_artifact(f"{flow_run_name}-report").load() == "done"


def test_model_wrapper_logs_metrics_and_returns_the_model(env_repo):
    from sklearn.tree import DecisionTreeClassifier

    @pa.artifact_task(key="tree")
    def train():
        model = DecisionTreeClassifier(max_depth=2).fit([[0], [1], [2]], [0, 1, 1])
        return pa.Model(
            model, metrics={"accuracy": 1.0}, extra_data={"notes": b"n"}, model_file="tree.pkl"
        )

    @flow
    def pipeline():
        return train()

    model = pipeline()
    assert isinstance(model, DecisionTreeClassifier)
    v = pa.get_artifact("tree")
    assert v.metrics == {"accuracy": 1.0} and v.model_file == "tree.pkl"
    assert v.extra_data["notes"].read() == b"n" and v.parameters["max_depth"] == 2


def test_async_tasks(env_repo):
    @pa.artifact_task(key="async-frame")
    async def make(n: int) -> pd.DataFrame:
        await asyncio.sleep(0)
        return frame(n)

    @flow
    async def pipeline():
        return await make(7)

    df = asyncio.run(pipeline())
    assert len(df) == 7 and pa.get_artifact("async-frame").rows == 7


def test_submit_and_map_give_each_element_a_version_or_a_key(env_repo):
    @pa.artifact_task(key="shard")
    def shard(i: int) -> pd.DataFrame:
        return frame(3, seed=i)

    @pa.artifact_task(key="part-{parameters[i]}")
    def part(i: int) -> pd.DataFrame:
        return frame(3, seed=100 + i)

    @flow
    def pipeline():
        futures = shard.map([1, 2, 3])
        parts = part.map([1, 2])
        single = part.submit(9)
        return [f.result() for f in futures], [p.result() for p in parts], single.result()

    shards, parts, single = pipeline()
    assert len(shards) == 3 and len(parts) == 2 and len(single) == 3
    assert sorted(v.version for v in pa.get_repository().versions("shard")) == [1, 2, 3]
    assert {v.key for v in pa.list_artifacts(key="part-*")} == {"part-1", "part-2", "part-9"}


def test_retry_with_same_content_makes_no_new_version(env_repo, tmp_path):
    attempts = tmp_path / "attempts"

    @pa.artifact_task(key="flaky", retries=2, retry_delay_seconds=0)
    def flaky() -> pd.DataFrame:
        n = int(attempts.read_text()) if attempts.exists() else 0
        attempts.write_text(str(n + 1))
        pa.log_dataset("flaky-side", frame(4))  # logged on every attempt
        if n == 0:
            raise RuntimeError("transient")
        return frame(4)

    @flow
    def pipeline():
        return flaky()

    pipeline()
    assert attempts.read_text() == "2"
    assert [v.version for v in pa.get_repository().versions("flaky-side")] == [1]
    assert [v.version for v in pa.get_repository().versions("flaky")] == [1]
    side = pa.get_artifact("flaky-side")
    assert len(side.producers()) == 1  # both attempts are the same task run


def test_bad_decorator_arguments_fail_at_decoration(env_repo):
    with pytest.raises(ValueError, match="invalid artifact key"):
        pa.artifact_task(key="../etc")(lambda: 1)
    with pytest.raises(ValueError, match="unknown kind"):
        pa.artifact_task(kind="spreadsheet")(lambda: 1)
    with pytest.raises(ValueError, match="malformed"):
        pa.artifact_task(key="bad-{parameters[x]")(lambda: 1)
    with pytest.raises(ValueError, match=r"\{region\} is not available.*parameters\[name\]"):
        pa.artifact_task(key="features-{region}")(lambda region: 1)
    with pytest.raises(ValueError, match="'out/' has characters a key cannot hold"):
        pa.artifact_task(key="out/{parameters[x]}")(lambda x: 1)
    with pytest.raises(ValueError):
        pa.artifact_task(tag="latest")(lambda: 1)


def test_bad_returns_fail_the_task_clearly(env_repo):
    @pa.artifact_task(key=("a", "b"))
    def one_value():
        return 1

    @pa.artifact_task(key="bad-{parameters[name]}")
    def templated(name: str):
        return b"x"

    @flow
    def pipeline():
        first = one_value(return_state=True)
        second = templated("a/b", return_state=True)
        return first, second

    first, second = pipeline()
    with pytest.raises(ValueError, match="one element per key"):
        first.result()
    with pytest.raises(ValueError, match=r"template 'bad-\{parameters\[name\]\}' rendered"):
        second.result()
    assert pa.list_artifacts() == []


def test_task_options_pass_through(env_repo):
    @pa.artifact_task(
        key="tagged", tags=["nightly"], name="custom-name", persist_result=True, timeout_seconds=60
    )
    def work():
        return "x"

    assert work.name == "custom-name" and work.tags == {"nightly"}
    assert work.persist_result is True and work.timeout_seconds == 60

    @flow
    def pipeline():
        return work()

    assert pipeline() == "x"
    assert "nightly" in pa.get_artifact("tagged").producer.tags


def test_none_is_not_logged(env_repo):
    @pa.artifact_task(key="nothing")
    def nothing():
        return None

    @flow
    def pipeline():
        return nothing()

    assert pipeline() is None
    assert pa.list_artifacts() == []


def test_calling_fn_directly_logs_as_the_local_process(env_repo):
    @pa.artifact_task(key="direct")
    def direct():
        return "value"

    assert direct.fn.__wrapped__() == "value"  # the undecorated function logs nothing
    assert pa.list_artifacts() == []
    assert direct.fn() == "value"  # .fn runs the capture outside Prefect
    assert pa.get_artifact("direct").producer.kind == "local"
