"""A later run reuses artifacts: ``features@latest`` and the model tagged ``prod``."""

from __future__ import annotations

import pandas as pd
from prefect import flow, task

import prefect_artifacts as pa


@task
def score(features: pd.DataFrame, model) -> pd.DataFrame:
    inputs = features.drop(columns=["churned"])
    return features.assign(churn_probability=model.predict_proba(inputs)[:, 1])


@flow(name="scoring-pipeline")
def scoring_pipeline() -> pa.DatasetVersion:
    features = pa.get_artifact("features:latest").load()
    model = pa.get_artifact("churn-model@prod").load()
    scored = score(features, model)
    return pa.log_dataset("scored-customers", scored, labels={"team": "ml", "stage": "scored"})


if __name__ == "__main__":
    print(scoring_pipeline())
