"""Commands that keep a repository healthy: verify, reindex, gc, prune."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .app import JsonOpt, ProjectOpt, app, emit_json, err, out, repo, run, say, span


@app.command("verify")
def verify_cmd(
    ref: Annotated[str | None, typer.Argument(help="key (all its versions) or key:3")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every version of every project.")] = False,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-hash stored bytes against the catalog (always, whatever PREFECT_ARTIFACTS_VERIFY says)
    and refresh this machine's verified-state record; exit code 4 when any are missing or
    corrupt."""
    if ref is None and not all_:
        err.print("give a REF or --all")
        raise typer.Exit(2)
    report = run(
        lambda: _maintenance().verify(repo(), ref, project=project or ("*" if all_ else None))
    )
    if as_json:
        emit_json(report.model_dump())
    else:
        say(
            f"checked {report.versions} versions, {report.blobs} blobs, "
            f"{report.bytes:,} bytes in {report.seconds:.2f}s"
        )
        for p in report.problems:
            say(p.what, p.ref, p.detail, p.target_path or "")
        if report.ok:
            say("all bytes match the catalog")
    if not report.ok:
        raise typer.Exit(4)


@app.command("reindex")
def reindex_cmd(
    project: ProjectOpt = None,
    adopt: Annotated[
        bool,
        typer.Option(
            "--adopt",
            help="This catalog belongs to another repository (or none): make it take the "
            "storage's repository id, then rebuild it from the storage.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the catalog from storage manifests (idempotent; safe on a live store)."""
    report = run(lambda: _maintenance().reindex(repo(), project=project, adopt=adopt))
    if as_json:
        emit_json(report.model_dump())
        return
    if report.adopted_from is not None:
        before = report.adopted_from or "none"
        say(
            f"this catalog took the storage's repository id {report.repository_id} (it held {before})"
        )
    for ref, paths in report.conflicting.items():
        say(f"conflict {ref}: {len(paths)} manifests describe different versions; none restored:")
        for path in paths:
            say(f"  {path}")
    say(
        f"read {report.manifests} manifests and {report.journal_entries} journal entries; "
        f"restored {report.versions_restored} versions, {report.tags_restored} tags, "
        f"{report.runs_restored} lineage runs ({report.conflicts} conflicts) "
        f"in {report.seconds:.2f}s"
    )
    for path, reason in report.skipped.items():
        say("skipped", path, f"({reason})")


@app.command("gc")
def gc_cmd(
    grace: Annotated[str, typer.Option(help="Only orphans older than this (e.g. 1h, 7d).")] = "1h",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, remove nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove bytes no version references (orphans older than the grace period)."""
    report = run(lambda: _maintenance().gc(repo(), grace=span(grace), dry_run=dry_run))
    if as_json:
        emit_json(report.model_dump())
        return
    verb = "would remove" if dry_run else "removed"
    say(
        f"{report.blobs_seen} blobs, {len(report.orphans)} orphans ({report.orphan_bytes:,} bytes); "
        f"{verb} {len(report.orphans) if dry_run else report.removed} orphans and "
        f"{report.temporary_removed} temporary files"
        + (
            f"; aborted {report.uploads_aborted} incomplete uploads"
            if report.uploads_aborted
            else ""
        )
        + (f"; {report.leases_removed} leases of dead writers" if report.leases_removed else "")
    )


@app.command("prune")
def prune_cmd(
    key: Annotated[
        str | None, typer.Option("--key", "-k", help="Key name or glob (default: all).")
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

    def plan(dry: bool) -> Any:
        return _maintenance().prune(
            repo(),
            key=key,
            keep_last=keep_last,
            older_than=span(older_than) if older_than else None,
            keep_tagged=not include_tagged,
            project=project,
            dry_run=dry,
        )

    preview = run(lambda: plan(True))
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
    report = preview if dry_run or not count else run(lambda: plan(False))
    if as_json:
        emit_json(report.model_dump())
        return
    verb = "would delete" if dry_run else "deleted"
    for name, numbers in report.deleted.items():
        say(f"{verb} {name} versions {', '.join(map(str, numbers))}")
    out.print(f"{verb} {count} versions, kept {report.kept}")


@app.command("keygen")
def keygen() -> None:
    """Make an Ed25519 key pair for signing versions: the private spec goes to machines that
    log (PREFECT_ARTIFACTS_SIGNING_KEY), the public one to machines that only read."""
    from ..core.signing import new_ed25519_key

    private, public = new_ed25519_key()
    say(f"PREFECT_ARTIFACTS_SIGNING_KEY={private}")
    say(f"# readers (verify only): PREFECT_ARTIFACTS_SIGNING_KEY={public}")


def _maintenance() -> Any:
    """The core's maintenance module, imported when a command runs (``--help`` stays fast)."""
    from ..core import maintenance

    return maintenance
