"""Multi-part datasets (#14), each against a bare baseline in the same run:

- streaming log of a generator (``PA_BENCH_BIGDATA_GB``, default 3 GB of Arrow data; 0.2 with
  --quick): peak RSS ≤ 600 MB and time ≤ 1.2× a bare ``pyarrow.parquet.ParquetWriter`` writing
  the same batches (each measured in a fresh child process);
- Dask ``LocalCluster`` (2 worker processes): ``log_dataset(ddf)`` vs ``ddf.to_parquet`` to the
  same place, local and moto S3 (``PA_BENCH_DASK_GB``, default 2; 0.1 with --quick) ≤ 1.2×;
- push-down from S3: 1 of 20 columns with a filter selecting ~5 % of rows transfers ≤ 15 % of
  the version's bytes (counted at s3fs's range reads) and takes ≤ 0.3× a full ``load()``;
- incremental: appending 1 partition to a 50-partition version stores ≤ 1.05× the new part.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd


def Result(*args, **kwargs):
    from run import Result as _Result

    return _Result(*args, **kwargs)


def repository(*args, **kwargs):
    from run import repository as _repository

    return _repository(*args, **kwargs)


BATCH_ROWS = 250_000  # 4 float/int columns + 1 string: ~9 MB of Arrow data per batch


def batch(i: int, rows: int = BATCH_ROWS):
    import pyarrow as pa

    rng = np.random.default_rng(i)
    return pa.record_batch(
        {
            "id": np.arange(i * rows, (i + 1) * rows, dtype=np.int64),
            "a": rng.normal(size=rows),
            "b": rng.integers(0, 1_000_000, rows),
            "c": pa.array(rng.choice(["red", "green", "blue"], rows)),
            "d": rng.random(rows),
        }
    )


def peak_rss_mb() -> float:
    """This process's own peak RSS in MB: ``VmHWM`` of ``/proc/self/status`` on Linux.

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: on Linux a child's ``ru_maxrss`` keeps the
    high-water mark of the memory it was spawned from (the fork/vfork before ``exec``), so a
    child started by a runner that once peaked at 1 GB reports at least 1 GB whatever it uses.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: ru_maxrss (KB on Linux, bytes on macOS)
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _stream_child(mode: str, gigabytes: float, folder: str) -> None:
    """Run in a fresh process: write ``gigabytes`` of batches; print seconds and peak RSS."""
    import pyarrow.parquet as pq

    count = max(1, int(gigabytes * 1e9 / batch(0).nbytes))
    if mode != "bare":  # opening the repository (catalog creation) is not part of the log
        from prefect_artifacts import ArtifactContext

        context = ArtifactContext(repository(Path(folder) / "repo"))
    start = time.perf_counter()
    if mode == "bare":
        with pq.ParquetWriter(Path(folder) / "bare.parquet", batch(0).schema) as writer:
            for i in range(count):
                writer.write_batch(batch(i))
    else:
        context.log_dataset("stream", (batch(i) for i in range(count)))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rss_mb": peak_rss_mb()}))


def _child(mode: str, gigabytes: float, work: Path) -> dict:
    folder = work / f"stream-{mode}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"import bench_bigdata as b; b._stream_child({mode!r}, {gigabytes}, {str(folder)!r})"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_bigdata(work: Path, args: argparse.Namespace) -> list[Result]:
    logging.getLogger("distributed").setLevel(logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    gb = float(os.environ.get("PA_BENCH_BIGDATA_GB", "0.2" if args.quick else "3"))
    dask_gb = float(os.environ.get("PA_BENCH_DASK_GB", "0.1" if args.quick else "2"))
    print(f"# bigdata: {os.cpu_count()} cores, streaming {gb} GB, Dask {dask_gb} GB", flush=True)
    results = []
    bare = _child("bare", gb, work)
    ours = _child("ours", gb, work)
    results.append(
        Result(
            f"stream log {gb} GB vs bare ParquetWriter",
            ours["seconds"] * 1000,
            bare["seconds"] * 1000,
            1.2,
        )
    )
    results.append(Result(f"stream log {gb} GB: peak RSS", ours["rss_mb"], None, 600, unit="MB"))
    results += _dask(work, dask_gb)
    return results


def _dask(work: Path, gigabytes: float) -> list[Result]:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster
    from run import moto_s3

    from prefect_artifacts import ArtifactContext

    results = []
    partitions = max(2, int(gigabytes * 1e9 / batch(0).nbytes))
    with (
        moto_s3("bigdata") as (fs, options),
        LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster),
    ):  # fmt: skip
        ddf = dd.from_map(lambda i: batch(i).to_pandas(), range(partitions))
        for where in ("local", "s3"):
            if where == "local":
                repo = repository(work / "dask-local")
                target, storage_options = str(work / "dask-bare"), None
            else:
                repo = repository(
                    work / "dask-s3", storage_url="s3://bigdata/store", options=options
                )
                target, storage_options = "s3://bigdata/bare", options
            start = time.perf_counter()
            ddf.to_parquet(f"{target}-{uuid.uuid4().hex[:6]}", storage_options=storage_options)
            bare = time.perf_counter() - start
            start = time.perf_counter()
            ArtifactContext(repo).log_dataset(f"ddf-{where}", ddf)
            ours = time.perf_counter() - start
            results.append(
                Result(
                    f"Dask log {gigabytes} GB to {where} vs ddf.to_parquet",
                    ours * 1000,
                    bare * 1000,
                    1.2,
                )
            )
        results += _push_down(repo, fs)
        results += _incremental(work)
    return results


def _push_down(repo, fs) -> list[Result]:
    """20 columns, a filter selecting ~5 % of the rows (sorted by the filtered column)."""
    import s3fs.core

    from prefect_artifacts import ArtifactContext

    rows = 2_000_000
    rng = np.random.default_rng(3)
    df = pd.DataFrame({f"c{i}": rng.random(rows) for i in range(19)})
    df.insert(0, "key", np.arange(rows))
    batches = (df.iloc[i : i + 100_000] for i in range(0, rows, 100_000))
    v = ArtifactContext(repo).log_dataset("wide", batches)
    counted = {"bytes": 0}
    original = s3fs.core.S3File._fetch_range

    def counting(self, start, end):
        data = original(self, start, end)
        counted["bytes"] += len(data)
        return data

    s3fs.core.S3File._fetch_range = counting
    try:
        start = time.perf_counter()
        part = v.load(columns=["c1"], filters=[("key", "<", rows // 20)])
        partial = time.perf_counter() - start
        transferred = counted["bytes"]
    finally:
        s3fs.core.S3File._fetch_range = original
    assert len(part) == rows // 20
    start = time.perf_counter()
    v.load()
    full = time.perf_counter() - start
    return [
        Result(
            "push-down: bytes fetched / version bytes", transferred / v.size, None, 0.15, unit="x"
        ),
        Result(
            "push-down: 1 of 20 columns, 5 % of rows vs full load", partial * 1000, full * 1000, 0.3
        ),
    ]


def _incremental(work: Path) -> list[Result]:
    import dask.dataframe as dd

    from prefect_artifacts import ArtifactContext

    repo = repository(work / "incremental")
    parts = [dd.from_pandas(batch(i, 20_000).to_pandas(), npartitions=1) for i in range(51)]
    ArtifactContext(repo).log_dataset("inc", dd.concat(parts[:50]))
    before = sum(
        p.stat().st_size for p in (work / "incremental").rglob("blobs/**/*") if p.is_file()
    )
    v = ArtifactContext(repo).log_dataset("inc", dd.concat(parts))
    after = sum(p.stat().st_size for p in (work / "incremental").rglob("blobs/**/*") if p.is_file())
    new_part = v.parts[-1].size
    return [
        Result(
            "incremental: bytes stored appending 1 of 51 parts / new part",
            after - before,
            new_part,
            1.05,
        )
    ]


# -- splitting one large in-memory frame into parts (issue #14: "measure whether that helps") --
def bench_split(work: Path, args: argparse.Namespace) -> list[Result]:
    """One pandas frame of ``PA_BENCH_SPLIT_MB`` MB of Arrow data (default 1000; 50 with
    --quick), logged as today (one Parquet file) and split into parts through the streaming
    path (slices of the frame, ``part_size`` 128 MB), each vs a bare ``df.to_parquet``; then a
    full ``load()`` of each vs ``pd.read_parquet`` of the bare file. Every log goes to a fresh
    repository (a re-log of identical bytes would be free); median of ``--rounds`` (at most 3)."""
    import statistics

    from run import frame

    from prefect_artifacts import ArtifactContext

    megabytes = float(os.environ.get("PA_BENCH_SPLIT_MB", "50" if args.quick else "1000"))
    rows = int(megabytes * 1e6 / 33)  # the issues' frame: about 33 bytes of Arrow data a row
    df = frame(rows)
    slice_rows = 1_000_000

    def pieces():
        for start in range(0, len(df), slice_rows):
            yield df.iloc[start : start + slice_rows]

    bare = work / "split-bare.parquet"
    times: dict[str, list[float]] = {k: [] for k in ("bare", "single", "split")}
    loads: dict[str, list[float]] = {k: [] for k in ("bare", "single", "split")}
    rounds = max(1, min(args.rounds, 3))
    repos = {}
    for i in range(rounds):
        for mode in ("bare", "single", "split") if i % 2 == 0 else ("split", "single", "bare"):
            start = time.perf_counter()
            if mode == "bare":
                df.to_parquet(bare)
            else:
                repos[mode] = repository(work / f"split-{mode}")
                context = ArtifactContext(repos[mode])
                context.log_dataset("big", df if mode == "single" else pieces())
            times[mode].append(time.perf_counter() - start)
        for mode in ("bare", "single", "split"):
            start = time.perf_counter()
            pd.read_parquet(bare) if mode == "bare" else repos[mode].get("big").load()
            loads[mode].append(time.perf_counter() - start)
    parts = repos["split"].get("big").part_count
    mb = int(megabytes)
    print(f"# bigdata_split: {os.cpu_count()} cores, {mb} MB frame ({rows:,} rows)", flush=True)
    ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
    load_ms = {k: statistics.median(v) * 1000 for k, v in loads.items()}
    return [
        Result(
            f"log one {mb} MB frame (one file) vs df.to_parquet", ms["single"], ms["bare"], None
        ),
        Result(
            f"log the same frame split into {parts} parts vs df.to_parquet",
            ms["split"],
            ms["bare"],
            None,
        ),
        Result(
            "full load() of the one file vs pd.read_parquet",
            load_ms["single"],
            load_ms["bare"],
            None,
        ),
        Result(
            f"full load() of the {parts} parts vs pd.read_parquet",
            load_ms["split"],
            load_ms["bare"],
            None,
        ),
    ]
