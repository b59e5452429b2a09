"""``prefect-artifacts``: search, inspect, fetch and manage artifacts from a terminal.

Exit codes: 0 success · 1 unexpected error · 2 bad usage or invalid input · 3 not found ·
4 integrity error (corrupt or missing bytes) · 5 storage or catalog unreachable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from .errors import (
    ArtifactError,
    ArtifactNotFoundError,
    CatalogError,
    IntegrityError,
    InvalidArgumentError,
    StorageError,
    UnsupportedTypeError,
)
from .keys import safe_filename
from .models import DatasetVersion

app = typer.Typer(
    name="prefect-artifacts",
    no_args_is_help=True,
    add_completion=False,
    help="Search, inspect, download and manage prefect-artifacts versions.",
)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)
EXIT_CODES = [
    (ArtifactNotFoundError, 3),
    (IntegrityError, 4),
    (CatalogError, 5),
    (StorageError, 5),
    (InvalidArgumentError, 2),
    (UnsupportedTypeError, 2),
    (ValueError, 2),
]

ProjectOpt = Annotated[
    str | None,
    typer.Option(
        "--project",
        "-p",
        help="Project (default: PREFECT_ARTIFACTS_PROJECT); '*' lists every project.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def _repo() -> Any:
    from .api import get_repository

    return get_repository()


def _fail(exc: BaseException) -> NoReturn:
    code = next((c for t, c in EXIT_CODES if isinstance(exc, t)), 1)
    err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
    raise typer.Exit(code)


def _run(fn: Any) -> Any:
    try:
        return fn()
    except (ArtifactError, ValueError, TypeError, OSError) as exc:
        _fail(exc)


def _json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


@app.command("ls")
def ls(
    key: Annotated[str | None, typer.Option("--key", "-k", help="Key substring or glob.")] = None,
    kind: Annotated[str | None, typer.Option(help="dataset, model, plot or other.")] = None,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", "-l", help="k=v (value must match) or k (must exist); repeatable."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="ISO date/datetime or a span: 24h, 7d.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO date/datetime or a span.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only versions carrying this tag.")] = None,
    producer: Annotated[str | None, typer.Option(help="Producer flow name or run id.")] = None,
    project: ProjectOpt = None,
    all_versions: Annotated[
        bool,
        typer.Option(
            "--all-versions", "-a", help="Every version, not just the latest of each key."
        ),
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List artifacts (latest version of each key), newest update first."""
    from .web.filters import build_query

    def query() -> list[Any]:
        repo = _repo()
        q = build_query(
            repo,
            project=project,
            q=key,
            kind=kind,
            labels=label or [],
            since=since,
            until=until,
            tag=tag,
            producer=producer,
            all_versions=all_versions,
            per_page=max(1, min(limit, 200)),
        )
        q.limit = limit
        return [repo._version(r) for r in repo.catalog.list(q)]

    versions = _run(query)
    if as_json:
        _json(
            [
                v.model_dump(mode="json", exclude={"preview", "stats", "fingerprint"})
                for v in versions
            ]
        )
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("key", "ver", "kind", "labels", "tags", "producer", "owner", "updated", "size"):
        table.add_column(column, justify="right" if column in ("ver", "size") else "left")
    from .cards import size_text

    for v in versions:
        producer_text = v.producer.flow_name or "local" if v.producer.kind == "prefect" else "local"
        table.add_row(
            f"{v.project}/{v.key}" if project == "*" else v.key,
            str(v.version),
            v.kind,
            " ".join(f"{k}={x}" for k, x in v.labels.items()),
            " ".join(v.tags),
            producer_text,
            v.owner or "",
            v.updated_at.strftime("%Y-%m-%d %H:%M"),
            size_text(v.size),
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
    version = _run(lambda: _repo().get(ref, project=project))
    if as_json:
        _json(version.model_dump(mode="json", exclude={"fingerprint"}))
        return
    from .cards import size_text

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
    if isinstance(version, DatasetVersion):
        rows += [("column", f"{c['name']}: {c['type']}") for c in version.schema]
    for name, extra in version.extra_data.items():
        rows.append(
            ("extra", f"{name} ({size_text(extra.size)}, {extra.artifact or extra.source})")
        )
    for name, value in rows:
        table.add_row(name, value)
    out.print(table, highlight=False)


@app.command()
def download(
    ref: Annotated[str, typer.Argument(help="key, key:3 or key@prod")],
    path: Annotated[Path | None, typer.Argument(help="File or folder (default: here).")] = None,
    extra: Annotated[str | None, typer.Option(help="Download this extra-data item.")] = None,
    project: ProjectOpt = None,
) -> None:
    """Download a version's bytes (or an extra-data item), verified against their sha256."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    def fetch() -> Path:
        repo = _repo()
        version = repo.get(ref, project=project)
        if extra is not None:
            item = version.extra_data.get(extra)
            if item is None:
                raise ArtifactNotFoundError(
                    f"{version.ref} has no extra data {extra!r}; it has "
                    f"{', '.join(version.extra_data) or 'none'}"
                )
            digest, size, name = item.hash, item.size, item.filename or item.name
        else:
            from .web.app import download_name

            digest, size, name = version.hash, version.size, download_name(version)
        target = Path(path) if path is not None else Path.cwd()
        if target.is_dir():
            target = target / safe_filename(name, digest[:16])
        progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=err,
            disable=size < 16 << 20 or not err.is_terminal,
        )
        with progress:
            task = progress.add_task(name, total=size)
            return repo.storage.download_blob(
                digest, target, on_chunk=lambda n: progress.advance(task, n)
            )

    saved = _run(fetch)
    out.print(str(saved), highlight=False)


@app.command()
def tag(
    ref: Annotated[str, typer.Argument(help="The version to tag: key:3 or key@other")],
    name: Annotated[str, typer.Argument(help="Tag name, e.g. prod")],
    project: ProjectOpt = None,
) -> None:
    """Point a tag at a version (moving it from the version that had it)."""
    version = _run(lambda: _repo().tag(ref, name, project=project))
    out.print(f"{version.key}:{version.version} is now tagged {name}", highlight=False)


@app.command()
def untag(
    ref: Annotated[str, typer.Argument(help="key@tag, or key with TAG")],
    name: Annotated[str | None, typer.Argument(help="Tag name")] = None,
    project: ProjectOpt = None,
) -> None:
    """Remove a tag."""
    number = _run(lambda: _repo().untag(ref, name, project=project))
    out.print(f"removed the tag (it pointed at version {number})", highlight=False)


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
    from .keys import parse_ref

    parsed = _run(lambda: parse_ref(ref, project=project))
    what = f"version {parsed!s}" if parsed.pinned else f"every version of {parsed.key}"
    if not yes and not typer.confirm(f"Delete {what}?", default=False, err=True):
        err.print("nothing deleted")
        raise typer.Exit(1)
    deleted = _run(
        lambda: _repo().delete(ref, data=not keep_data, strategy=strategy, project=project)
    )
    out.print(f"deleted {parsed.key} version(s) {', '.join(map(str, deleted))}", highlight=False)


@app.command()
def lineage(
    ref: Annotated[str, typer.Argument(help="key, key:3 or key@prod")],
    direction: Annotated[str, typer.Option(help="up (inputs) or down (consumers).")] = "up",
    depth: Annotated[int, typer.Option(help="Artifact hops to follow.")] = 3,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show what produced a version and its inputs (up), or what used it (down)."""
    graph = _run(lambda: _repo().lineage(ref, direction=direction, depth=depth, project=project))
    if as_json:
        _json(graph.model_dump())
        return
    children: dict[str, list[tuple[str, str]]] = {}
    for edge in graph.edges:
        parent, child = (
            (edge.target, edge.source) if direction == "up" else (edge.source, edge.target)
        )
        children.setdefault(parent, []).append((child, edge.relation))
    tree = Tree(f"[bold]{graph.root}[/bold]")

    def grow(branch: Tree, node_id: str, seen: set[str]) -> None:
        for child, relation in children.get(node_id, []):
            node = graph.node(child)
            label = f"{node.label} [dim]({'run' if node.type == 'run' else node.kind}, {relation})[/dim]"
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
    from .diff import diff_versions

    def compare() -> Any:
        repo = _repo()
        return diff_versions(repo.get(a, project=project), repo.get(b, project=project))

    result = _run(compare)
    if as_json:
        _json(result.model_dump(mode="json"))
        return
    out.print(
        f"[bold]{result.a} → {result.b}[/bold]: "
        f"{'identical bytes' if result.same_content else 'content changed'}, "
        f"size {result.size_change:+d} bytes"
    )
    if result.rows:
        out.print(f"rows: {result.rows[0]} → {result.rows[1]}")
    for c in result.columns:
        out.print(f"column {c.name}: {c.change} {c.old_type or ''} → {c.new_type or ''}".rstrip())
    if result.stats:
        table = Table("column", "stat", "old", "new", "change", show_edge=False)
        for s in result.stats:
            table.add_row(
                s.column,
                s.stat,
                _short(s.old),
                _short(s.new),
                f"{s.delta:+.4g}" if s.delta is not None else "",
            )
        out.print(table)
    if result.metrics:
        table = Table("metric", "old", "new", "change", show_edge=False)
        for m in result.metrics:
            table.add_row(
                m.name,
                _short(m.old),
                _short(m.new),
                f"{m.delta:+.4g}" if m.delta is not None else "",
            )
        out.print(table)
    for p in result.parameters:
        out.print(f"parameter {p['name']}: {p['old']} → {p['new']}")


@app.command("verify")
def verify_cmd(
    ref: Annotated[str | None, typer.Argument(help="key (all its versions) or key:3")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every version of every project.")] = False,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-hash stored bytes against the catalog; exit code 4 when any are missing or corrupt."""
    from .maintenance import verify

    if ref is None and not all_:
        err.print("give a REF or --all")
        raise typer.Exit(2)
    report = _run(lambda: verify(_repo(), ref, project=project or ("*" if all_ else None)))
    if as_json:
        _json(report.model_dump())
    else:
        out.print(
            f"checked {report.versions} versions, {report.blobs} blobs, "
            f"{report.bytes:,} bytes in {report.seconds:.2f}s",
            highlight=False,
        )
        for p in report.problems:
            out.print(f"[red]{p.what}[/red] {p.ref} {p.detail} {p.target_path or ''}".rstrip())
        if report.ok:
            out.print("all bytes match the catalog")
    if not report.ok:
        raise typer.Exit(4)


@app.command("reindex")
def reindex_cmd(project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """Rebuild the catalog from storage manifests (idempotent; safe on a live store)."""
    from .maintenance import reindex

    report = _run(lambda: reindex(_repo(), project=project))
    if as_json:
        _json(report.model_dump())
        return
    out.print(
        f"read {report.manifests} manifests and {report.journal_entries} journal entries; "
        f"restored {report.versions_restored} versions, {report.tags_restored} tags, "
        f"{report.runs_restored} lineage runs ({report.conflicts} conflicts) "
        f"in {report.seconds:.2f}s",
        highlight=False,
    )


@app.command("gc")
def gc_cmd(
    grace: Annotated[str, typer.Option(help="Only orphans older than this (e.g. 1h, 7d).")] = "1h",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, remove nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove bytes no version references (orphans older than the grace period)."""
    from .maintenance import gc

    report = _run(lambda: gc(_repo(), grace=_span(grace), dry_run=dry_run))
    if as_json:
        _json(report.model_dump())
        return
    verb = "would remove" if dry_run else "removed"
    out.print(
        f"{report.blobs_seen} blobs, {len(report.orphans)} orphans ({report.orphan_bytes:,} bytes); "
        f"{verb} {len(report.orphans) if dry_run else report.removed} orphans and "
        f"{report.temporary_removed} temporary files",
        highlight=False,
    )


@app.command("prune")
def prune_cmd(
    key: Annotated[
        str | None, typer.Option("--key", "-k", help="Key or glob (default: all).")
    ] = None,
    keep_last: Annotated[int | None, typer.Option(help="Keep the N newest versions.")] = None,
    older_than: Annotated[
        str | None, typer.Option(help="Only versions older than this (30d).")
    ] = None,
    include_tagged: Annotated[
        bool, typer.Option("--include-tagged", help="Also delete tagged versions.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, delete nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete old versions by a retention policy, then their unreferenced bytes."""
    from .maintenance import prune

    def plan(dry: bool) -> Any:
        return prune(
            _repo(),
            key=key,
            keep_last=keep_last,
            older_than=_span(older_than) if older_than else None,
            keep_tagged=not include_tagged,
            project=project,
            dry_run=dry,
        )

    preview = _run(lambda: plan(True))
    count = sum(len(v) for v in preview.deleted.values())
    if (
        not dry_run
        and count
        and not yes
        and not typer.confirm(
            f"Delete {count} versions of {len(preview.deleted)} keys?", default=False, err=True
        )
    ):
        err.print("nothing deleted")
        raise typer.Exit(1)
    report = preview if dry_run or not count else _run(lambda: plan(False))
    if as_json:
        _json(report.model_dump())
        return
    verb = "would delete" if dry_run else "deleted"
    for name, numbers in report.deleted.items():
        out.print(f"{verb} {name} versions {', '.join(map(str, numbers))}", highlight=False)
    out.print(f"{verb} {count} versions, kept {report.kept}", highlight=False)


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
    import uvicorn

    from .web import create_app
    from .web.app import LOOPBACK_HOSTS

    if allow_writes and not token and host not in LOOPBACK_HOSTS:
        _fail(
            InvalidArgumentError(
                "--allow-writes on a non-loopback address needs --token (or "
                "PREFECT_ARTIFACTS_UI_TOKEN): otherwise anyone who reaches the port can delete"
            )
        )
    hosts = LOOPBACK_HOSTS if host in LOOPBACK_HOSTS else None
    application = _run(
        lambda: create_app(_repo(), allow_writes=allow_writes, token=token, allowed_hosts=hosts)
    )
    err.print(
        f"prefect-artifacts UI on http://{host}:{port}  "
        f"({'read-write' if allow_writes else 'read-only'}"
        f"{', token required' if token else ''})"
    )
    uvicorn.run(application, host=host, port=port, log_level="warning")


def _span(text: str) -> Any:
    """``90m``, ``24h``, ``7d`` → a timedelta (exit 2 otherwise)."""
    from .web.filters import parse_span

    span = parse_span(text)
    if span is None:
        _fail(InvalidArgumentError(f"{text!r} is not a span; use e.g. 30m, 12h, 7d, 2w"))
    return span


def _short(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
