"""A later flow run reuses artifacts: ``features:latest`` and the model tagged ``prod``.

``ArtifactRef`` arguments are loaded when the task runs (a line in the task run's log says which version);
both loads are recorded as consumers, so lineage links this run to the training run.
"""

from __future__ import annotations

import pandas as pd
from prefect import flow

import prefect_artifacts as pa


@pa.artifact_task(key="scored-customers", labels={"team": "ml", "stage": "scored"})
def score(features: pd.DataFrame, model) -> pd.DataFrame:
    inputs = features.drop(columns=["churned"])
    return features.assign(churn_probability=model.predict_proba(inputs)[:, 1])


@flow(name="scoring-pipeline")
def scoring_pipeline() -> pa.DatasetVersion:
    score(pa.ArtifactRef("features:latest"), pa.ArtifactRef("churn-model@prod"))
    return pa.get_artifact("scored-customers")


if __name__ == "__main__":
    print(scoring_pipeline())
