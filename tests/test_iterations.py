"""Iterations (MLRun's ``iter``): candidates of one hyperparameter run are grouped under the flow
run, ordered by iteration whatever order they finished in, compared and the best promoted."""

import json
import threading
import uuid
from collections.abc import Iterator

import pytest
from prefect import flow, task
from prefect.runtime import flow_run

import prefect_artifacts as pa
from prefect_artifacts.core import events

WAIT = 60  # seconds: a guard against a hang, never a timing assumption


class Finished:
    """Per-iteration gates that order work without sleeps: ``wait_after(i)`` returns once
    iteration ``i + 1`` has passed its gate (the last iteration passes at once)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.gates = [threading.Event() for _ in range(count)]

    def mark(self, i: int) -> None:
        self.gates[i].set()

    def wait_after(self, i: int) -> None:
        if i + 1 < self.count:
            assert self.gates[i + 1].wait(WAIT), f"iteration {i + 1} never finished"


@pytest.fixture
def committed() -> Iterator[dict[str, Finished]]:
    """Per key, gates opened when a version of iteration ``i`` commits (a domain event
    listener: it runs after the commit)."""
    gates: dict[str, Finished] = {}

    def listener(event: events.Event) -> None:
        if not isinstance(event, events.VersionLogged):
            return
        version = event.version
        if version.key in gates and version.iteration is not None:
            gates[version.key].mark(version.iteration)

    events.subscribe(listener)
    yield gates
    events.unsubscribe(listener)


def test_log_model_iterations_in_a_flow_compare_in_iteration_order(
    env_repo, prefect_server, committed
):
    committed["clf"] = Finished(3)

    @task
    def train(i: int) -> None:
        committed["clf"].wait_after(i)  # the last iteration commits first
        pa.log_model("clf", body=f"model-{i}".encode(), metrics={"auc": [0.7, 0.9, 0.8][i]},
                     parameters={"depth": i + 1}, iteration=i)  # fmt: skip

    @flow(name="tune")
    def tune() -> str:
        train.map([0, 1, 2]).wait()
        return str(flow_run.id)

    pa.log_model("clf", body=b"from another run", metrics={"auc": 0.99})
    run_id = tune()
    table = pa.compare("clf", run=run_id)
    assert table["iteration"].tolist() == [0, 1, 2]
    assert table["auc"].tolist() == [0.7, 0.9, 0.8]
    assert table["param.depth"].tolist() == [1, 2, 3]
    assert sorted(table["version"]) == [2, 3, 4]  # numbered as they committed
    assert table["version"].tolist() != [2, 3, 4]  # ...which was not iteration order here
    winner = pa.best("clf", metric="auc", run=run_id, tag="prod")
    assert winner.iteration == 1 and winner.tags == ["prod"]
    assert pa.get_artifact("clf@prod").iteration == 1
    assert pa.best("clf", metric="auc").version == 1  # across runs: the other run's version
    with pytest.raises(pa.ArtifactNotFoundError, match="produced none"):
        pa.compare("clf", run="no-such-run")
    pa.flush_registrations()  # the Prefect UI cards go out while the test server is up


def test_a_runs_table_is_not_limited_by_the_keys_history(env_repo, prefect_server, monkeypatch):
    """The 500-version limit counts the run's versions, not every version of the key."""
    from prefect_artifacts.core import compare

    monkeypatch.setattr(compare, "MAX_VERSIONS", 5)
    for i in range(6):  # earlier history of the key, from other runs
        pa.log_model("hp", body=f"old-{i}".encode(), metrics={"auc": 0.5})

    @flow(name="tune-hp")
    def tune() -> str:
        for i in range(2):
            pa.log_model("hp", body=f"new-{i}".encode(), metrics={"auc": 0.6 + i / 10}, iteration=i)
        return str(flow_run.id)

    run_id = tune()
    assert pa.compare("hp", run=run_id)["iteration"].tolist() == [0, 1]
    assert pa.best("hp", metric="auc", run=run_id).iteration == 1
    assert pa.compare("hp", run=uuid.UUID(run_id))["iteration"].tolist() == [0, 1]  # flow_run.id
    with pytest.raises(pa.InvalidArgumentError, match=r"at most 5 versions.*run="):
        pa.compare("hp", all_versions=True)
    pa.flush_registrations()


def test_mapped_artifact_task_iteration_template(env_repo, prefect_server):
    returned = Finished(4)

    @pa.artifact_task(key="reg", iteration="{parameters[i]}")
    def fit(i: int, alpha: float) -> pa.Model:
        returned.wait_after(i)  # the last returns first
        returned.mark(i)
        return pa.Model(body=b"same bytes", metrics={"rmse": abs(alpha - 0.3)},
                        parameters={"alpha": alpha})  # fmt: skip

    @flow(name="sweep")
    def sweep() -> str:
        fit.map(range(4), [0.1, 0.2, 0.3, 0.4]).wait()
        return str(flow_run.id)

    run_id = sweep()
    table = pa.compare("reg", run=run_id, metrics=["rmse"])
    assert table["iteration"].tolist() == [0, 1, 2, 3]  # identical bytes: still one per iteration
    assert table["version"].tolist() == [1, 2, 3, 4]  # numbered in map order, not finish order
    assert table["param.alpha"].tolist() == [0.1, 0.2, 0.3, 0.4]
    best = pa.best("reg", metric="rmse", run=run_id)  # rmse: lower is better
    assert best.iteration == 2 and best.parameters == {"alpha": 0.3}
    by_name = pa.compare("reg", run=best.producer.flow_run_name)
    assert by_name["iteration"].tolist() == [0, 1, 2, 3]
    from typer.testing import CliRunner

    from prefect_artifacts.cli import app

    shown = CliRunner().invoke(app, ["compare", "reg", "--run", run_id, "--json"])
    assert [v["iteration"] for v in json.loads(shown.stdout)["versions"]] == [
        0,
        1,
        2,
        3,
    ]
    pa.flush_registrations()


def test_iteration_is_part_of_identity_and_validated(env_repo):
    first = pa.log_artifact("cand", b"x", iteration=0)
    second = pa.log_artifact("cand", b"x", iteration=1)
    again = pa.log_artifact("cand", b"x", iteration=1)
    assert (first.version, second.version, again.version) == (1, 2, 2)
    assert (
        pa.log_dataset("frame", __import__("pandas").DataFrame({"a": [1]}), iteration=3).iteration
        == 3
    )
    for bad in (-1, "abc", True, 1.5):
        with pytest.raises(pa.InvalidArgumentError, match="iteration"):
            pa.log_model("m", body=b"w", iteration=bad)
    assert pa.list_artifacts(key="m") == []  # nothing half-written
    with pytest.raises(pa.InvalidArgumentError, match="iteration"):
        pa.artifact_task(key="k", iteration=-3)(lambda: 1)
    with pytest.raises(pa.InvalidArgumentError, match="malformed"):
        pa.artifact_task(key="k", iteration="{parameters[i]")(lambda: 1)


def test_map_order_survives_failures_with_options_and_return_state(
    env_repo, prefect_server, committed
):
    returned = Finished(4)
    committed["unordered"] = Finished(4)

    @pa.artifact_task(key="cand", iteration="{parameters[i]}")
    def fit(i: int) -> bytes:
        returned.wait_after(i)  # the last returns first
        returned.mark(i)
        if i == 1:
            raise ValueError("diverged")
        return f"candidate {i}".encode()

    @pa.artifact_task(key="unordered", iteration="{parameters[i]}", map_order=False)
    def free(i: int) -> bytes:
        committed["unordered"].wait_after(i)  # the last commits first
        return f"candidate {i}".encode()

    @flow(name="ordered-sweep")
    def sweep() -> list:
        states = fit.with_options(retries=0).map(range(4), return_state=True)
        free.map(range(4)).wait()
        return [s.is_completed() for s in states]

    assert sweep(return_state=True).result(raise_on_failure=False) == [True, False, True, True]
    ordered = sorted(pa.list_artifacts(key="cand", all_versions=True), key=lambda v: v.version)
    assert [v.iteration for v in ordered] == [0, 2, 3]  # the failed one did not hold them up
    unordered = sorted(
        pa.list_artifacts(key="unordered", all_versions=True), key=lambda v: v.version
    )
    assert [v.iteration for v in unordered] == [3, 2, 1, 0]  # map_order=False: finish order
    pa.flush_registrations()


def test_mapped_runs_of_different_keys_do_not_wait_for_each_other(env_repo, prefect_server):
    """Keys rendered from the parameters alone are known when the ``.map()`` is submitted: a
    run logging its own key does not wait for the runs before it in map order (here each run
    returns only once the next one has committed, so the last commits first)."""
    committed = Finished(4)
    order: list[int] = []

    def listener(event: events.Event) -> None:
        if isinstance(event, events.VersionLogged) and event.version.key.startswith("side-"):
            order.append(int(event.version.key.removeprefix("side-")))
            committed.mark(order[-1])

    @pa.artifact_task(key="side-{parameters[i]}")
    def part(i: int) -> bytes:
        committed.wait_after(i)
        return f"part {i}".encode()

    @flow(name="side-by-side")
    def fan_out() -> None:
        part.map(range(4)).wait()

    events.subscribe(listener)
    try:
        assert fan_out(return_state=True).is_completed()
    finally:
        events.unsubscribe(listener)
    assert order == [3, 2, 1, 0]
    assert [pa.get_artifact(f"side-{i}").version for i in range(4)] == [1, 1, 1, 1]
    pa.flush_registrations()


def test_an_iteration_template_error_names_the_template(env_repo):
    @pa.artifact_task(key="named", iteration="{parameters[name]}")
    def fit(name: str) -> pa.Model:
        return pa.Model(body=name.encode())

    with pytest.raises(
        pa.InvalidArgumentError, match=r"template '\{parameters\[name\]\}' rendered"
    ):
        fit.fn("abc")
    with pytest.raises(pa.InvalidArgumentError, match=r"\{i\} is not available"):
        pa.artifact_task(key="named", iteration="{i}")(lambda i: 1)
    with pytest.raises(pa.InvalidArgumentError, match="failed: KeyError"):
        pa.artifact_task(key="named", iteration="{parameters[nope]}")(fit.fn.__wrapped__).fn("1")
    assert fit.fn("7") == b"7" and pa.get_artifact("named#7").version == 1
    assert not pa.list_artifacts(key="named", all_versions=True)[1:]


def test_the_detail_page_shows_the_iteration(env_repo):
    from fastapi.testclient import TestClient

    from prefect_artifacts.web import create_app

    pa.log_model("cand", body=b"a", metrics={"auc": 0.5}, iteration=2)
    pa.log_model("plain", body=b"b")
    client = TestClient(create_app(env_repo))
    page = client.get("/projects/default/artifacts/cand").text
    assert '<dt>iteration</dt><dd id="iteration">2 ' in page and "cand#2" in page
    assert "<dt>iteration</dt>" not in client.get("/projects/default/artifacts/plain").text
