"""Artifact keys as Prefect assets (``prefect.assets.Asset``), so Prefect's asset lineage and
ours line up.

An artifact key's asset key is where its versions are described in storage
(``<storage URL>/manifests/<project>/<key>``): the same on every machine that shares the
repository. Pass ``pa.asset("features@prod")`` in ``@materialize(..., asset_deps=[...])``; a
``@materialize`` task that receives an ``@artifact_task``'s result sees the artifact as upstream,
as it would another ``@materialize`` task's.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..core.api import get_repository
from ..core.errors import ArtifactNotFoundError
from ..core.keys import parse_ref
from ..core.models import ArtifactVersion
from .cards import detail_url

if TYPE_CHECKING:
    from prefect.assets import Asset

    from ..core.repository import Repository

MAX_KEY = 512  # Prefect's limit on asset keys
RESTRICTED = r"[\s#?&%\"'<>\[\]{}|\\^`\x00]"  # characters Prefect refuses in asset keys


def asset_key(repo: Repository, project: str, key: str) -> str:
    """A valid Prefect asset key (a URI without Prefect's restricted characters, at most 512
    long) for ``project/key``."""
    base = repo.storage.url.rstrip("/")
    scheme, sep, rest = base.partition("://")
    if not sep:
        scheme, rest = "file", base
    path = re.sub(RESTRICTED, "_", f"{rest}/manifests/{project}/{key}")
    room = MAX_KEY - len(scheme) - 3
    return f"{scheme.lower()}://{path if len(path) <= room else path[-room:]}"


def asset_of(repo: Repository, version: ArtifactVersion) -> Asset:
    """The Prefect asset of ``version``'s key, with its name, description, URL and owner."""
    from prefect.assets import Asset, AssetProperties

    return Asset(
        key=asset_key(repo, version.project, version.key),
        properties=AssetProperties(
            name=version.key,
            description=f"{version.kind} artifact {version.project}/{version.key}"
            + (f": {version.description}" if version.description else ""),
            url=(detail_url(repo.settings.ui_url, version) or "").split("?", 1)[0] or None,
            owners=[version.owner] if version.owner else None,
        ),
    )


def asset(ref: str | ArtifactVersion, repository: Any = None) -> Asset:
    """The Prefect asset of an artifact (``"features"``, ``"features@prod"`` or a version),
    e.g. for ``@materialize(report_asset, asset_deps=[pa.asset("features")])``."""
    repo = get_repository(repository)
    if isinstance(ref, ArtifactVersion):
        return asset_of(repo, ref)
    try:
        return asset_of(repo, repo.get(ref))
    except ArtifactNotFoundError:  # not logged yet (a module decorated before its first run)
        from prefect.assets import Asset, AssetProperties

        parsed = parse_ref(ref)
        project = parsed.project or repo.project
        return Asset(
            key=asset_key(repo, project, parsed.key), properties=AssetProperties(name=parsed.key)
        )


def resource(item: Asset) -> dict[str, str]:
    """The asset as an event's resource (Prefect's own format)."""
    from prefect.context import AssetContext

    return AssetContext.asset_as_resource(item)


def related(item: Asset) -> dict[str, str]:
    from prefect.context import AssetContext

    return AssetContext.asset_as_related(item)


def track(repo: Repository, version: ArtifactVersion) -> None:
    """Inside a task run: make ``version``'s asset upstream of the tasks that receive this task
    run's result, as Prefect does for ``@materialize`` tasks."""
    from prefect.context import FlowRunContext, TaskRunContext

    flow_ctx, task_ctx = FlowRunContext.get(), TaskRunContext.get()
    if flow_ctx is None or task_ctx is None:
        return
    tracked = flow_ctx.task_run_assets.setdefault(task_ctx.task_run.id, set())
    tracked.add(asset_of(repo, version))


def prefect_upstream() -> list[dict[str, str]]:
    """Inside a task run: the assets Prefect has upstream of it (the ``@materialize`` results
    it received, its ``asset_deps``), as related resources."""
    from prefect.context import AssetContext

    context = AssetContext.get()
    if context is None:
        return []
    found = context.upstream_assets | context.direct_asset_dependencies
    return [related(item) for item in sorted(found, key=lambda a: a.key)]
