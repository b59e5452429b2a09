"""A new user's first run: the README's main command (``./run.sh demo``) on a fresh
``PREFECT_HOME``, where Prefect's temporary server first has to create its database."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the demo on a fresh PREFECT_HOME

ROOT = Path(__file__).resolve().parent.parent


def demo(home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PA_"))}
    env["PREFECT_HOME"] = str(home)
    return subprocess.run(
        ["./run.sh", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )


def test_the_main_job_works_on_a_fresh_prefect_home(tmp_path):
    first = demo(tmp_path / "prefect-home")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-4000:]
    assert "Timed out while attempting to connect" not in first.stderr
    assert "Traceback" not in first.stderr, first.stderr[-4000:]
    logged = re.findall(r"^\s+(\w+)\s+(\S+):(\d+)", first.stdout, re.MULTILINE)
    assert {kind for kind, _, _ in logged} >= {"dataset", "model", "plot"}, first.stdout
    assert "model default/churn-model:" in first.stdout and "Where to look:" in first.stdout
