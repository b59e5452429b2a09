"""Benchmarks against a real Prefect server (Prefect's test harness: ``prefect server`` in a
subprocess on loopback).

- Issue 23: a flow mapping 150 ``@artifact_task`` runs over small frames, *including* the flush
  that sends every card, event and asset materialization to the server, against the same flow
  with plain ``@task`` (target 1.5x, bar 2x).
- Issue 27, target 4: a sweep of 1,000 iterations in one flow, each fitting a tiny model and
  logging it with 10 metrics (``log_model(..., iteration=i)``), registration on and flushed,
  against the same flow logging nothing (target 2x).

Before each timed round the server is let settle (its processes idle for half a second), so a
round does not pay for the backlog the previous one left (a plain flow's task-run events keep
the server busy for seconds after the flow returns)."""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path
from typing import Any

MAPPED = 150
SWEEP = 1_000


def settle(timeout: float = 60.0) -> None:
    """Wait until this process's children (the test server) are idle for half a second."""
    import psutil

    me = psutil.Process()

    def busy() -> float:
        total = 0.0
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                times = child.cpu_times()
                total += times.user + times.system
        return total

    deadline = time.monotonic() + timeout
    before = busy()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = busy()
        if now - before < 0.05:
            return
        before = now


def _harness(work: Path, name: str) -> Any:
    os.environ["PREFECT_HOME"] = str(work / f"prefect-home-{name}")
    os.environ["PREFECT_ARTIFACTS_STORAGE_URL"] = str(work / name / "store")
    os.environ["PREFECT_ARTIFACTS_CATALOG_URL"] = f"sqlite:///{work / name / 'c.db'}"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    from prefect.testing.utilities import prefect_test_harness

    return prefect_test_harness(server_startup_timeout=120)


def bench_mapped_flow(work: Path, args: argparse.Namespace) -> list[Any]:
    import numpy as np
    import pandas as pd
    from run import Result, interleaved

    harness = _harness(work, "mapped")
    from prefect import flow, task

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

    with harness:
        started = time.perf_counter()
        ours_ms, plain_ms = interleaved(ours, plain, args.rounds, setup=settle)
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


def bench_sweep(work: Path, args: argparse.Namespace) -> list[Any]:
    import numpy as np
    from run import Result, interleaved

    harness = _harness(work, "sweep")
    from prefect import flow

    import prefect_artifacts as pa

    n = 200 if args.quick else SWEEP
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8))
    y = x @ rng.normal(size=8) + rng.normal(scale=0.5, size=400)
    salt = {"n": 0}

    def fit(i: int) -> tuple[bytes, dict[str, float]]:
        """A tiny model: ridge regression with its own alpha, and 10 metrics of its fit."""
        alpha = 0.01 * (i + 1)
        coef = np.linalg.solve(x.T @ x + alpha * np.eye(8), x.T @ y)
        err = x @ coef - y
        metrics = {
            "mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err))),
            "max_err": float(np.max(np.abs(err))), "r2": float(1 - err.var() / y.var()),
            "bias": float(err.mean()), "p50": float(np.median(np.abs(err))),
            "p90": float(np.quantile(np.abs(err), 0.9)), "norm": float(np.linalg.norm(coef)),
            "alpha": alpha, "n": float(len(y)),
        }  # fmt: skip
        return coef.tobytes(), metrics

    @flow
    def sweep_flow(run: int, log: bool) -> None:
        for i in range(n):
            body, metrics = fit(i)
            if log:
                pa.log_model(
                    f"sweep-{run}", body=body, metrics=metrics, parameters={"alpha": metrics["alpha"]},
                    iteration=i,
                )  # fmt: skip

    def ours() -> None:
        salt["n"] += 1
        sweep_flow(salt["n"], True)
        pa.flush_registrations()  # timed: every card and event has reached the server

    def plain() -> None:
        salt["n"] += 1
        sweep_flow(salt["n"], False)

    rounds = max(3, args.rounds // 2)  # a round logs 1,000 versions
    with harness:
        started = time.perf_counter()
        ours_ms, plain_ms = interleaved(ours, plain, rounds, setup=settle)
        total = time.perf_counter() - started
    per = (ours_ms - plain_ms) / n
    return [
        Result(
            f"27d sweep of {n:,} tiny models, 10 metrics each, incl. flush vs logging nothing",
            ours_ms,
            plain_ms,
            2.0,
            note=(
                f"{os.cpu_count()} cores; flow logging nothing {plain_ms:.0f} ms; "
                f"{per:.1f} ms per logged iteration; median of {rounds}; {total:.0f} s in all"
            ),
        )
    ]


BENCHMARKS = {"prefect_mapped": bench_mapped_flow, "prefect_sweep": bench_sweep}
