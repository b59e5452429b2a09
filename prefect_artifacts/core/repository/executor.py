"""The repository's thread pool: work a write or a read runs beside the caller's thread
(describing a large value while it is stored, verifying bytes while they are parsed)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def _new_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="prefect-artifacts")


_pool = _new_pool()


def submit(fn: Callable[..., T], /, *args: Any) -> Future[T]:
    """Run ``fn(*args)`` on the pool."""
    return _pool.submit(fn, *args)


def _new_pool_after_fork() -> None:
    """A forked child inherits the pool's state but not its threads: give it a fresh one."""
    global _pool
    _pool = _new_pool()


os.register_at_fork(after_in_child=_new_pool_after_fork)
