"""Import time (issue 27): ``import prefect_artifacts`` and ``prefect-artifacts --help`` as whole
processes, against a bare ``python -c pass`` measured interleaved in the same run. The absolute
figures carry the targets; ``python -X importtime`` names what the package import loads."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CLI = str(Path(sys.executable).with_name("prefect-artifacts"))


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


def bench_import(work: Path, args: argparse.Namespace) -> list[Any]:
    from run import Result, interleaved

    rounds = max(args.rounds, 11)
    bare = [sys.executable, "-c", "pass"]
    package, base = interleaved(
        lambda: _run(sys.executable, "-c", "import prefect_artifacts"), lambda: _run(*bare), rounds
    )
    help_ms, help_base = interleaved(lambda: _run(CLI, "--help"), lambda: _run(*bare), rounds)
    own = _own_import()
    cores = os.cpu_count()
    return [
        Result(
            "27c import prefect_artifacts (process, ms)", package, None, 300,
            note=f"bare python {base:.0f} ms; {cores} cores; {own}",
        ),
        Result(
            "27c prefect-artifacts --help (process, ms)", help_ms, None, 500,
            note=f"bare python {help_base:.0f} ms; {cores} cores",
        ),
    ]  # fmt: skip


def _own_import() -> str:
    """The package's own import time (cumulative) under ``-X importtime``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import prefect_artifacts"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    rows = []
    for line in out.splitlines()[1:]:  # "import time: self | cumulative | name"
        _, cumulative, name = line.split("|")
        rows.append((int(cumulative), name.strip()))
    own = max(c for c, name in rows if name == "prefect_artifacts")
    return f"the package itself {own / 1000:.0f} ms"


BENCHMARKS = {"import": bench_import}
