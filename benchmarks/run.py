"""Benchmarks: each measures ours against a bare baseline in the same process, interleaved,
median of several rounds after a warm-up, and prints the ratio next to its target.

    ./run.sh bench            all benchmarks
    ./run.sh bench -k load    those whose name contains "load"

Results are appended to benchmarks/results/history.jsonl and written to
benchmarks/results/latest.md, so runs can be compared over time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


@dataclass
class Result:
    name: str
    ours_ms: float
    baseline_ms: float
    target: float | None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours_ms / self.baseline_ms

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "ok" if self.ratio <= self.target else "MISSED"


def interleaved(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    rounds: int,
    setup: Callable[[], object] | None = None,
) -> tuple[float, float]:
    """Median milliseconds of each, alternating which runs first, after one warm-up each."""
    ours(), baseline()
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    for i in range(rounds):
        pair = [("ours", ours), ("baseline", baseline)]
        for name, fn in pair if i % 2 == 0 else pair[::-1]:
            if setup:
                setup()
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
    return statistics.median(times["ours"]), statistics.median(times["baseline"])


def frame(rows: int = 1_000_000, seed: int = 0) -> pd.DataFrame:
    """The issue's frame: float, int, 3-value string, float."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.integers(0, 1_000_000, rows),
            "c": rng.choice(["red", "green", "blue"], rows),
            "d": rng.random(rows),
        }
    )


def fresh_repo(root: Path):
    from prefect_artifacts import Repository
    from prefect_artifacts.catalog import Catalog
    from prefect_artifacts.storage import Storage

    shutil.rmtree(root, ignore_errors=True)
    return Repository(Storage.from_url(str(root / "store")), Catalog(f"sqlite:///{root / 'c.db'}"))


def bench_log_dataset(work: Path, rounds: int) -> Result:
    from prefect_artifacts import ArtifactContext

    df = frame()
    repo = fresh_repo(work / "log")
    ctx = ArtifactContext(repo)
    counter = iter(range(10**6))
    ours, base = interleaved(
        lambda: ctx.log_dataset(f"frame-{next(counter)}", df, stats=True),
        lambda: df.to_parquet(work / "bare.parquet"),
        rounds,
        setup=lambda: (
            repo.storage.fs.rm(repo.storage.path("blobs"), recursive=True)
            if repo.storage.fs.exists(repo.storage.path("blobs"))
            else None
        ),
    )
    return Result("log_dataset(stats=True) 1M x 4 vs df.to_parquet", ours, base, 1.15)


def bench_load(work: Path, rounds: int) -> Result:
    from prefect_artifacts import ArtifactContext

    df = frame()
    repo = fresh_repo(work / "load")
    version = ArtifactContext(repo).log_dataset("frame", df, stats=False)
    df.to_parquet(work / "bare.parquet")
    ours, base = interleaved(
        lambda: repo.get("frame").load(),
        lambda: pd.read_parquet(work / "bare.parquet"),
        rounds,
    )
    assert version.size > 0
    return Result("get_artifact().load() 1M x 4 vs pd.read_parquet", ours, base, 1.05)


def bench_relog(work: Path, rounds: int) -> Result:
    from prefect_artifacts import ArtifactContext

    df = frame()
    repo = fresh_repo(work / "relog")
    ctx = ArtifactContext(repo)
    blobs = Path(repo.storage.root) / "blobs"

    def stored() -> int:
        return sum(p.stat().st_size for p in blobs.rglob("*") if p.is_file())

    ctx.log_dataset("same", df, stats=True)
    other = frame(seed=1)
    before = stored()

    def first_log(counter=iter(range(10**6))) -> None:
        n = next(counter)
        other.loc[0, "a"] = n  # new content, same shape: a genuine first log of a new key
        ctx.log_dataset(f"first-{n}", other, stats=True)

    ours, base = interleaved(lambda: ctx.log_dataset("same", df, stats=True), first_log, rounds)
    new_bytes = stored() - before - sum(v.size for v in repo.list(key="first-*"))
    versions = len(repo.versions("same"))
    return Result(
        "re-log identical 1M x 4 vs its first log",
        ours,
        base,
        0.3,
        f"new bytes stored by re-logs: {new_bytes}; versions of the key: {versions}",
    )


BENCHMARKS: dict[str, Callable[[Path, int], Result]] = {
    "log_dataset": bench_log_dataset,
    "load": bench_load,
    "relog": bench_relog,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="run benchmarks whose name contains this")
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds (median)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pa-bench-"))
    results = []
    try:
        for name, bench in BENCHMARKS.items():
            if args.k in name:
                result = bench(work, args.rounds)
                results.append(result)
                print(
                    f"{result.name:<60} {result.ours_ms:9.1f} ms {result.baseline_ms:9.1f} ms "
                    f"{result.ratio:6.2f}x  target {result.target or '-'}  {result.verdict}"
                    + (f"  ({result.note})" if result.note else ""),
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write(results, args.rounds)
    return 0


def write(results: list[Result], rounds: int) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    machine = f"{platform.node()} {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    with (RESULTS / "history.jsonl").open("a") as fh:
        for r in results:
            fh.write(
                json.dumps(
                    {
                        "at": stamp,
                        "machine": machine,
                        "rounds": rounds,
                        **asdict(r),
                        "ratio": round(r.ratio, 3),
                    }
                )
                + "\n"
            )
    lines = [
        f"# Benchmark results ({stamp}, {machine}, median of {rounds})",
        "",
        "| benchmark | ours (ms) | baseline (ms) | ratio | target | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r.name} | {r.ours_ms:.1f} | {r.baseline_ms:.1f} | {r.ratio:.2f}x | "
        f"{r.target or '-'} | {r.verdict} {r.note} |"
        for r in results
    ]
    (RESULTS / "latest.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
