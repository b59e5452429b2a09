"""Which Prefect run, if any, is executing: the core's run provider.

Prefect is only imported when it already is: a process that never imported Prefect is not
inside a Prefect run, so the core works without paying Prefect's import time.
"""

from __future__ import annotations

import sys

from ..core.runs import RunInfo


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
    if flow_run is not None:
        run.flow_run_id = str(flow_run.id)
        run.flow_run_name = flow_run.name
        run.flow_name = flow_ctx.flow.name if flow_ctx.flow else None
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
        if run.flow_run_id is None and task_run.flow_run_id:
            run.flow_run_id = str(task_run.flow_run_id)
        if ui:
            run.ui_url = f"{ui}/runs/task-run/{task_run.id}"
        run.tags = sorted(set(run.tags) | set(task_run.tags or []))
    return run


def ui_url() -> str | None:
    """Prefect's UI base URL when a server UI is configured (PREFECT_UI_URL or derived)."""
    try:
        from prefect.settings import PREFECT_UI_URL

        value = PREFECT_UI_URL.value()
    except Exception:
        return None
    return value.rstrip("/") if value else None
