"""Who is producing or consuming: the run-context seam.

The core knows runs only as :class:`RunInfo` records. An orchestrator integration (the Prefect
edge) installs a provider with :func:`set_run_provider`; without one, every version is produced
by the local process and no consumer is recorded.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from . import integration
from .materializers.summary import json_safe
from .models import Producer, RunInfo

PARAMETERS_MAX_BYTES = 16_384


RunProvider = Callable[[], "RunInfo | None"]
_provider: RunProvider | None = None


def set_run_provider(provider: RunProvider | None) -> RunProvider | None:
    """Install the function that tells which run is executing (None: the local process);
    returns the one it replaces."""
    global _provider
    integration.ensure()  # the integration's provider first, so that this one replaces it
    previous, _provider = _provider, provider
    return previous


def current_run() -> RunInfo | None:
    """The run executing now, or None outside any run."""
    return _provider() if _provider is not None else None


_logger_provider: Callable[[], Any] | None = None


def set_run_logger(provider: Callable[[], Any] | None) -> None:
    """Install the function returning the current run's logger (None when not in a run)."""
    global _logger_provider
    _logger_provider = provider


def run_logger() -> Any:
    """The orchestrator's logger for the current run, else the ``prefect_artifacts`` logger."""
    found = _logger_provider() if _logger_provider is not None else None
    return found if found is not None else logging.getLogger("prefect_artifacts")


def current_producer(owner: str | None = None) -> Producer:
    """The producer of a version logged now: the current run, else this process."""
    local: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "user": owner}
    run = current_run()
    if run is None:
        return Producer(kind="local", **local)
    fields = run.model_dump()
    fields["parameters"] = safe_parameters(run.parameters)
    return Producer(kind="prefect", **fields, **local)


def safe_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Run parameters made JSON-safe, each cut short when the whole exceeds 16 KiB."""
    safe = {str(k): json_safe(_summarize(v)) for k, v in parameters.items()}
    if len(json.dumps(safe, default=str)) <= PARAMETERS_MAX_BYTES:
        return safe
    per_value = max(64, PARAMETERS_MAX_BYTES // max(1, len(safe)) - 32)
    out: dict[str, Any] = {}
    for name, value in safe.items():
        text = json.dumps(value, default=str)
        out[name] = value if len(text) <= per_value else text[: per_value - 1] + "…"
    return out


def _summarize(value: Any) -> Any:
    """Large objects (frames, arrays, models) become a short description, not their content."""
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (list, tuple)) and len(value) <= 100:
        return [_summarize(v) for v in value]
    if isinstance(value, dict) and len(value) <= 100:
        return {str(k): _summarize(v) for k, v in value.items()}
    shape = getattr(value, "shape", None)
    name = f"{type(value).__module__}.{type(value).__qualname__}"
    return f"<{name} shape={tuple(shape)}>" if shape is not None else f"<{name}>"
