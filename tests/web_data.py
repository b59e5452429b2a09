"""A small repository with every kind of artifact, shared by the API, CLI and browser tests."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from prefect_artifacts import ArtifactContext, Repository
from prefect_artifacts.web import create_app


def png(width: int = 64, height: int = 48) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 220)).save(out, format="PNG")
    return out.getvalue()


def populate(repo: Repository, *, pause: float = 1.2) -> dict[str, object]:
    """Old artifacts, a time mark, then new ones; returns handy facts for assertions."""
    ctx = ArtifactContext(repo)
    rng = np.random.default_rng(0)
    events = pd.DataFrame(
        {"amount": rng.normal(10, 2, 500), "channel": rng.choice(["web", "app"], 500)}
    )
    v1 = ctx.log_dataset("events", events, labels={"team": "ml", "source": "web"})
    ctx.log_artifact("notes", "plain <b>text</b> & more", labels={"team": "bi"})
    ctx.log_artifact(
        "evil",
        b"x",
        labels={"note": "<script>alert(1)</script>"},
        description="<img src=x onerror=alert(2)>",
    )
    time.sleep(pause)  # the mark's whole second (as a form gives it) is after the old ones
    mark = datetime.now(UTC)  # ...and everything logged from here on is after the mark
    wider = events.assign(amount=events["amount"] * 2, visits=rng.integers(0, 5, 500))
    v2 = ctx.log_dataset("events", wider, labels={"team": "ml", "source": "web"})
    repo.tag("events:1", "prod")
    plot = ctx.log_plot("histogram", png(), labels={"team": "ml"})
    ctx.log_model(
        "churn",
        body=b"model-1",
        model_file="churn.pkl",
        metrics={"auc": 0.70},
        labels={"team": "ml"},
    )
    model = ctx.log_model(
        "churn",
        body=b"model-2",
        model_file="churn.pkl",
        metrics={"auc": 0.75, "accuracy": 0.8},
        parameters={"depth": 4},
        extra_data={"confusion": plot, "readme": b"read me"},
        labels={"team": "ml"},
    )
    ctx.log_artifact("config", {"alpha": 1}, labels={"team": "ml"})
    return {"mark": mark, "events_v1": v1, "events_v2": v2, "plot": plot, "model": model}


def fresh_repository(root) -> Repository:
    from prefect_artifacts.core.catalog import Catalog
    from prefect_artifacts.core.storage import Storage

    return Repository(
        Storage.from_url(str(root / "store")),
        Catalog(f"sqlite:///{root / 'catalog.db'}"),
        owner="tester",
    )


STRESS = "stress"
LONG_KEY = ("k" + "very-long-key-name-" * 7)[:128]
LONG_LABEL = ("value-" * 30)[:150]


def populate_hostile(repo: Repository, *, versions: int = 150) -> dict[str, object]:
    """Project ``stress``: a 128-character key, 150-character label values, a 60-column dataset
    with 80-character cells and booleans, a model with ``versions`` versions (auc up, logloss
    down), a second model key, a plotly figure and a three-run lineage chain."""
    ctx = ArtifactContext(repo, project=STRESS)
    rng = np.random.default_rng(1)
    n = 200
    columns: dict[str, object] = {}
    for i in range(60):
        if i % 6 == 0:
            columns[f"text_{i:02d}"] = [("x" * 70 + f"-row{r:05d}")[:80] for r in range(n)]
        elif i % 6 == 1:
            columns[f"flag_{i:02d}"] = rng.random(n) > 0.5
        elif i % 6 == 2:
            columns[f"num_{i:02d}"] = rng.integers(0, 1_000_000, n)
        else:
            columns[f"value_{i:02d}"] = rng.normal(250_000, 10_000, n)
    wide = pd.DataFrame(columns)
    labels = {"team": "ml", "note": LONG_LABEL, "owner-group": LONG_LABEL[:100]}
    d1 = ctx.log_dataset(LONG_KEY, wide, labels=labels)
    drifted = wide.copy()
    drifted["value_03"] = drifted["value_03"] * 1.5
    drifted.loc[: n // 2, "value_04"] = None
    d2 = ctx.log_dataset(LONG_KEY, drifted, labels=labels)
    repo.tag(d1.ref, "prod")
    for i in range(1, versions + 1):
        ctx.log_model(
            "churn-model",
            body=f"model-{i}".encode(),
            model_file="model.bin",
            metrics={"auc": 0.6 + 0.3 * i / versions, "logloss": 0.9 - 0.5 * i / versions},
            parameters={"depth": 2 + i % 7, "lr": round(0.1 / i, 6)},
            labels={"team": "ml"},
        )
    repo.tag(f"{STRESS}/churn-model:{versions // 2}", "prod")
    xl = ctx.log_model(
        "churn-xl",
        body=b"xl",
        model_file="model.bin",
        metrics={"auc": 0.95, "logloss": 0.3},
        parameters={"depth": 12, "note": "y" * 80},
        extra_data={"report": b'{"precision": 0.9, "recall": [0.8, 0.7]}', "chart": png(32, 24)},
    )
    import plotly.graph_objects as go

    figure = go.Figure(go.Scatter(x=list(range(20)), y=[i * i for i in range(20)]))
    plot = ctx.log_plot("plotly-curve", figure)

    with named_runs() as run_as:
        run_as("ingest")
        raw = ctx.log_dataset("raw", wide.iloc[:, :5])
        run_as("features")
        raw.load()
        features = ctx.log_dataset("features", wide.iloc[:, :8])
        run_as("train")
        features.load()
        trained = ctx.log_model(
            "trained", body=b"t", model_file="m.bin", metrics={"auc": 0.8, "rmse": 1.2}
        )
    return {"d1": d1, "d2": d2, "xl": xl, "plot": plot, "features": features, "trained": trained}


RUNS = {"ingest": "calm-ant", "features": "wise-owl", "train": "bold-elk", "score": "fast-fox"}


@contextlib.contextmanager
def named_runs() -> Iterator[Callable[[str], None]]:
    """Runs named through the core's seam, not real Prefect runs (Prefect's listeners stay
    out): after ``run_as("train")`` what is logged and loaded happens in that flow's run."""
    from prefect_artifacts.core import events
    from prefect_artifacts.core.models import RunInfo
    from prefect_artifacts.core.runs import set_run_provider

    listeners = list(events._listeners)
    for listener in listeners:
        events.unsubscribe(listener)
    current: dict[str, RunInfo | None] = {"run": None}

    def run_as(flow: str) -> None:
        number = str(list(RUNS).index(flow) + 1)
        current["run"] = RunInfo(flow_name=flow, flow_run_id=number * 32, flow_run_name=RUNS[flow])

    previous = set_run_provider(lambda: current["run"])
    try:
        yield run_as
    finally:
        set_run_provider(previous)
        for listener in listeners:
            events.subscribe(listener)


@contextlib.contextmanager
def serving(repo: Repository, **options: object) -> Iterator[str]:
    """The browser UI of ``repo`` (``create_app(repo, **options)``) served by uvicorn on a free
    loopback port in a thread; yields its base URL and stops the server on exit."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(repo, **options), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
