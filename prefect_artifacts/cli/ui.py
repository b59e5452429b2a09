"""``prefect-artifacts ui``: serve the browser UI and its JSON API."""

from __future__ import annotations

from typing import Annotated

import typer

from ..core.errors import InvalidArgumentError
from .app import app, err, fail, repo, run


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 4300,
    allow_writes: Annotated[
        bool, typer.Option("--allow-writes", help="Allow tagging and deleting from the UI.")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="PREFECT_ARTIFACTS_UI_TOKEN",
            help="Require this bearer token (env PREFECT_ARTIFACTS_UI_TOKEN).",
        ),
    ] = None,
) -> None:
    """Start the browser UI (and its JSON API; OpenAPI at /docs)."""
    try:
        import uvicorn

        from ..web import create_app
        from ..web.app import LOOPBACK_HOSTS
    except ImportError as exc:  # base dependencies; only a broken install lacks them
        fail(
            InvalidArgumentError(
                f"the browser UI needs {exc.name or exc}, which is not installed: reinstall "
                "prefect-artifacts (pip install --force-reinstall prefect-artifacts)"
            )
        )
    if allow_writes and not token and host not in LOOPBACK_HOSTS:
        fail(
            InvalidArgumentError(
                "--allow-writes on a non-loopback address needs --token (or "
                "PREFECT_ARTIFACTS_UI_TOKEN): otherwise anyone who reaches the port can delete"
            )
        )
    hosts = LOOPBACK_HOSTS if host in LOOPBACK_HOSTS else None
    if hosts is None and not token:
        err.print(
            f"[bold yellow]warning:[/bold yellow] serving on {host} without a token: anyone "
            "who can reach this port can read every artifact (and change them with "
            "--allow-writes). Start with --token (or PREFECT_ARTIFACTS_UI_TOKEN), or bind to "
            "127.0.0.1"
        )
    application = run(
        lambda: create_app(repo(), allow_writes=allow_writes, token=token, allowed_hosts=hosts)
    )
    err.print(
        f"prefect-artifacts UI on http://{host}:{port}  "
        f"({'read-write' if allow_writes else 'read-only'}"
        f"{', token required' if token else ''})"
    )
    uvicorn.run(application, host=host, port=port, log_level="warning")
