"""Hyperparameter run: three candidates trained as iterations of one flow run (a mapped
``@artifact_task``), compared side by side, the best tagged ``prod``, then evaluated further
with ``update_model`` (a metadata revision: same version, the tag stays).

    .venv/bin/python flows/iterations.py          # Prefect's temporary server, local storage
"""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

import numpy as np
import pandas as pd
from prefect import flow, task, unmapped
from prefect.runtime import flow_run
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

import prefect_artifacts as pa

KEY = "churn-candidates"
C_VALUES = [0.01, 1.0, 100.0]


def synthetic(rows: int, seed: int) -> pd.DataFrame:
    """A synthetic churn table: tenure, spend, tickets → churned."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, rows),
            "spend": rng.gamma(2.0, 30.0, rows).round(2),
            "tickets": rng.poisson(1.5, rows),
        }
    )
    logit = -1.5 - 0.04 * frame.tenure + 0.01 * frame.spend + 0.6 * frame.tickets
    frame["churned"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@pa.artifact_task(key="churn-training-set")
def make_data(rows: int = 4_000, seed: int = 7) -> pd.DataFrame:
    return synthetic(rows, seed)


@pa.artifact_task(key=KEY, iteration="{parameters[i]}", labels={"team": "ml"})
def train(i: int, c: float, data: pd.DataFrame) -> pa.Model:
    """One candidate: a logistic regression with regularization ``c``, iteration ``i``."""
    train_part, test_part = data.iloc[: len(data) * 3 // 4], data.iloc[len(data) * 3 // 4 :]
    features = ["tenure", "spend", "tickets"]
    model = LogisticRegression(C=c, max_iter=500).fit(train_part[features], train_part.churned)
    scores = model.predict_proba(test_part[features])[:, 1]
    return pa.Model(
        model,
        metrics={
            "auc": float(roc_auc_score(test_part.churned, scores)),
            "logloss": float(log_loss(test_part.churned, scores)),
        },
        parameters={"C": c},
    )


@task
def evaluate_holdout(ref: str) -> pa.ModelVersion:
    """Later evaluation adds metrics to the chosen version without logging it again: a
    metadata revision (same bytes, same version number, the prod tag stays)."""
    model = pa.get_artifact(ref).load(trusted=True)  # our own pickle
    holdout = synthetic(2_000, seed=99)
    scores = model.predict_proba(holdout[["tenure", "spend", "tickets"]])[:, 1]
    auc = float(roc_auc_score(holdout.churned, scores))
    return pa.update_model(ref, metrics={"holdout_auc": auc}, description="holdout evaluated")


@flow(name="churn-hyperparameters")
def tune() -> pa.ModelVersion:
    data = make_data()
    train.map(range(len(C_VALUES)), C_VALUES, unmapped(data)).wait()
    run_id = str(flow_run.id)
    table = pa.compare(KEY, run=run_id, metrics=["auc", "logloss"])
    print(table[["key", "version", "iteration", "auc", "logloss", "param.C"]].to_string())
    best = pa.best(KEY, metric="auc", run=run_id, tag="prod")
    print(f"best: {best.ref} (iteration {best.iteration}, auc {best.metrics['auc']:.4f}) → prod")
    return evaluate_holdout(f"{KEY}@prod")


if __name__ == "__main__":
    chosen = tune()
    pa.flush_registrations()
    print(f"{chosen.ref} tags {chosen.tags} revisions {[r.revision for r in chosen.revisions()]}")
