"""Benchmarks: each compares ours with a bare baseline measured in the same process,
interleaved, median of several rounds after a warm-up (or, for catalog queries and memory, an
absolute figure against its target). Prints a table and writes it to benchmarks/results/.

    ./run.sh bench                  all of them (about 15 minutes on 2 cores)
    ./run.sh bench -k load -k s3    those whose name contains "load" or "s3" (latest.md keeps
                                    the earlier rows of the others)
    ./run.sh bench --quick          smaller scales (list up to 100k versions, a 250 MB frame)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
os.environ.setdefault("PREFECT_ARTIFACTS_REGISTRATION", "background")


@dataclass
class Result:
    name: str
    ours: float
    baseline: float | None  # None: an absolute figure (ms, or a ratio for memory)
    target: float | None
    unit: str = "ms"
    note: str = ""
    group: str = ""  # the BENCHMARKS entry that measured it

    @property
    def value(self) -> float:
        return self.ours / self.baseline if self.baseline else self.ours

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "met" if self.value <= self.target else "missed"

    def row(self) -> str:
        shown = f"{self.value:.2f}x" if self.baseline else f"{self.value:.2f} {self.unit}"
        base = f"{self.baseline:9.1f}" if self.baseline else " " * 9
        target = (
            f"<= {self.target}{'x' if self.baseline else ' ' + self.unit}"
            if self.target is not None
            else "-"
        )
        return (
            f"{self.name:<58} {self.ours:9.1f} {base} {shown:>11}  {target:<12} "
            f"{self.verdict}{'  (' + self.note + ')' if self.note else ''}"
        )


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


def median_ms(fn: Callable[[], object], rounds: int) -> float:
    fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def frame(rows: int = 1_000_000, seed: int = 0) -> pd.DataFrame:
    """The issues' frame: float, int, 3-value string, float."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.integers(0, 1_000_000, rows),
            "c": rng.choice(["red", "green", "blue"], rows),
            "d": rng.random(rows),
        }
    )


def repository(
    root: Path,
    catalog_url: str | None = None,
    storage_url: str | None = None,
    options: dict | None = None,
):
    from prefect_artifacts import Repository
    from prefect_artifacts.core.catalog import Catalog
    from prefect_artifacts.core.storage import Storage

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return Repository(
        Storage.from_url(storage_url or str(root / "store"), options),
        Catalog(catalog_url or f"sqlite:///{root / 'c.db'}"),
    )


# -- 1-3: datasets -----------------------------------------------------------------------------
def bench_log_dataset(work: Path, args: argparse.Namespace) -> list[Result]:
    from prefect_artifacts import ArtifactContext

    df = frame()
    repo = repository(work / "log")
    ctx = ArtifactContext(repo)
    counter = iter(range(10**6))
    blobs = Path(repo.storage.path("blobs"))
    ours, base = interleaved(
        lambda: ctx.log_dataset(f"frame-{next(counter)}", df, stats=True),
        lambda: df.to_parquet(work / "bare.parquet"),
        args.rounds,
        setup=lambda: shutil.rmtree(blobs, ignore_errors=True),  # a first log each time
    )
    return [Result("1 log_dataset(stats=True) 1M x 4 vs df.to_parquet", ours, base, 1.15)]


def bench_load(work: Path, args: argparse.Namespace) -> list[Result]:
    from prefect_artifacts import ArtifactContext

    df = frame()
    repo = repository(work / "load")
    ArtifactContext(repo).log_dataset("frame", df, stats=False)
    df.to_parquet(work / "bare.parquet")
    ours, base = interleaved(
        lambda: repo.get("frame").load(),
        lambda: pd.read_parquet(work / "bare.parquet"),
        args.rounds,
    )
    return [Result("2 get_artifact().load() 1M x 4 vs pd.read_parquet", ours, base, 1.05)]


def bench_relog(work: Path, args: argparse.Namespace) -> list[Result]:
    from prefect_artifacts import ArtifactContext

    df, other = frame(), frame(seed=1)
    repo = repository(work / "relog")
    ctx = ArtifactContext(repo)
    blobs = Path(repo.storage.path("blobs"))

    def stored() -> int:
        return sum(p.stat().st_size for p in blobs.rglob("*") if p.is_file())

    ctx.log_dataset("same", df, stats=True)
    before = stored()

    def first_log(counter=iter(range(10**6))) -> None:
        n = next(counter)
        other.loc[0, "a"] = n  # new content, same shape: a genuine first log of a new key
        ctx.log_dataset(f"first-{n}", other, stats=True)

    ours, base = interleaved(
        lambda: ctx.log_dataset("same", df, stats=True), first_log, args.rounds
    )
    new_bytes = stored() - before - sum(v.size for v in repo.list(key="first-*"))
    versions = len(repo.versions("same"))
    return [
        Result(
            "3 re-log an identical 1M x 4 frame vs its first log",
            ours,
            base,
            0.3,
            note=f"new bytes stored by re-logs: {new_bytes}; versions: {versions}",
        )
    ]


# -- 4: the Prefect flow ---------------------------------------------------------------------------
def bench_flow(work: Path, args: argparse.Namespace) -> list[Result]:
    os.environ["PREFECT_HOME"] = str(work / "prefect-home")
    os.environ["PREFECT_ARTIFACTS_STORAGE_URL"] = str(work / "flow" / "store")
    os.environ["PREFECT_ARTIFACTS_CATALOG_URL"] = f"sqlite:///{work / 'flow' / 'c.db'}"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    from prefect import flow, task
    from prefect.testing.utilities import prefect_test_harness

    import prefect_artifacts as pa

    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame(
            {
                "x": rng.normal(size=10_000),
                "y": rng.integers(0, 9, 10_000),
                "s": rng.choice(["a", "b", "c"], 10_000),
            }
        )
        for _ in range(20)
    ]
    run = {"n": 0}

    @pa.artifact_task(key="part-{parameters[i]}")
    def ours_task(i: int, salt: int) -> pd.DataFrame:
        return frames[i].assign(run=salt)

    @task(persist_result=True)
    def plain_task(i: int, salt: int) -> pd.DataFrame:
        return frames[i].assign(run=salt)

    @flow
    def ours_flow(salt: int) -> None:
        for i in range(20):
            ours_task(i, salt)

    @flow
    def plain_flow(salt: int) -> None:
        for i in range(20):
            plain_task(i, salt)

    def ours() -> None:
        run["n"] += 1
        ours_flow(run["n"])

    def plain() -> None:
        run["n"] += 1
        plain_flow(run["n"])

    with prefect_test_harness(server_startup_timeout=120):
        # registration is off the critical path: it is sent in the background once logging
        # pauses; it is flushed (untimed) between rounds so rounds do not overlap
        ours_ms, plain_ms = interleaved(
            ours, plain, max(5, args.rounds // 2), setup=pa.flush_registrations
        )
        ours()
        started = time.perf_counter()
        pa.flush_registrations()
        cards_ms = (time.perf_counter() - started) * 1000
    return [
        Result(
            "4 flow of 20 @artifact_task (10k rows) vs @task(persist_result)",
            ours_ms,
            plain_ms,
            1.2,
            note=f"then {cards_ms:.0f} ms in the background to register the "
            "20 versions' cards, tables and events with Prefect",
        ),
    ]


# -- 5: catalog queries at scale -------------------------------------------------------------------
def bench_list(work: Path, args: argparse.Namespace) -> list[Result]:
    from fastapi.testclient import TestClient
    from populate import populate

    from prefect_artifacts.web import create_app

    scales = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    results = []
    for backend in ("sqlite", "postgres"):
        for n in scales:
            url = _fresh_pg("pa_bench_list") if backend == "postgres" else None
            repo = repository(work / f"list-{backend}-{n}", catalog_url=url)
            started = time.perf_counter()
            populate(repo.catalog, n)
            filled = time.perf_counter() - started
            since = datetime.now(UTC) - timedelta(days=7)
            latest = {"labels": {"team": "ml"}, "since": since, "limit": 50}
            ms = median_ms(lambda r=repo, q=latest: r.list(**q), args.rounds * 3)
            every = median_ms(
                lambda r=repo, q=latest: r.list(**q, all_versions=True), args.rounds * 3
            )
            results.append(
                Result(
                    f"5 list_artifacts(labels, since) {backend} {n:>9,} versions",
                    ms,
                    None,
                    50.0 if n == 1_000_000 else None,
                    note=f"all_versions {every:.1f} ms; filled in {filled:.0f}s",
                )
            )
            if n == 100_000:
                client = TestClient(create_app(repo))
                page = median_ms(
                    lambda client=client: client.get(
                        "/api/projects/default/artifacts",
                        params={
                            "labels": "team=ml",
                            "offset": 950,
                            "limit": 50,
                            "all_versions": "true",
                        },
                    ).raise_for_status(),
                    args.rounds * 2,
                )
                results.append(
                    Result(
                        f"  UI API page 20 of a label search, {backend} 100k",
                        page,
                        None,
                        None,
                        note="with the total count",
                    )
                )
            repo.catalog.dispose()
    return results


def _fresh_pg(name: str) -> str:
    import sqlalchemy as sa

    admin = sa.create_engine(
        "postgresql+psycopg://root@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"postgresql+psycopg://root@127.0.0.1:5432/{name}"


# -- 6: memory ------------------------------------------------------------------------------------
def bench_memory(work: Path, args: argparse.Namespace) -> list[Result]:
    rows = 6_000_000 if args.quick else 25_000_000
    probe = HERE / "memory_probe.py"

    def run(mode: str) -> dict:
        out = subprocess.run(
            [sys.executable, str(probe), mode, str(rows), str(work / "mem")],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    (work / "mem").mkdir(exist_ok=True)
    logged = run("log")
    frame_rss = logged["before"] - logged["base"]
    ratio = (logged["peak"] - logged["base"]) / frame_rss
    loaded, bare = run("load"), run("bare")
    load_ratio = (loaded["peak"] - loaded["base"]) / (bare["peak"] - bare["base"])
    return [
        Result(
            f"6 peak memory logging a {frame_rss / 1e9:.2f} GB frame / the frame",
            ratio,
            None,
            1.5,
            unit="x",
            note=f"peak {(logged['peak'] - logged['base']) / 1e9:.2f} GB",
        ),
        Result(
            "  peak memory loading it / bare pd.read_parquet's peak",
            load_ratio,
            None,
            None,
            unit="x",
        ),
    ]


# -- 7: S3 ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def moto_s3(bucket: str) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A moto S3 server on loopback (in this process) with ``bucket`` created: yields an s3fs
    filesystem and the storage options that reach it."""
    import s3fs
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        options = {
            "client_kwargs": {"endpoint_url": f"http://{host}:{port}"},
            "key": "k",
            "secret": "s",
        }
        fs = s3fs.S3FileSystem(**options)
        fs.call_s3("create_bucket", Bucket=bucket)
        yield fs, options
    finally:
        server.stop()


def bench_s3(work: Path, args: argparse.Namespace) -> list[Result]:
    import io

    from prefect_artifacts import ArtifactContext

    with moto_s3("bench") as (fs, options):
        repo = repository(work / "s3", storage_url="s3://bench/store", options=options)
        df = frame()
        buffer = io.BytesIO()
        df.to_parquet(buffer)
        data = buffer.getvalue()
        counter = iter(range(10**6))

        def serialize_and_put() -> None:
            out = io.BytesIO()
            df.to_parquet(out)
            fs.pipe(f"bench/bare/{uuid.uuid4().hex}", out.getvalue())

        ours, base = interleaved(
            lambda: ArtifactContext(repo).log_dataset(f"f-{next(counter)}", df, stats=True),
            serialize_and_put,
            max(5, args.rounds // 2),
            setup=lambda: [fs.rm(p) for p in fs.find("bench/store/blobs")],
        )
        put = median_ms(
            lambda: fs.pipe(f"bench/bare/{uuid.uuid4().hex}", data), max(5, args.rounds // 2)
        )
        version = ArtifactContext(repo).log_dataset("to-load", df, stats=False)
        load, get = interleaved(
            lambda: repo.get("to-load").load(),
            lambda: pd.read_parquet(io.BytesIO(fs.cat(repo.storage.blob_path(version.hash)))),
            max(5, args.rounds // 2),
        )
        mb = len(data) / 1e6
        return [
            Result(
                "7 S3 log_dataset 1M x 4 vs to_parquet + s3fs put",
                ours,
                base,
                None,
                note=f"{mb / ours * 1000:.0f} vs {mb / base * 1000:.0f} MB/s of Parquet; "
                f"{ours / put:.2f}x the put alone ({put:.0f} ms)",
            ),
            Result(
                "  S3 load vs s3fs get + pd.read_parquet",
                load,
                get,
                None,
                note=f"{mb / load * 1000:.0f} vs {mb / get * 1000:.0f} MB/s",
            ),
        ]


# -- reliability figure: reindex ----------------------------------------------------------------------
def bench_reindex(work: Path, args: argparse.Namespace) -> list[Result]:
    import sqlalchemy as sa

    from prefect_artifacts import ArtifactContext
    from prefect_artifacts.core.catalog import Catalog
    from prefect_artifacts.core.maintenance import reindex

    n = 2_000 if args.quick else 10_000
    repo = repository(work / "reindex")
    ctx = ArtifactContext(repo)
    for i in range(n):
        ctx.log_artifact(
            f"key-{i % 500}",
            f"content {i}".encode(),
            labels={"i": str(i % 7)},
            tag="latest-run" if i % 10 == 0 else None,
        )
    metadata = sa.MetaData()
    metadata.reflect(repo.catalog.engine)
    metadata.drop_all(repo.catalog.engine)
    lost = Catalog(repo.catalog.url)
    from prefect_artifacts import Repository

    started = time.perf_counter()
    report = reindex(Repository(repo.storage, lost))
    seconds = time.perf_counter() - started
    assert report.versions_restored == n, report
    return [
        Result(
            f"reindex {n:,} versions (local storage, SQLite)",
            seconds * 1000 * 10_000 / n,
            None,
            None,
            note=f"{seconds:.1f}s for {n:,}: ms per 10,000 versions",
        )
    ]


BENCHMARKS: dict[str, Callable[[Path, argparse.Namespace], list[Result]]] = {
    "log_dataset": bench_log_dataset,
    "load": bench_load,
    "relog": bench_relog,
    "flow": bench_flow,
    "list": bench_list,
    "memory": bench_memory,
    "s3": bench_s3,
    "reindex": bench_reindex,
    "ui": __import__("bench_ui").bench_ui,
    **__import__("bench_models").BENCHMARKS,  # issue 12: compare, update_model, plotly
    **__import__("bench_tracking").BENCHMARKS,  # issue 25: log_metric throughput
    "bigdata": __import__("bench_bigdata").bench_bigdata,
    "bigdata_split": __import__("bench_bigdata").bench_split,
    **__import__("bench_import").BENCHMARKS,  # issue 27: import time
    **__import__("bench_small").BENCHMARKS,  # issue 27: small artifacts vs the durable floor
    **__import__("bench_prefect").BENCHMARKS,  # issues 23, 27: a mapped flow, a sweep
    **__import__("bench_scale").BENCHMARKS,  # issue 27: a catalog of 10M versions
}
from bench_perf import PERF_BENCHMARKS  # noqa: E402 - issue 15: load/log/S3/result storage

BENCHMARKS.update(PERF_BENCHMARKS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-k",
        action="append",
        default=[],
        help="run benchmarks whose name contains this (repeatable)",
    )
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds (median)")
    parser.add_argument("--quick", action="store_true", help="smaller scales")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pa-bench-"))
    os.environ.setdefault("PREFECT_ARTIFACTS_VERIFIED_STATE", str(work / "verified-state.db"))
    results: list[Result] = []
    print(f"{'benchmark':<58} {'ours':>9} {'baseline':>9} {'value':>11}  {'target':<12} verdict")
    try:
        for name, bench in BENCHMARKS.items():
            if not args.k or any(k in name for k in args.k):
                for result in bench(work, args):
                    result.group = name
                    results.append(result)
                    print(result.row(), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        write(results, args)
    return 0


VERDICTS = {"ok": "met", "MISSED": "missed"}  # the names earlier runs wrote


def write(results: list[Result], args: argparse.Namespace) -> None:
    """Append to history.jsonl; rewrite latest.md (and latest.json) with this run's rows, plus,
    after a partial run (``-k``), the previous rows of the benchmarks it did not run."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    machine = f"{platform.node()} {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    rows = [
        {
            "at": stamp,
            "machine": machine,
            "rounds": args.rounds,
            "quick": args.quick,
            **asdict(r),
            "value": round(r.value, 4),
            "verdict": r.verdict,
        }
        for r in results
    ]
    with (RESULTS / "history.jsonl").open("a") as fh:
        fh.writelines(json.dumps(row) + "\n" for row in rows)
    ran = {r.group for r in results}
    latest = RESULTS / "latest.json"
    if args.k and latest.exists():
        kept = [row for row in json.loads(latest.read_text()) if row.get("group") not in ran]
        for row in kept:  # rows from before the verdicts were named met / missed
            row["verdict"] = VERDICTS.get(row["verdict"], row["verdict"])
        rows = kept + rows
        order = list(BENCHMARKS)
        rows.sort(key=lambda row: order.index(row["group"]) if row["group"] in order else 99)
    latest.write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        f"# Benchmark results ({machine}; medians; each row says when it ran)",
        "",
        "| benchmark | ours | baseline | value | target | verdict | note | run |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]
    for row in rows:
        unit, baseline, target = row["unit"], row["baseline"], row["target"]
        value = f"{row['value']:.2f}x" if baseline else f"{row['value']:.2f} {unit}"
        goal = "-" if target is None else f"≤ {target}{'x' if baseline else ' ' + unit}"
        base = f"{baseline:.1f} {unit}" if baseline else ""
        scale = f"median of {row['rounds']}{', quick' if row['quick'] else ''}"
        lines.append(
            f"| {row['name'].strip()} | {row['ours']:.1f} {unit} | {base} | {value} | {goal} "
            f"| {row['verdict']} | {row['note']} | {row['at'][:16]} ({scale}) |"
        )
    (RESULTS / "latest.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
