"""Versions of a mapped ``@artifact_task`` numbered in map order.

``.map()`` submits its task runs in order but they finish in any order, and a version gets its
number when it commits. So each ``.map()`` of an ``@artifact_task`` registers its task runs, in
order, before the flow moves on; a mapped run that is ready to log waits until the runs before it
in the same ``.map()`` have logged (or ended, whatever their state). Task runs in this process
only (Prefect's default thread-pool runner); runs on other workers (Dask, Ray) log in commit
order. The wait holds the task's thread, not its work: with fewer threads than mapped runs, a
slow early run can delay the start of later ones (``@artifact_task(map_order=False)`` opts out).
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

POLL_SECONDS = 0.05


@dataclass
class _Group:
    ids: list[str]
    futures: dict[str, Any]
    logged: dict[str, threading.Event] = field(default_factory=dict)


_cond = threading.Condition()
_submitting: Counter[tuple[str, str]] = Counter()  # maps being submitted, per (flow run, task)
_members: dict[str, tuple[_Group, int]] = {}  # task run id → (its group, its position)


def begin(flow_run_id: str, task_key: str) -> tuple[str, str]:
    """A ``.map()`` is about to submit: its runs wait for :func:`register` before logging."""
    token = (flow_run_id, task_key)
    with _cond:
        _submitting[token] += 1
    return token


def register(token: tuple[str, str], futures: list[Any]) -> None:
    """The submitted runs, in map order."""
    ids = [str(f.task_run_id) for f in futures]
    group = _Group(ids, dict(zip(ids, futures, strict=True)))
    group.logged = {i: threading.Event() for i in ids}
    with _cond:
        for position, run_id in enumerate(ids):
            _members[run_id] = (group, position)
        _end(token)
    for run_id, future in group.futures.items():  # ended anywhere (also on other workers)
        with contextlib.suppress(Exception):  # without callbacks: the waiting side polls
            future.add_done_callback(lambda _f, run_id=run_id: done(run_id))


def abandon(token: tuple[str, str]) -> None:
    with _cond:
        _end(token)


def _end(token: tuple[str, str]) -> None:
    _submitting[token] -= 1
    if _submitting[token] <= 0:
        del _submitting[token]
    _cond.notify_all()


def wait_turn(flow_run_id: str, task_key: str, task_run_id: str) -> None:
    """Before a mapped run logs: wait until the runs before it in its ``.map()`` have logged
    or ended. Returns at once for a run that is not part of a ``.map()`` here."""
    with _cond:
        while task_run_id not in _members and _submitting.get((flow_run_id, task_key)):
            _cond.wait(1.0)
        entry = _members.get(task_run_id)
    if entry is None:
        return
    group, position = entry
    for earlier in group.ids[:position]:
        future = group.futures[earlier]
        while not group.logged[earlier].wait(POLL_SECONDS):
            wrapped = getattr(future, "wrapped_future", None)
            if wrapped is None or wrapped.done():  # ended without logging (failed, skipped)
                break


def done(task_run_id: str) -> None:
    """This run has logged (or ended): the runs after it may log."""
    with _cond:
        entry = _members.pop(task_run_id, None)
    if entry is not None:
        entry[0].logged[task_run_id].set()


def sweep_if_last(task_run_id: str) -> list[str] | None:
    """Every run of this run's ``.map()`` when it is the last one in map order (it logs after
    all the others have logged or ended), else None."""
    with _cond:
        entry = _members.get(task_run_id)
    if entry is None:
        return None
    group, position = entry
    return list(group.ids) if position == len(group.ids) - 1 else None
