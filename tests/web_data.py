"""A small repository with every kind of artifact, shared by the API, CLI and browser tests."""

from __future__ import annotations

import io
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from prefect_artifacts import ArtifactContext, Repository


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
    time.sleep(pause)
    mark = datetime.now(timezone.utc)
    time.sleep(pause)
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
