"""Child processes for crash and concurrency tests, forked from a server that has already
imported the package (``multiprocessing``'s forkserver): a child starts in milliseconds instead
of re-importing pandas, pyarrow and SQLAlchemy, and is still a process of its own (its own
connections, file handles and exit)."""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import tempfile
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

PRELOAD = [
    "pandas",
    "pyarrow.parquet",
    "prefect_artifacts.core.repository",
    "prefect_artifacts.core.catalog",
    "prefect_artifacts.core.storage",
    "prefect_artifacts.core.context",
    "prefect_artifacts.core.maintenance",
    "tests.children",
]


def context() -> BaseContext:
    """The forkserver context, its server preloaded with the package (started once per
    test process, on first use)."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def run(code: str, env: dict[str, str] | None = None, timeout: float = 120) -> tuple[int, str]:
    """Run ``code`` in a forked child with ``env`` added to its environment (fault points
    re-read): the child's exit code (negative: killed by that signal) and its stderr."""
    with tempfile.NamedTemporaryFile(suffix=".stderr") as err:
        child = context().Process(target=_exec, args=(code, env or {}, err.name))
        child.start()
        child.join(timeout)
        if child.is_alive():
            child.kill()
            child.join()
            raise AssertionError(f"the child did not end within {timeout} s")
        return child.exitcode or 0, Path(err.name).read_text(errors="replace")


def _exec(code: str, env: dict[str, str], err: str) -> None:
    os.dup2(os.open(err, os.O_WRONLY | os.O_APPEND), 2)
    os.environ.update(env)
    from prefect_artifacts.core import faults

    importlib.reload(faults)  # arm the points named in the environment just set
    namespace: dict[str, Any] = {"__name__": "__child__"}
    exec(compile(code, "<child>", "exec"), namespace)
