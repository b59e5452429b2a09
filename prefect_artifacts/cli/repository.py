"""``prefect-artifacts init`` and ``info``: the repository's identity and where it lives."""

from __future__ import annotations

from typing import Any

from .app import JsonOpt, app, emit_json, fail, repo, run, say


@app.command("init")
def init_cmd(as_json: JsonOpt = False) -> None:
    """Give a new repository its identity: ``repository.json`` in the storage and the same id
    in the catalog (the first write does this too). Idempotent; refused when the catalog and
    the storage belong to different repositories."""
    from ..core.catalog.database import safe_url
    from ..core.repository import identity

    repository = run(repo)
    repository_id = run(lambda: repository.repository_id)
    if as_json:
        emit_json({"repository_id": repository_id, **_where(repository)})
        return
    say(f"repository {repository_id}")
    say(f"storage    {identity.redact(repository.storage.url)}")
    say(f"catalog    {safe_url(repository.catalog.url)}")


@app.command("info")
def info_cmd(as_json: JsonOpt = False) -> None:
    """The repository id, its storage and catalog, the catalog's schema revision and how many
    machines and catalogs have written to the storage. Exit code 5 when the catalog and the
    storage belong to different repositories."""
    from ..core.repository import identity

    repository = run(repo)
    binding = run(lambda: identity.check(repository))
    revision, head = run(lambda: repository.catalog.revision())
    writers = run(lambda: identity.writers(repository))
    document = binding.document or {}
    report: dict[str, Any] = {
        "repository_id": binding.id,
        "state": binding.state,
        **_where(repository),
        "catalog_repository_id": binding.catalog_id,
        "storage_repository_id": binding.storage_id,
        "created": document.get("created"),
        "created_with": document.get("catalog"),
        "schema_revision": revision,
        "schema_head": head,
        "machines": len({w.get("host") for w in writers}),
        "catalogs": len({str(sorted((w.get("catalog") or {}).items())) for w in writers}),
        "writers": writers,
    }
    if as_json:
        emit_json(report)
    else:
        state = {"bound": "", "new": " (new: the first write or `init` records it)"}
        say(f"repository {binding.id or 'none yet'}{state.get(binding.state, '')}")
        say(f"storage    {report['storage_url']}")
        if document:
            say(f"           created {str(document.get('created'))[:19]} with the catalog "
                f"{identity.describe(document.get('catalog'))}")  # fmt: skip
        say(f"catalog    {report['catalog_url']}")
        say(f"schema     revision {revision or 'none (empty)'} (newest {head})")
        say(f"writers    {report['machines']} machines, {report['catalogs']} catalogs")
    if binding.state == "mismatch":
        fail(identity.mismatch_error(repository, binding))


def _where(repository: Any) -> dict[str, str]:
    from ..core.catalog.database import safe_url
    from ..core.repository import identity

    return {
        "storage_url": identity.redact(repository.storage.url),
        "catalog_url": safe_url(repository.catalog.url),
    }
