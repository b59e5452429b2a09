"""Small artifacts (issue 27, target 1): ``pa.log_artifact`` of a 1 KB dict and ``log_model`` of
a tiny model with 5 metrics against the durable-write floor, measured in the same run,
interleaved. The floor is a bare Python loop doing what a durable small write cannot avoid:
write a 1 KB file, fsync it, fsync its folder (the new name), and INSERT + commit one row into
SQLite in WAL mode with the catalog's ``synchronous`` setting. Also a burst of 1,000 logs from 4
threads against the floor done the same way from 4 threads (throughput).

    ./run.sh bench -k small
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BODY = {f"field_{i:03d}": i * 1.5 for i in range(40)}  # about 1 KB of JSON
PAYLOAD = os.urandom(1024)
BURST, THREADS = 1_000, 4
METRICS = {"accuracy": 0.91, "precision": 0.88, "recall": 0.86, "f1": 0.87, "auc": 0.93}


def cores() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{usable} of {os.cpu_count()} cores"


class Floor:
    """The durable floor: 1 KB file + fsync + folder fsync + a SQLite INSERT/commit (WAL,
    ``synchronous=NORMAL`` as the catalog sets it); one connection per thread."""

    def __init__(self, root: Path) -> None:
        shutil.rmtree(root, ignore_errors=True)
        (root / "files").mkdir(parents=True)
        self.root = root
        self.local = threading.local()
        self.counter = iter(range(10**9))
        self.lock = threading.Lock()
        with self._conn() as conn:
            conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, size INTEGER)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.root / "floor.db", timeout=60, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self.local.conn = conn
        return conn

    def one(self) -> None:
        with self.lock:
            n = next(self.counter)
        folder = self.root / "files"
        path = folder / f"{n}.bin"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, PAYLOAD)
            os.fsync(fd)
        finally:
            os.close(fd)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (name, size) VALUES (?, ?)", (path.name, len(PAYLOAD)))
        conn.execute("COMMIT")


def burst(fn: Any) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda _: fn(), range(BURST)))


def bench_small(work: Path, args: argparse.Namespace) -> list[Any]:
    from run import Result, interleaved

    root = work / "small"
    shutil.rmtree(root, ignore_errors=True)
    saved = {k: os.environ.get(k) for k in ("PREFECT_ARTIFACTS_STORAGE_URL",
                                            "PREFECT_ARTIFACTS_CATALOG_URL")}  # fmt: skip
    os.environ["PREFECT_ARTIFACTS_STORAGE_URL"] = str(root / "store")
    os.environ["PREFECT_ARTIFACTS_CATALOG_URL"] = f"sqlite:///{root / 'c.db'}"
    try:
        import prefect_artifacts as pa

        floor = Floor(work / "small-floor")
        counter = iter(range(10**9))
        lock = threading.Lock()

        def log_one() -> None:
            with lock:
                n = next(counter)
            pa.log_artifact(f"config-{n}", {**BODY, "n": n})

        def model_one() -> None:
            with lock:
                n = next(counter)
            pa.log_model(f"model-{n}", b"tiny model " + str(n).encode(), metrics=METRICS)

        rounds = max(args.rounds * 3, 21)  # single calls are short: more rounds
        single, base = interleaved(log_one, floor.one, rounds)
        model, base_m = interleaved(model_one, floor.one, rounds)
        burst_rounds = max(3, args.rounds // 2)
        many, many_base = interleaved(lambda: burst(log_one), lambda: burst(floor.one),
                                      burst_rounds)  # fmt: skip
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return [
        Result(
            "27a log_artifact of a 1 KB dict vs the durable floor",
            single,
            base,
            2.0,
            note=f"{cores()}; floor (1 KB write + fsync + dir fsync + SQLite WAL "
            f"INSERT/commit) {base:.2f} ms",
        ),
        Result(
            "27a log_model, 5 metrics vs the durable floor",
            model,
            base_m,
            2.0,
            note=f"{cores()}; floor {base_m:.2f} ms",
        ),
        Result(
            f"27a burst of {BURST:,} log_artifact from {THREADS} threads vs the floor's",
            many,
            many_base,
            2.0,
            note=f"{cores()}; {BURST / many * 1000:,.0f} vs {BURST / many_base * 1000:,.0f} "
            f"writes/s; floor burst {many_base:.0f} ms",
        ),
    ]


BENCHMARKS = {"small": bench_small}
