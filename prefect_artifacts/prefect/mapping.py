"""Versions of a mapped ``@artifact_task`` numbered in map order.

``.map()`` submits its task runs in order but they finish in any order, and a version gets its
number when it commits. So each ``.map()`` of an ``@artifact_task`` registers its task runs, in
order, before the flow moves on; a mapped run that is ready to log names the keys it will log and
waits until each run before it in the same ``.map()`` has logged (or ended, whatever its state)
or has named other keys: runs logging different keys (``key="shard-{parameters[i]}"``) log side
by side. Task runs in this process
only (Prefect's default thread-pool runner); runs on other workers (Dask, Ray) log in commit
order. A key template over the task's parameters alone (``"shard-{parameters[i]}"``) names each
run's keys when the ``.map()`` is submitted, so runs of different keys never wait for one
another. The wait holds the task's thread, not its work: with fewer threads than mapped runs, a
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
    logged: set[str] = field(default_factory=set)
    keys: dict[str, frozenset[str] | None] = field(default_factory=dict)  # named by each run
    changed: threading.Condition = field(default_factory=threading.Condition)


_cond = threading.Condition()
_submitting: Counter[tuple[str, str]] = Counter()  # maps being submitted, per (flow run, task)
_members: dict[str, tuple[_Group, int]] = {}  # task run id → (its group, its position)


def begin(flow_run_id: str, task_key: str) -> tuple[str, str]:
    """A ``.map()`` is about to submit: its runs wait for :func:`register` before logging."""
    token = (flow_run_id, task_key)
    with _cond:
        _submitting[token] += 1
    return token


def register(
    token: tuple[str, str],
    futures: list[Any],
    keys: list[frozenset[str] | None] | None = None,
) -> None:
    """The submitted runs, in map order; ``keys``: the keys each will log, when known now."""
    ids = [str(f.task_run_id) for f in futures]
    group = _Group(ids, dict(zip(ids, futures, strict=True)))
    if keys is not None and len(keys) == len(ids):
        named = zip(ids, keys, strict=True)
        group.keys.update((run_id, ks) for run_id, ks in named if ks is not None)
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


def wait_turn(
    flow_run_id: str, task_key: str, task_run_id: str, keys: frozenset[str] | None = None
) -> None:
    """Before a mapped run logs ``keys`` (None: not known, any key): wait until each run before
    it in its ``.map()`` has logged or ended, or has named keys other than these. Returns at
    once for a run that is not part of a ``.map()`` here."""
    with _cond:
        while task_run_id not in _members and _submitting.get((flow_run_id, task_key)):
            _cond.wait(1.0)
        entry = _members.get(task_run_id)
    if entry is None:
        return
    group, position = entry
    with group.changed:
        group.keys[task_run_id] = keys
        group.changed.notify_all()
    for earlier in group.ids[:position]:
        future = group.futures[earlier]
        with group.changed:
            while earlier not in group.logged and not _apart(group.keys, earlier, keys):
                if group.changed.wait(POLL_SECONDS):
                    continue
                wrapped = getattr(future, "wrapped_future", None)
                if wrapped is None or wrapped.done():  # ended without logging (failed, skipped)
                    break


def _apart(
    named: dict[str, frozenset[str] | None], earlier: str, keys: frozenset[str] | None
) -> bool:
    """Whether the run ``earlier`` has named keys, none of them in ``keys``."""
    theirs = named.get(earlier)
    return keys is not None and theirs is not None and not (theirs & keys)


def done(task_run_id: str) -> None:
    """This run has logged (or ended): the runs after it may log."""
    with _cond:
        entry = _members.pop(task_run_id, None)
    if entry is not None:
        group = entry[0]
        with group.changed:
            group.logged.add(task_run_id)
            group.changed.notify_all()


def sweep_if_last(task_run_id: str) -> list[str] | None:
    """Every run of this run's ``.map()`` when it is the last one in map order (it logs after
    all the others have logged or ended), else None."""
    with _cond:
        entry = _members.get(task_run_id)
    if entry is None:
        return None
    group, position = entry
    return list(group.ids) if position == len(group.ids) - 1 else None
