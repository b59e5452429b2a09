"""The seed's MLRun calls, verbatim, inside real Prefect flow and task runs."""

from pickle import dumps

import numpy as np
import pandas as pd
import pytest
from prefect import flow, task

import prefect_artifacts as pa

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_seed_calls_verbatim_in_a_flow(env_repo):
    df = pd.DataFrame({"x": np.arange(100.0), "y": ["a", "b"] * 50})
    model = {"weights": [0.1, 0.2]}

    @flow(name="seed-flow")
    def seed_flow():
        context = pa.get_context()
        confusion = context.log_artifact("confusion", {"tp": 9, "fn": 1})
        context.log_dataset(key='my_data', df=df)  # fmt: skip
        model_data = dumps(model)
        context.log_model(key='my_model', body=model_data, model_file='my_model.pkl')  # fmt: skip
        return context.log_model(key='my_model', body=model_data, model_file='my_model.pkl', metrics={'accuracy': 0.9}, extra_data={'confusion': confusion.target_path})  # fmt: skip

    state = seed_flow(return_state=True)
    flow_run_id = str(state.state_details.flow_run_id)
    version = state.result()
    assert version.key == "my_model" and version.version == 2
    assert version.metrics == {"accuracy": 0.9}
    assert version.extra_data["confusion"].read() == b'{"tp": 9, "fn": 1}'
    data = pa.get_artifact("my_data")
    assert data.producer.kind == "prefect"
    assert data.producer.flow_name == "seed-flow" and data.producer.flow_run_id == flow_run_id
    assert data.producer.flow_run_name and data.producer.task_run_id is None
    pd.testing.assert_frame_equal(data.load(), df)
    assert pa.get_artifact("my_model:1").load() == model


def test_task_runs_are_producers(env_repo):
    @task
    def make(n: int) -> pa.ArtifactVersion:
        return pa.log_dataset("numbers", pd.DataFrame({"n": range(n)}))

    @flow(name="task-producer")
    def pipeline(n: int = 5):
        return make(n, return_state=True)

    task_state = pipeline(7)
    version = task_state.result()
    assert version.producer.task_run_id == str(task_state.state_details.task_run_id)
    assert version.producer.flow_run_id == str(task_state.state_details.flow_run_id)
    assert version.producer.flow_name == "task-producer"
    assert version.producer.parameters == {"n": 7}
    assert version.producer.task_run_name.startswith("make")
    assert version.producers()[0].task_run_id == version.producer.task_run_id
