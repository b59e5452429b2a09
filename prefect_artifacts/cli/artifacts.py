"""Commands on artifacts: ls, show, download, tag, untag, rm, lineage, diff."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ..core.errors import ArtifactNotFoundError
from ..core.filtertext import field_help
from ..core.formatting import size_text
from .app import JsonOpt, ProjectOpt, app, emit_json, err, out, plain, repo, run, say


def _help(name: str) -> str:
    return field_help(name)


@app.command("ls")
def ls(
    key: Annotated[str | None, typer.Option("--key", "-k", help=_help("key"))] = None,
    search: Annotated[str | None, typer.Option("--search", "-s", help=_help("search"))] = None,
    kind: Annotated[str | None, typer.Option(help=_help("kind"))] = None,
    label: Annotated[list[str] | None, typer.Option("--label", "-l", help=_help("labels"))] = None,
    since: Annotated[str | None, typer.Option(help=_help("since"))] = None,
    until: Annotated[str | None, typer.Option(help=_help("until"))] = None,
    tag: Annotated[str | None, typer.Option(help=_help("tag"))] = None,
    producer: Annotated[str | None, typer.Option(help=_help("producer"))] = None,
    project: ProjectOpt = None,
    all_versions: Annotated[
        bool, typer.Option("--all-versions", "-a", help=_help("all_versions"))
    ] = False,
    sort: Annotated[str, typer.Option(help=_help("sort"))] = "-updated",
    limit: Annotated[int, typer.Option(help=_help("limit"))] = 50,
    offset: Annotated[int, typer.Option(help=_help("offset"))] = 0,
    where: Annotated[
        list[str] | None, typer.Option("--where", "-w", help=_help("metrics") + " Repeatable.")
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", help="Show this metric as a column (repeatable)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List artifacts (latest version of each key), newest update first."""
    versions = run(
        lambda: repo().list(
            metrics=where or None,
            key=key,
            search=search,
            kind=kind,
            labels=label,
            since=since,
            until=until,
            tag=tag,
            producer=producer,
            project=project,
            all_versions=all_versions,
            sort=sort,
            limit=limit,
            offset=offset,
        )
    )
    if as_json:
        emit_json(
            [
                v.model_dump(mode="json", exclude={"preview", "stats", "fingerprint"})
                for v in versions
            ]
        )
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("key", "ver", "kind", "labels", "tags", "producer", "owner", "updated", "size"):
        table.add_column(column, justify="right" if column in ("ver", "size") else "left")
    for name in metric or []:
        table.add_column(name, justify="right")
    for v in versions:
        metrics = getattr(v, "metrics", None) or {}
        table.add_row(
            plain(f"{v.project}/{v.key}" if project == "*" else v.key),
            str(v.version),
            plain(v.kind),
            plain(" ".join(f"{k}={x}" for k, x in v.labels.items())),
            plain(" ".join(v.tags)),
            plain(v.producer.flow_name or "local" if v.producer.kind == "prefect" else "local"),
            plain(v.owner or ""),
            v.updated_at.strftime("%Y-%m-%d %H:%M"),
            size_text(v.size),
            *(_short(metrics[m]) if m in metrics else "" for m in metric or []),
        )
    out.print(table)
    if not versions:
        err.print("no artifacts match")


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="key, key:3, key@prod or project/key:3")],
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one version: location, type, labels, producer, owner, metrics, schema, extra data."""
    version = run(lambda: repo().get(ref, project=project))
    revisions = run(version.revisions)
    if as_json:
        emit_json(
            {
                **version.model_dump(mode="json", exclude={"fingerprint"}),
                "revisions": [r.model_dump(mode="json") for r in revisions],
            }
        )
        return
    table = Table(show_header=False, show_edge=False, box=None)
    table.add_column(style="dim")
    table.add_column()
    rows = [
        ("key", f"{version.project}/{version.key}:{version.version}"),
        ("kind", f"{version.kind} ({version.format}, {version.content_type})"),
        ("location", version.target_path),
        ("hash", f"sha256:{version.hash}"),
        ("size", f"{size_text(version.size)} ({version.size} bytes)"),
        ("labels", " ".join(f"{k}={v}" for k, v in version.labels.items()) or "-"),
        ("tags", " ".join(version.tags) or "-"),
        ("producer", version.producer.describe()),
        ("owner", version.owner or "-"),
        ("created", version.created_at.isoformat()),
        ("updated", version.updated_at.isoformat()),
    ]
    if version.description:
        rows.insert(2, ("description", version.description))
    for name in ("rows", "columns", "model_file", "framework", "algorithm", "width", "height"):
        value = getattr(version, name, None)
        if value is not None:
            rows.append((name, str(value)))
    for name in ("metrics", "parameters"):
        for k, v in (getattr(version, name, None) or {}).items():
            rows.append((f"{name[:-1]} {k}", str(v)))
    from ..core.models import DatasetVersion

    if isinstance(version, DatasetVersion):
        if version.part_count:
            sizes = [p.size for p in version.parts]
            rows.append(
                (
                    "parts",
                    f"{version.part_count} Parquet parts, {size_text(min(sizes))}–"
                    f"{size_text(max(sizes))} each ({size_text(sum(sizes))} in all)",
                )
            )
        rows += [("column", f"{c['name']}: {c['type']}") for c in version.schema]
    for name, extra in version.extra_data.items():
        rows.append(
            ("extra", f"{name} ({size_text(extra.size)}, {extra.artifact or extra.source})")
        )
    if version.iteration is not None:
        rows.append(("iteration", str(version.iteration)))
    for r in revisions:
        by = r.updater.describe() + (f" ({r.updater.user})" if r.updater.user else "")
        rows.append((f"revision {r.revision}", f"{r.at:%Y-%m-%d %H:%M:%S} by {by}: {r.describe()}"))
    for name, value in rows:
        table.add_row(name, plain(value))
    out.print(table)


@app.command()
def download(
    ref: Annotated[str, typer.Argument(help="key, key:3 or key@prod")],
    path: Annotated[
        str | None, typer.Argument(help="File, or folder (existing, or ending in /).")
    ] = None,
    extra: Annotated[str | None, typer.Option(help="Download this extra-data item.")] = None,
    parts: Annotated[
        bool, typer.Option("--parts", help="A multi-part dataset: a folder of its part files.")
    ] = False,
    project: ProjectOpt = None,
) -> None:
    """Download a version's bytes (or an extra-data item), verified against their sha256; a
    multi-part dataset as one Parquet file (``--parts``: a folder of its part files)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from ..core.repository.reader import download_name

    def fetch() -> Path:
        r = repo()
        version = r.get(ref, project=project)
        if extra is not None:
            item = version.extra_data.get(extra)
            if item is None:
                raise ArtifactNotFoundError(
                    f"{version.ref} has no extra data {extra!r}; it has "
                    f"{', '.join(version.extra_data) or 'none'}"
                )
            digest, size, name = item.hash, item.size, download_name(version, extra)
        else:
            digest, size, name = version.hash, version.size, download_name(version)
        progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=err,
            disable=size < 16 << 20 or not err.is_terminal,
        )
        with progress:
            task = progress.add_task(Text(name).plain, total=size)
            advance = lambda n: progress.advance(task, n)  # noqa: E731
            if extra is None:
                return r.download(version, path, parts=parts, name=name, on_chunk=advance)
            return r.download_blob(digest, path, name, on_chunk=advance)

    say(run(fetch))


@app.command()
def tag(
    ref: Annotated[str, typer.Argument(help="The version to tag: key:3 or key@other")],
    name: Annotated[str, typer.Argument(help="Tag name, e.g. prod")],
    project: ProjectOpt = None,
) -> None:
    """Point a tag at a version (moving it from the version that had it)."""
    version = run(lambda: repo().tag(ref, name, project=project))
    say(f"{version.key}:{version.version} is now tagged {name}")


@app.command()
def untag(
    ref: Annotated[str, typer.Argument(help="key@tag, or key with TAG")],
    name: Annotated[str | None, typer.Argument(help="Tag name")] = None,
    project: ProjectOpt = None,
) -> None:
    """Remove a tag."""
    number = run(lambda: repo().untag(ref, name, project=project))
    say(f"removed the tag (it pointed at version {number})")


@app.command()
def rm(
    ref: Annotated[str, typer.Argument(help="key:3 / key@tag (one version) or key (all)")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    keep_data: Annotated[
        bool, typer.Option("--keep-data", help="Delete the catalog entries only, keep the bytes.")
    ] = False,
    strategy: Annotated[
        str | None,
        typer.Option(help="metadata-only, data-optional (default) or data-required."),
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Delete a version or every version of a key (asks first)."""
    from ..core.keys import parse_ref

    parsed = run(lambda: parse_ref(ref, project=project))
    what = f"version {parsed!s}" if parsed.pinned else f"every version of {parsed.key}"
    if not yes and not typer.confirm(f"Delete {what}?", default=False, err=True):
        err.print("nothing deleted")
        raise typer.Exit(1)
    deleted = run(
        lambda: repo().delete(ref, data=not keep_data, strategy=strategy, project=project)
    )
    say(f"deleted {parsed.key} version(s) {', '.join(map(str, deleted))}")


@app.command()
def lineage(
    ref: Annotated[str, typer.Argument(help="key, key:3 or key@prod")],
    direction: Annotated[str, typer.Option(help="up (inputs) or down (consumers).")] = "up",
    depth: Annotated[int, typer.Option(help="Artifact hops to follow.")] = 3,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show what produced a version and its inputs (up), or what used it (down)."""
    graph = run(lambda: repo().lineage(ref, direction=direction, depth=depth, project=project))
    if as_json:
        emit_json(graph.model_dump())
        return
    children: dict[str, list[tuple[str, str]]] = {}
    for edge in graph.edges:
        parent, child = (
            (edge.target, edge.source) if direction == "up" else (edge.source, edge.target)
        )
        children.setdefault(parent, []).append((child, edge.relation))
    tree = Tree(Text(graph.root, style="bold"))

    def grow(branch: Tree, node_id: str, seen: set[str]) -> None:
        for child, relation in children.get(node_id, []):
            node = graph.node(child)
            label = Text(node.label)
            label.append(f" ({'run' if node.type == 'run' else node.kind}, {relation})", "dim")
            sub = branch.add(label)
            if child not in seen:
                grow(sub, child, seen | {child})

    grow(tree, graph.root, {graph.root})
    out.print(tree)


@app.command()
def diff(
    a: Annotated[str, typer.Argument(help="The older version, e.g. my_data:1")],
    b: Annotated[str, typer.Argument(help="The newer version, e.g. my_data:2")],
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare two versions: schema, rows and statistics drift (datasets), metrics (models)."""
    from ..core.diff import diff_versions

    def compare() -> Any:
        r = repo()
        return diff_versions(r.get(a, project=project), r.get(b, project=project))

    result = run(compare)
    if as_json:
        emit_json(result.model_dump(mode="json"))
        return
    say(
        f"{result.a} → {result.b}:",
        "identical bytes" if result.same_content else "content changed",
        f"size {result.size_change:+d} bytes",
    )
    if result.rows:
        say(f"rows: {result.rows[0]} → {result.rows[1]}")
    if result.parts:
        p = result.parts
        say(
            f"parts: {len(p.added)} added ({size_text(p.added_bytes)}), {len(p.removed)} "
            f"removed ({size_text(p.removed_bytes)}), {p.shared} shared"
        )
    for c in result.columns:
        say(f"column {c.name}: {c.change} {c.old_type or ''} → {c.new_type or ''}".rstrip())
    if result.stats:
        table = Table("column", "stat", "old", "new", "change", show_edge=False)
        for s in result.stats:
            table.add_row(
                plain(s.column),
                s.stat,
                plain(_short(s.old)),
                plain(_short(s.new)),
                f"{s.delta:+.4g}" if s.delta is not None else "",
            )
        out.print(table)
    if result.metrics:
        table = Table("metric", "old", "new", "change", show_edge=False)
        for m in result.metrics:
            table.add_row(
                plain(m.name),
                _short(m.old),
                _short(m.new),
                f"{m.delta:+.4g}" if m.delta is not None else "",
            )
        out.print(table)
    for p in result.parameters:
        say(f"parameter {p['name']}: {p['old']} → {p['new']}")


def _short(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


@app.command("compare")
def compare_cmd(
    refs: Annotated[
        list[str],
        typer.Argument(help="Versions, keys or globs: churn-model:1, clf@prod, 'churn-*'"),
    ],
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="Metric columns (default: all).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Parameter columns (default: all).")
    ] = None,
    no_params: Annotated[bool, typer.Option("--no-params", help="Leave parameters out.")] = False,
    all_params: Annotated[
        bool,
        typer.Option("--all-params", help="Every parameter, also those equal in every row."),
    ] = False,
    all_versions: Annotated[
        bool,
        typer.Option("--all-versions", "-a", help="Every version of each key, not the latest."),
    ] = False,
    flow_run: Annotated[
        str | None,
        typer.Option("--run", help="Only what this flow run (id or name) logged, by iteration."),
    ] = None,
    last: Annotated[
        int | None,
        typer.Option(
            "--last",
            "-n",
            min=1,
            max=1000,
            help="The last N versions of the key (a glob: the newest N among its keys).",
        ),
    ] = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare versions side by side: metrics and parameters, the best value of each metric
    in bold (lowest for losses and errors, else highest)."""
    from ..core.compare import compare, last_versions

    result = run(
        lambda: compare(
            repo(),
            last_versions(repo(), refs, last, project) if last else refs,
            metrics=metric or None,
            parameters=False if no_params else (param or None),
            all_versions=all_versions,
            project=project,
            run=flow_run,
        )
    )
    if as_json:
        emit_json(result.model_dump(mode="json"))
        return
    hidden = 0
    if not param and not all_params and len(result.versions) > 1:  # the table: what differs
        varying = [
            p
            for p in result.parameters
            if len({repr(v.parameters[p]) for v in result.versions if p in v.parameters}) > 1
        ]
        hidden = len(result.parameters) - len(varying)
        result = result.model_copy(update={"parameters": varying})
    iterations = any(v.iteration is not None for v in result.versions)
    table = Table(show_edge=False, header_style="bold")
    columns = ["key", "ver", *(["iter"] if iterations else []), "tags", "created", "run"]
    for column in columns:
        table.add_column(column, justify="right" if column in ("ver", "iter") else "left")
    for m in result.metrics:
        table.add_column(f"{m} {'↓' if result.lower_is_better[m] else '↑'}", justify="right")
    for p in result.parameters:
        table.add_column(p, style="dim")
    for v in result.versions:
        cells: list[Any] = [plain(v.key), str(v.version)]
        if iterations:
            cells.append("" if v.iteration is None else str(v.iteration))
        cells += [
            plain(" ".join(v.tags)),
            v.created_at.strftime("%Y-%m-%d %H:%M"),
            plain(v.producer_run or "local"),
        ]
        for m in result.metrics:
            value = v.metrics.get(m)
            text = Text("" if value is None else _short(value))
            if result.best.get(m) == v.ref:
                text.stylize("bold green")
            cells.append(text)
        cells += [
            plain(_short(v.parameters[p]) if p in v.parameters else "") for p in result.parameters
        ]
        table.add_row(*cells)
    out.print(table)
    for m, ref in result.best.items():
        say(f"best {m}: {ref}")
    if hidden:
        err.print(f"{hidden} parameter(s) equal in every row not shown (--all-params shows them)")
