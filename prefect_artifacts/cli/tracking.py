"""Commands for experiment tracking: tags (and their history), select-best, metrics of a run."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..core.keys import validate_key, validate_tag
from .app import JsonOpt, ProjectOpt, app, emit_json, err, out, plain, repo, run, say


@app.command()
def tags(
    key: Annotated[str, typer.Argument(help="The artifact key")],
    history: Annotated[
        str | None,
        typer.Option("--history", help="Every version this tag was on, when, moved by whom."),
    ] = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The key's tags and the version each is on; --history TAG: where TAG has been."""
    r = run(repo)
    project = project or r.project
    if history is not None:
        rows = run(lambda: r.catalog.tag_history(project, validate_key(key), validate_tag(history)))
        if as_json:
            emit_json(rows)
            return
        table = Table("version", "since", "until", "by", "run", show_edge=False)
        for h in rows:
            table.add_row(
                str(h["version"]),
                h["since"].strftime("%Y-%m-%d %H:%M:%S"),
                h["until"].strftime("%Y-%m-%d %H:%M:%S") if h["until"] else "now",
                plain(h["by"] or ""),
                plain(h["run"] or ""),
            )
        out.print(table)
        if not rows:
            err.print(f"{key} never had the tag {history}")
        return
    versions = run(lambda: r.versions(validate_key(key), project=project))
    current = {t: v.version for v in versions for t in v.tags}
    if as_json:
        emit_json(current)
        return
    for name, number in sorted(current.items()):
        say(f"{name}: {key}:{number}")
    if not current:
        err.print(f"{key} has no tags")


@app.command("select-best")
def select_best_cmd(
    key: Annotated[str, typer.Argument(help="The key a sweep logged")],
    selector: Annotated[str, typer.Argument(help="max.<metric> or min.<metric>, e.g. max.auc")],
    flow_run: Annotated[
        str | None,
        typer.Option("--run", help="The run whose versions compete (default: latest sweep)."),
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Point KEY at the best version of its latest sweep (tagged 'best')."""
    from ..core import sweeps

    best = run(lambda: sweeps.select_best(repo(), key, selector, run=flow_run, project=project))
    say(
        f"{best.key} now resolves to {best.key}:{best.version} (iteration {best.iteration}, {selector})"
    )


@app.command()
def metrics(
    run_id: Annotated[str, typer.Argument(help="A flow or task run id (ctx.run_id)")],
    as_json: JsonOpt = False,
) -> None:
    """A run's step metrics: per metric the last, min and max value and the number of points."""
    from ..core import tracking

    summary = run(lambda: tracking.run_summary(repo(), run_id))
    if as_json:
        emit_json(summary)
        return
    table = Table("metric", "last", "min", "max", "points", show_edge=False)
    for name, m in summary.items():
        table.add_row(
            plain(name),
            f"{m['last']:.6g}",
            f"{m['min']:.6g}",
            f"{m['max']:.6g}",
            str(int(m["points"])),
        )
    out.print(table)
    if not summary:
        err.print(f"run {run_id} logged no step metrics")
