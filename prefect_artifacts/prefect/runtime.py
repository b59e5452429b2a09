"""Which Prefect run, if any, is executing: the core's run provider.

Prefect is only imported when it already is: a process that never imported Prefect is not
inside a Prefect run, so the core works without paying Prefect's import time.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..core.models import RunInfo


def current_run() -> RunInfo | None:
    """Ids and names of the current flow run and task run, or None outside Prefect."""
    if "prefect.context" not in sys.modules:
        return None
    from prefect.context import FlowRunContext, TaskRunContext

    task_ctx = TaskRunContext.get()
    flow_ctx = FlowRunContext.get()
    if task_ctx is None and (flow_ctx is None or flow_ctx.flow_run is None):
        return None
    run = RunInfo()
    flow_run = flow_ctx.flow_run if flow_ctx else None
    if (
        task_ctx is not None
        and flow_run is not None
        and flow_run.id != task_ctx.task_run.flow_run_id
    ):
        task_ctx = None  # a subflow called from inside a task: the subflow is what runs
    ui = ui_url()
    if flow_ctx is not None and flow_run is not None:
        run.flow_run_id = str(flow_run.id)
        run.flow_run_name = flow_run.name
        run.flow_name = flow_ctx.flow.name if flow_ctx.flow else None
        run.flow_id = str(flow_run.flow_id) if flow_run.flow_id else None
        run.deployment_id = str(flow_run.deployment_id) if flow_run.deployment_id else None
        run.parameters = flow_ctx.parameters or {}
        run.tags = sorted(flow_run.tags or [])
        run.ui_url = f"{ui}/runs/flow-run/{run.flow_run_id}" if ui else None
    if run.deployment_id:
        try:
            from prefect.runtime import deployment

            run.deployment_name = deployment.name
        except Exception:  # the name is a nicety; the id is recorded either way
            pass
    if task_ctx is not None:
        task_run = task_ctx.task_run
        run.task_run_id = str(task_run.id)
        run.task_run_name = task_run.name
        run.task_name = task_ctx.task.name
        run.attempt = task_run.run_count or 1
        run.task_parameters = dict(task_ctx.parameters or {})
        if run.flow_run_id is None and task_run.flow_run_id:
            run.flow_run_id = str(task_run.flow_run_id)
        if ui:
            run.ui_url = f"{ui}/runs/task-run/{task_run.id}"
        run.tags = sorted(set(run.tags) | set(task_run.tags or []))
    return run


def run_logger() -> Any:
    """Prefect's run logger (its lines show on the run's page), or None outside a run."""
    if current_run() is None:
        return None
    from prefect.logging import get_run_logger

    return get_run_logger()


def run_url(run: Any) -> str | None:
    """The page of a run (anything with ``task_run_id``/``flow_run_id``) in Prefect's UI, from
    the settings of now, not those at logging time."""
    ui = ui_url()
    if ui and getattr(run, "task_run_id", None):
        return f"{ui}/runs/task-run/{run.task_run_id}"
    if ui and getattr(run, "flow_run_id", None):
        return f"{ui}/runs/flow-run/{run.flow_run_id}"
    return None


def ui_url() -> str | None:
    """Prefect's UI base URL: ``PREFECT_UI_URL``, or the one derived from ``PREFECT_API_URL``;
    with neither, the local address ``prefect server start`` serves (its host and port
    settings), where the runs recorded on this machine can be seen. Prefect's settings are read
    when Prefect is loaded already; otherwise the environment, so showing a link never costs
    Prefect's import time."""
    if "prefect.settings" in sys.modules:
        from prefect.settings import PREFECT_UI_URL, get_current_settings

        value: str | None = PREFECT_UI_URL.value()
        api = get_current_settings().server.api
        host, port = api.host, str(api.port)
    else:
        api_url = os.environ.get("PREFECT_API_URL", "").rstrip("/")
        value = os.environ.get("PREFECT_UI_URL") or (api_url.removesuffix("/api") or None)
        host = os.environ.get("PREFECT_SERVER_API_HOST", "127.0.0.1")
        port = os.environ.get("PREFECT_SERVER_API_PORT", "4200")
    if not value:
        value = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    return value.rstrip("/")
