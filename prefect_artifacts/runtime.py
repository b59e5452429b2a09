"""Which Prefect run, if any, is executing: the producer and consumer of artifacts.

Prefect is only imported when it already is: a process that never imported Prefect is not
inside a Prefect run, so the core works without paying Prefect's import time.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any

from .models import Producer

PARAMETERS_MAX_BYTES = 16_384


def current_run() -> dict[str, Any] | None:
    """Ids and names of the current flow run and task run, or None outside Prefect."""
    if "prefect.context" not in sys.modules:
        return None
    from prefect.context import FlowRunContext, TaskRunContext

    task_ctx = TaskRunContext.get()
    flow_ctx = FlowRunContext.get()
    if task_ctx is None and (flow_ctx is None or flow_ctx.flow_run is None):
        return None
    run: dict[str, Any] = {}
    flow_run = flow_ctx.flow_run if flow_ctx else None
    if (
        task_ctx is not None
        and flow_run is not None
        and flow_run.id != task_ctx.task_run.flow_run_id
    ):
        task_ctx = None  # a subflow called from inside a task: the subflow is what runs
    if flow_run is not None:
        run.update(
            flow_run_id=str(flow_run.id),
            flow_run_name=flow_run.name,
            flow_name=flow_ctx.flow.name if flow_ctx.flow else None,
            deployment_id=str(flow_run.deployment_id) if flow_run.deployment_id else None,
            parameters=flow_ctx.parameters or {},
            tags=sorted(flow_run.tags or []),
        )
    ui = _ui_url()
    if ui and run.get("flow_run_id"):
        run["ui_url"] = f"{ui}/runs/flow-run/{run['flow_run_id']}"
    if run.get("deployment_id"):
        try:
            from prefect.runtime import deployment

            run["deployment_name"] = deployment.name
        except Exception:  # the name is a nicety; the id is recorded either way
            pass
    if task_ctx is not None:
        task_run = task_ctx.task_run
        run.update(
            task_run_id=str(task_run.id),
            task_run_name=task_run.name,
            task_name=task_ctx.task.name,
        )
        if "flow_run_id" not in run and task_run.flow_run_id:
            run["flow_run_id"] = str(task_run.flow_run_id)
        if ui:
            run["ui_url"] = f"{ui}/runs/task-run/{task_run.id}"
        run["tags"] = sorted(set(run.get("tags", [])) | set(task_run.tags or []))
    return run


def _ui_url() -> str | None:
    """Prefect's UI base URL when a server UI is configured (PREFECT_UI_URL or derived)."""
    try:
        from prefect.settings import PREFECT_UI_URL

        value = PREFECT_UI_URL.value()
    except Exception:
        return None
    return value.rstrip("/") if value else None


def current_producer(owner: str | None = None) -> Producer:
    """The producer of a version logged now: the Prefect run, else this process."""
    local = {"host": socket.gethostname(), "pid": os.getpid(), "user": owner}
    run = current_run()
    if run is None:
        return Producer(kind="local", **local)
    run["parameters"] = safe_parameters(run.get("parameters") or {})
    return Producer(kind="prefect", **run, **local)


def safe_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Flow parameters made JSON-safe, each cut short when the whole exceeds 16 KiB."""
    from .materializers.summary import json_safe

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
