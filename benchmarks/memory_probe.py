"""Run as a script: log (or load) a large frame and print peak RSS figures as JSON.

python benchmarks/memory_probe.py log|load ROWS STORE_DIR
"""

from __future__ import annotations

import json
import os
import re
import sys


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Peak:
    """The peak resident memory of the block: the kernel's high-water mark (VmHWM), reset when
    the block starts (``/proc/self/clear_refs``), so no short peak falls between samples when
    the machine is busy."""

    def __enter__(self) -> Peak:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset the high-water mark to the current resident size
        self.value = _high_water()
        return self

    def __exit__(self, *exc: object) -> None:
        self.value = _high_water()


def _high_water() -> int:
    with open("/proc/self/status") as fh:
        return int(re.search(r"VmHWM:\s+(\d+) kB", fh.read())[1]) * 1024


def frame(rows: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    columns = {
        "a": rng.normal(size=rows),
        "b": rng.integers(0, 1_000_000, rows),
        "c": rng.choice(np.array(["red", "green", "blue"], dtype=object), rows),
        "d": rng.random(rows),
    }
    df = pd.DataFrame(columns)
    del columns
    return df


PR_SET_THP_DISABLE = 41  # linux/prctl.h


def no_huge_pages() -> None:
    """Opt this process out of transparent huge pages (``prctl(PR_SET_THP_DISABLE)``): Arrow's
    allocator asks for them, and whether it gets them made the same read peak 457 or 551 MB."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)


def main() -> None:
    mode, rows, store = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    no_huge_pages()
    import pandas as pd

    from prefect_artifacts import ArtifactContext, Repository
    from prefect_artifacts.core.catalog import Catalog
    from prefect_artifacts.core.storage import Storage

    repo = Repository(Storage.from_url(f"{store}/store"), Catalog(f"sqlite:///{store}/c.db"))
    base = rss()
    if mode == "log":
        df = frame(rows)
        size = int(df.memory_usage(deep=True).sum())
        before = rss()
        with Peak() as peak:
            ArtifactContext(repo).log_dataset("big", df, stats=True)
        print(json.dumps({"frame_bytes": size, "base": base, "before": before, "peak": peak.value}))
    elif mode == "load":
        with Peak() as peak:
            df = repo.get("big").load()
        print(
            json.dumps(
                {
                    "frame_bytes": int(df.memory_usage(deep=True).sum()),
                    "base": base,
                    "peak": peak.value,
                }
            )
        )
    else:  # bare pd.read_parquet of the same file, for comparison
        path = repo.storage.blob_path(repo.get("big").hash)
        with Peak() as peak:
            df = pd.read_parquet(path)
        print(
            json.dumps(
                {
                    "frame_bytes": int(df.memory_usage(deep=True).sum()),
                    "base": base,
                    "peak": peak.value,
                }
            )
        )


if __name__ == "__main__":
    main()
