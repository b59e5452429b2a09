"""A dataset larger than one worker's memory, on Prefect's DaskTaskRunner.

``log_events`` builds a lazy Dask DataFrame and logs it: each partition is written as one
Parquet part by the Dask worker that holds it, straight to storage; only part metadata and
partial statistics come back. ``amount_by_kind`` receives ``ArtifactRef("events@fresh",
load="dask")`` — a lazy Dask DataFrame over the parts, nothing collected — and
``big_spenders`` reads with push-down (one column, a row filter: only the matching row groups
are fetched, each page checked against its checksum).

    .venv/bin/python flows/big_data.py [partitions] [rows_per_partition]
"""

from __future__ import annotations

import sys

import dask.dataframe as dd
import numpy as np
import pandas as pd
from prefect import flow, task
from prefect_dask import DaskTaskRunner

import prefect_artifacts as pa


def _partition(i: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(i)
    return pd.DataFrame(
        {
            "id": np.arange(i * rows, (i + 1) * rows, dtype=np.int64),
            "kind": rng.choice(["click", "view", "buy"], rows),
            "amount": rng.gamma(2.0, 20.0, rows),
        }
    )


def log_events(partitions: int, rows: int) -> pa.ArtifactVersion:
    """In the flow, where the DaskTaskRunner's client is: ``dask.compute`` sends one write
    task per partition to the cluster's workers."""
    ddf = dd.from_map(_partition, range(partitions), rows=rows)
    return pa.log_dataset("events", df=ddf, tag="fresh")


@pa.artifact_task
def amount_by_kind(events: dd.DataFrame) -> dict[str, float]:
    return events.groupby("kind").amount.sum().compute().round(2).to_dict()


@task
def big_spenders(threshold: float) -> int:
    version = pa.get_artifact("events@fresh")
    rows = version.load(columns=["id"], filters=[("amount", ">", threshold)])
    return len(rows)


@flow(task_runner=DaskTaskRunner(cluster_kwargs={"n_workers": 2, "processes": True}))
def big_data(partitions: int = 8, rows: int = 250_000, threshold: float = 150.0) -> dict:
    version = log_events(partitions, rows)
    totals = amount_by_kind.submit(pa.ArtifactRef("events@fresh", load="dask"))
    spenders = big_spenders.submit(threshold)
    return {
        "version": version.ref,
        "parts": version.part_count,
        "totals": totals.result(),
        "big_spenders": spenders.result(),
    }


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(big_data(*args))
