"""ingest → features → train → evaluate.

Each step is an ``@artifact_task``: its return value becomes a versioned artifact (a DataFrame a
dataset, a figure a plot, ``pa.Model(...)`` a model with metrics) and is still passed on to the
next task unchanged. Lineage between the steps is recorded from Prefect's own task inputs.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from prefect import flow
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score
from sklearn.model_selection import train_test_split

import prefect_artifacts as pa

FEATURES = ["amount", "age_days", "visits", "channel_web"]
TEAM = {"team": "ml"}


@pa.artifact_task(key="raw-transactions", labels={**TEAM, "stage": "raw"})
def ingest(rows: int, seed: int) -> pd.DataFrame:
    """Synthetic transactions (no download needed)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, rows).round(2),
            "age_days": rng.integers(1, 3650, rows),
            "visits": rng.poisson(4, rows),
            "channel": rng.choice(["web", "store", "phone"], rows, p=[0.6, 0.3, 0.1]),
            "when": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 300, rows), "D"),
        }
    )
    odds = 0.02 * df["visits"] - 0.0004 * df["age_days"] + 0.3 * (df["channel"] == "web")
    df["churned"] = (rng.random(rows) < 1 / (1 + np.exp(-odds))).astype(int)
    return df


@pa.artifact_task(
    key="features",
    labels={**TEAM, "stage": "features"},
    description="Model inputs: one row per customer",
)
def features(raw: pd.DataFrame) -> pd.DataFrame:
    df = raw.assign(channel_web=(raw["channel"] == "web").astype(int))
    return df[[*FEATURES, "churned"]]


@pa.artifact_task(key="amount-distribution", labels=TEAM)
def distribution(df: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(np.log(df["amount"]), bins=40, color="#3b82f6")
    ax.set(title="log(amount)", xlabel="log amount", ylabel="customers")
    return fig


@pa.artifact_task(key=(None, "test-set"), labels={**TEAM, "stage": "test"})
def train(df: pd.DataFrame, c: float):
    """Returns (model, held-out rows); the held-out rows are logged as the test set."""
    train_df, test_df = train_test_split(df, test_size=0.25, random_state=0)
    model = LogisticRegression(C=c, max_iter=500).fit(train_df[FEATURES], train_df["churned"])
    return model, test_df


@pa.artifact_task(capture=False)
def evaluate(model: LogisticRegression, test_df: pd.DataFrame) -> pa.ModelVersion:
    """Scores the held-out rows; logs the model with its metrics and a confusion matrix."""
    context = pa.get_context()
    predicted = model.predict(test_df[FEATURES])
    matrix = confusion_matrix(test_df["churned"], predicted)
    fig, ax = plt.subplots(figsize=(3.5, 3.5))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center")
    ax.set(xlabel="predicted", ylabel="actual", title="confusion matrix")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    confusion = context.log_plot("confusion-matrix", buffer.getvalue(), labels=TEAM)
    probabilities = model.predict_proba(test_df[FEATURES])[:, 1]
    metrics = {
        "accuracy": float(accuracy_score(test_df["churned"], predicted)),
        "auc": float(roc_auc_score(test_df["churned"], probabilities)),
    }
    # The MLRun call, as written: the model with metrics and the confusion matrix as extra data.
    return context.log_model(
        key="churn-model",
        model=model,
        model_file="churn-model.pkl",
        metrics=metrics,
        extra_data={"confusion": confusion.target_path},
        labels=TEAM,
        tag="prod",
    )


@flow(name="training-pipeline", log_prints=True)
def training_pipeline(rows: int = 20_000, c: float = 1.0, seed: int = 7) -> pa.ModelVersion:
    raw = ingest(rows, seed)
    df = features(raw)
    distribution(df)
    model, test_df = train(df, c)
    return evaluate(model, test_df)


if __name__ == "__main__":
    print(training_pipeline())
