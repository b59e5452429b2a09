"""``.deploy`` to a work pool: the training flow runs wherever a worker of ``demo-pool``
runs, with the scoring deployment triggered when the model it trains gets the ``prod`` tag.

    prefect work-pool create demo-pool --type process
    python flows/deploy_to_pool.py
    prefect worker start --pool demo-pool

The deployments point at this folder (``from_source``): a process worker on this machine runs
them as they are, with no image to build.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from serve_on_tag import ON_PROD

HERE = Path(__file__).resolve().parent
POOL = "demo-pool"


def deploy(pool: str = POOL) -> list:
    """Register both deployments on ``pool``; returns their ids."""
    training = flow.from_source(str(HERE), "pipeline.py:training_pipeline")
    scoring = flow.from_source(str(HERE), "reuse.py:scoring_pipeline")
    return [
        training.deploy(name="training", work_pool_name=pool, parameters={"rows": 20_000}),
        scoring.deploy(name="scoring", work_pool_name=pool, triggers=[ON_PROD]),
    ]


if __name__ == "__main__":
    print(deploy())
