"""Benchmarks of issue 23 (Prefect registration throughput), against a real Prefect server
(Prefect's test harness: ``prefect server`` in a subprocess on loopback).

A flow mapping 150 ``@artifact_task`` runs over small frames, *including* the flush that sends
every card, event and asset materialization to the server, against the same flow with plain
``@task`` (target 1.5x, bar 2x)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

MAPPED = 150


def bench_mapped_flow(work: Path, args: argparse.Namespace) -> list[Any]:
    import numpy as np
    import pandas as pd
    from run import Result, interleaved

    os.environ["PREFECT_HOME"] = str(work / "prefect-home-23")
    os.environ["PREFECT_ARTIFACTS_STORAGE_URL"] = str(work / "mapped" / "store")
    os.environ["PREFECT_ARTIFACTS_CATALOG_URL"] = f"sqlite:///{work / 'mapped' / 'c.db'}"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    from prefect import flow, task
    from prefect.testing.utilities import prefect_test_harness

    import prefect_artifacts as pa

    n = 50 if args.quick else MAPPED
    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame({"x": rng.normal(size=200), "y": rng.integers(0, 9, 200)}) for _ in range(n)
    ]
    salt = {"n": 0}

    @pa.artifact_task(key="shard-{parameters[i]}")
    def ours_task(i: int, run: int) -> pd.DataFrame:
        return frames[i].assign(run=run)

    @task
    def plain_task(i: int, run: int) -> pd.DataFrame:
        return frames[i].assign(run=run)

    @flow
    def ours_flow(run: int) -> None:
        ours_task.map(range(n), run).wait()

    @flow
    def plain_flow(run: int) -> None:
        plain_task.map(range(n), run).wait()

    def ours() -> None:
        salt["n"] += 1
        ours_flow(salt["n"])
        pa.flush_registrations()  # timed: every card and event has reached the server

    def plain() -> None:
        salt["n"] += 1
        plain_flow(salt["n"])

    with prefect_test_harness(server_startup_timeout=120):
        started = time.perf_counter()
        ours_ms, plain_ms = interleaved(ours, plain, args.rounds)
        total = time.perf_counter() - started
    return [
        Result(
            f"23 flow mapping {n} @artifact_task incl. flush vs @task",
            ours_ms,
            plain_ms,
            1.5,
            note=f"bar 2x; {os.cpu_count()} cores; {total:.0f} s in all",
        )
    ]


BENCHMARKS = {"prefect_mapped": bench_mapped_flow}
