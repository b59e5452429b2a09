"""ingest → features → train → evaluate, logging a dataset, plots and a model with metrics."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from prefect import flow, task
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score
from sklearn.model_selection import train_test_split

import prefect_artifacts as pa

FEATURES = ["amount", "age_days", "visits", "channel_web"]


@task
def ingest(rows: int, seed: int) -> pd.DataFrame:
    """Synthetic transactions: no download needed."""
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
    pa.log_dataset("raw-transactions", df, labels={"stage": "raw", "team": "ml"})
    return df


@task
def features(raw: pd.DataFrame) -> pd.DataFrame:
    df = raw.assign(channel_web=(raw["channel"] == "web").astype(int))
    df = df[[*FEATURES, "churned"]]
    pa.log_dataset(
        "features",
        df,
        labels={"stage": "features", "team": "ml"},
        description="Model inputs: one row per customer",
    )
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(np.log(df["amount"]), bins=40, color="#3b82f6")
    ax.set(title="log(amount)", xlabel="log amount", ylabel="customers")
    pa.log_plot("amount-distribution", fig, labels={"team": "ml"})
    plt.close(fig)
    return df


@task
def train(df: pd.DataFrame, c: float) -> tuple[LogisticRegression, pd.DataFrame]:
    train_df, test_df = train_test_split(df, test_size=0.25, random_state=0)
    model = LogisticRegression(C=c, max_iter=500).fit(train_df[FEATURES], train_df["churned"])
    return model, test_df


@task
def evaluate(model: LogisticRegression, test_df: pd.DataFrame) -> pa.ModelVersion:
    context = pa.get_context()
    predicted = model.predict(test_df[FEATURES])
    matrix = confusion_matrix(test_df["churned"], predicted)
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center")
    ax.set(xlabel="predicted", ylabel="actual", title="confusion matrix")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    confusion = context.log_plot("confusion-matrix", buffer.getvalue(), labels={"team": "ml"})
    metrics = {
        "accuracy": float(accuracy_score(test_df["churned"], predicted)),
        "auc": float(
            roc_auc_score(test_df["churned"], model.predict_proba(test_df[FEATURES])[:, 1])
        ),
    }
    return context.log_model(
        "churn-model",
        model=model,
        model_file="churn-model.pkl",
        metrics=metrics,
        extra_data={"confusion": confusion.target_path},
        labels={"team": "ml"},
        tag="prod",
    )


@flow(name="training-pipeline", log_prints=True)
def training_pipeline(rows: int = 20_000, c: float = 1.0, seed: int = 7) -> pa.ModelVersion:
    raw = ingest(rows, seed)
    model, test_df = train(features(raw), c)
    return evaluate(model, test_df)


if __name__ == "__main__":
    print(training_pipeline())
