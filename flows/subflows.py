"""Subflows and a thread-pool task runner with ``@artifact_task``.

``ingest`` is a subflow: it maps ``load_region`` over the regions (four task runs side by side
on the parent's ``ThreadPoolTaskRunner``) and returns their frames. The parent's ``combine``
receives them: each region's version is recorded as an input of ``combine``'s task run, and
``all-regions``'s asset materialization names the four region assets upstream.

    python flows/subflows.py
"""

from __future__ import annotations

import pandas as pd
from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

import prefect_artifacts as pa

REGIONS = ("north", "south", "east", "west")


@pa.artifact_task(key="region-{parameters[region]}", labels={"stage": "raw"})
def load_region(region: str) -> pd.DataFrame:
    return pd.DataFrame({"region": [region] * 3, "customers": [10, 20, 30]})


@flow(name="ingest-regions")
def ingest(regions: list[str]) -> list[pd.DataFrame]:
    return [future.result() for future in load_region.map(regions)]


@pa.artifact_task(key="all-regions", tag="latest-combined")
def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True)


@flow(name="regional-pipeline", task_runner=ThreadPoolTaskRunner(max_workers=4))
def regional_pipeline(regions: tuple[str, ...] = REGIONS) -> pa.DatasetVersion:
    combine(ingest(list(regions)))
    return pa.get_artifact("all-regions")


if __name__ == "__main__":
    version = regional_pipeline()
    pa.flush_registrations()  # scripts flush at exit anyway; this makes the print truthful
    print(version.ref, [c.task_run_id for c in pa.get_artifact("region-north").consumers()])
