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
    users: Annotated[
        bool,
        typer.Option(
            "--users",
            envvar="PREFECT_ARTIFACTS_UI_USERS",
            help="Sign in with per-user tokens (`prefect-artifacts users`); roles per project.",
        ),
    ] = False,
    proxy_header: Annotated[
        str | None,
        typer.Option(
            envvar="PREFECT_ARTIFACTS_UI_PROXY_HEADER",
            help="Take the user name from this header (e.g. X-Forwarded-User), only from "
            "--trusted-proxy addresses; implies --users.",
        ),
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(help="Address or network (CIDR) of the proxy that sets --proxy-header."),
    ] = None,
    session_hours: Annotated[
        float, typer.Option(help="How long a browser sign-in lasts.", min=0.01)
    ] = 12.0,
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
    try:
        from ..web.auth import Access

        access = Access(
            token=token,
            users=users,
            proxy_header=proxy_header,
            trusted_proxies=trusted_proxy or [],
            session_hours=session_hours,
        )
    except ValueError as exc:
        fail(InvalidArgumentError(f"invalid --trusted-proxy: {exc}"))
    if proxy_header and not trusted_proxy:
        fail(
            InvalidArgumentError(
                "--proxy-header needs --trusted-proxy (the proxy's address): otherwise anyone "
                "could send the header and be whoever they name"
            )
        )
    if allow_writes and access.open and host not in LOOPBACK_HOSTS:
        fail(
            InvalidArgumentError(
                "--allow-writes on a non-loopback address needs --users, --proxy-header or "
                "--token (PREFECT_ARTIFACTS_UI_TOKEN): otherwise anyone who reaches the port can "
                "delete"
            )
        )
    hosts = LOOPBACK_HOSTS if host in LOOPBACK_HOSTS else None
    if hosts is None and access.open:
        err.print(
            f"[bold yellow]warning:[/bold yellow] serving on {host} without a token: anyone "
            "who can reach this port can read every artifact (and change them with "
            "--allow-writes). Start with --token (or PREFECT_ARTIFACTS_UI_TOKEN), or bind to "
            "127.0.0.1"
        )
    application = run(
        lambda: create_app(repo(), allow_writes=allow_writes, allowed_hosts=hosts, access=access)
    )
    err.print(
        f"prefect-artifacts UI on http://{host}:{port}  "
        f"({'read-write' if allow_writes else 'read-only'}"
        f"{'' if access.open else ', sign-in required'})"
    )
    uvicorn.run(application, host=host, port=port, log_level="warning")
