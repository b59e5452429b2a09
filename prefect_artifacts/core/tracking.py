"""Step metrics and results of runs (MLflow's ``log_metric``, MLRun's ``log_result``).

Points are buffered per repository and written in batches — when 1,000 are waiting, when the
oldest has waited a second (a background flusher), when they are read, at the end of a task
run and at exit — each batch in one transaction with its journal record, so ``reindex``
restores it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import math
import os
import re
import threading
import time
import uuid
import weakref
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import InvalidArgumentError
from .materializers.summary import json_safe
from .runs import current_run

if TYPE_CHECKING:
    from .repository import Repository

BATCH_POINTS = 1000
MAX_WAIT_SECONDS = 1.0
METRIC_NAME = re.compile(r"[^\x00-\x1f]{1,128}")
_local_run: tuple[int, str] | None = None


def current_run_id() -> str:
    """The Prefect task run id (else flow run id) executing now, or this process's own run id
    outside Prefect (one per process, kept for its lifetime)."""
    global _local_run
    run = current_run()
    if run is not None and run.run_id:
        return run.run_id
    if _local_run is None or _local_run[0] != os.getpid():
        _local_run = (os.getpid(), f"local-{uuid.uuid4().hex}")
    return _local_run[1]


def check_name(name: Any, what: str = "metric") -> str:
    if not isinstance(name, str) or not METRIC_NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"{what} name {str(name)[:40]!r} must be text of 1-128 characters without control "
            "characters, e.g. 'loss'"
        )
    return name


def check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < 2**62:
        raise InvalidArgumentError(
            f"step must be a whole number from 0, got {type(step).__name__} {str(step)[:40]!r}"
        )
    return int(step)


def check_time(timestamp: Any) -> datetime:
    """A datetime (naive = UTC) or, as MLflow's, milliseconds since the epoch."""
    if timestamp is None:
        return datetime.now(UTC)
    if isinstance(timestamp, datetime):
        return timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
    number = isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool)
    if number and math.isfinite(timestamp) and 0 <= timestamp < 2**53:
        return datetime.fromtimestamp(timestamp / 1000, UTC)
    raise InvalidArgumentError(
        f"timestamp must be a datetime or milliseconds since the epoch (MLflow's), got "
        f"{str(timestamp)[:40]!r}"
    )


class MetricBuffer:
    """Points waiting to be written, per (project, run id), for one repository."""

    def __init__(self, repo: Repository) -> None:
        self._repo = weakref.ref(repo)
        self._lock = threading.Lock()
        self._points: dict[tuple[str, str], list[tuple[str, int, float, datetime]]] = {}
        self._since: float | None = None
        self._count = 0
        self._steps: dict[tuple[str, str, str], int] = {}
        self._flushing = threading.Lock()
        _buffers.add(self)
        _start_flusher()

    def add(self, project: str, run_id: str, values: dict[str, Any], step: Any, at: Any) -> None:
        metric_value = _metric_value()
        when = check_time(at)
        given = None if step is None else check_step(step)
        checked = []
        for name, value in values.items():
            check_name(name)
            number = value if type(value) is float and math.isfinite(value) else None
            checked.append((name, metric_value(name, value) if number is None else number))
        _tracked.add(run_id)
        with self._lock:
            points = self._points.setdefault((project, run_id), [])
            for name, number in checked:
                ident = (project, run_id, name)
                n = self._steps.get(ident, -1) + 1 if given is None else given
                self._steps[ident] = n
                points.append((name, n, number, when))
            if self._since is None:
                self._since = time.monotonic()
            self._count += len(checked)
            full = self._count >= BATCH_POINTS
        if full:
            self.flush()

    def due(self) -> bool:
        return self._since is not None and time.monotonic() - self._since >= MAX_WAIT_SECONDS

    def flush(self) -> int:
        """Write every waiting point (one transaction per run); returns how many."""
        repo = self._repo()
        with self._flushing:
            with self._lock:
                taken, self._points, self._since, self._count = self._points, {}, None, 0
            if repo is None or not taken:
                return 0
            written = 0
            try:
                for (project, run_id), points in taken.items():
                    repo.catalog.add_metrics(project, run_id, points, {})
                    written += len(points)
            except BaseException:
                with self._lock:  # kept for the next flush: nothing is lost to a failed write
                    for ident, points in taken.items():
                        self._points[ident] = points + self._points.get(ident, [])
                        self._count += len(points)
                    self._since = self._since or time.monotonic()
                raise
            repo.drain()
            return written


@functools.cache
def _metric_value() -> Any:
    from .repository.validators import metric_value  # the rule log_model's metrics follow

    return metric_value


_tracked: set[str] = set()  # runs that logged points or results in this process
_buffers: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()
_flusher: threading.Thread | None = None


def _start_flusher() -> None:
    global _flusher
    if _flusher is not None and _flusher.is_alive():
        return

    def loop() -> None:
        while True:
            time.sleep(MAX_WAIT_SECONDS / 2)
            for buffer in list(_buffers):
                if buffer.due():
                    with contextlib.suppress(Exception):
                        buffer.flush()

    _flusher = threading.Thread(target=loop, name="prefect-artifacts-metrics", daemon=True)
    _flusher.start()


@atexit.register
def flush_all() -> None:
    """Write every buffered point of every repository (at exit)."""
    for buffer in list(_buffers):
        try:
            buffer.flush()
        except Exception as exc:  # at exit: say so, never a traceback
            logging.getLogger("prefect_artifacts").warning(
                "could not write %s buffered metric points: %s", buffer._count, exc
            )


def buffer_of(repo: Repository) -> MetricBuffer:
    buffer = getattr(repo, "_metric_buffer", None)
    if buffer is None:
        buffer = repo._metric_buffer = MetricBuffer(repo)  # type: ignore[attr-defined]  # one per repository, kept on it
    return buffer


def log_metrics(
    repo: Repository,
    values: dict[str, Any],
    *,
    step: Any = None,
    timestamp: Any = None,
    run_id: str | None = None,
    project: str | None = None,
) -> None:
    """Buffer points of the run ``run_id`` (default: the current run)."""
    if not isinstance(values, dict):
        raise InvalidArgumentError(
            f"log_metrics takes a dict {{'loss': 0.3}}, got {type(values).__name__}"
        )
    buffer_of(repo).add(
        project or repo.project, run_id or current_run_id(), values, step, timestamp
    )


def log_result(repo: Repository, key: str, value: Any, *, project: str | None = None) -> None:
    """Record a result of the current run (the last value per name is kept)."""
    check_name(key, "result")
    safe = json_safe(value)
    run_id = current_run_id()
    _tracked.add(run_id)
    repo.catalog.add_metrics(project or repo.project, run_id, [], {key: safe})
    repo.drain()


def run_metrics(repo: Repository, run_id: str | list[str]) -> Any:
    """A DataFrame of the run's points: ``key, step, value, timestamp`` (with ``run_id`` when
    several runs are asked for), ordered by key and step."""
    import pandas as pd

    buffer_of(repo).flush()
    ids = [run_id] if isinstance(run_id, str) else list(run_id)
    rows = repo.catalog.run_metrics(ids)
    frame = pd.DataFrame(rows, columns=["run_id", "key", "step", "value", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame if not isinstance(run_id, str) else frame.drop(columns="run_id")


def finish(repo: Repository) -> None:
    """Write this run's buffered points; inside a run that tracked anything, tell listeners
    (the Prefect edge puts a summary card on the run)."""
    from .events import RunTracked, emit

    buffer_of(repo).flush()
    run = current_run()
    if run is None or not run.run_id or run.run_id not in _tracked:
        return  # this run tracked nothing (new) in this process: no reads
    _tracked.discard(run.run_id)
    metrics, results = run_summary(repo, run.run_id), repo.catalog.run_results(run.run_id)
    if metrics or results:
        emit(RunTracked(repo, run, metrics, results))


def run_summary(repo: Repository, run_id: str) -> dict[str, dict[str, float]]:
    """Per metric: the last, minimum and maximum value and the number of points."""
    return run_summaries(repo, [run_id])[run_id]


def run_summaries(repo: Repository, run_ids: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """:func:`run_summary` of each run, read in one query."""
    buffer_of(repo).flush()
    out: dict[str, dict[str, dict[str, float]]] = {run_id: {} for run_id in run_ids}
    for run_id, key, _step, value, _ in repo.catalog.run_metrics(sorted(set(run_ids))):
        item = out[run_id].setdefault(key, {"last": value, "min": value, "max": value, "points": 0})
        item.update(last=value, min=min(item["min"], value), max=max(item["max"], value))
        item["points"] += 1
    return out
