"""The Prefect edge: everything that knows about Prefect, plugged into the core's seams.

- ``runtime``: the run provider (which flow run and task run is producing or consuming);
- ``registration`` + ``cards``: a listener that registers logged versions in Prefect's UI
  (markdown cards, preview tables, events, asset materializations);
- ``decorator``: ``@artifact_task``; ``cache``: the ``ARTIFACT_INPUTS`` cache policy;
- ``block``: the ``ArtifactRepository`` block, and the resolver that finds saved ones by name.

:func:`install` wires these into the core without importing Prefect; Prefect is imported when a
flow runs or a block is used.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, cast

from ..core import api, events, models, runs
from ..core.settings import ArtifactSettings


def install() -> None:
    """Plug the Prefect integration into the core (idempotent)."""
    from . import registration, runtime

    runs.set_run_provider(runtime.current_run)
    runs.set_run_logger(runtime.run_logger)
    models.set_run_linker(runtime.run_url)
    events.subscribe(registration.on_event)
    api.add_repository_resolver(resolve_block)


def resolve_block(value: Any) -> ArtifactSettings | None:
    """Settings of an ``ArtifactRepository`` block, given the block or a saved block's name."""
    if isinstance(value, str):
        return _saved(value)
    block = sys.modules.get(f"{__name__}.block")
    if block is not None and isinstance(value, block.ArtifactRepository):
        settings: ArtifactSettings = value.settings()
        return settings
    return None


@functools.lru_cache(maxsize=32)
def _saved(name: str) -> ArtifactSettings:
    from ..core.errors import ArtifactNotFoundError
    from .block import ArtifactRepository

    try:
        # Block.load is typed "block or coroutine" (it awaits when called from async code);
        # this is sync code, so it is the block
        return cast(ArtifactRepository, ArtifactRepository.load(name)).settings()
    except ValueError as exc:
        raise ArtifactNotFoundError(
            f"no saved ArtifactRepository block named {name!r} ({exc}); save one with "
            f"ArtifactRepository(...).save({name!r}) or unset PREFECT_ARTIFACTS_REPOSITORY"
        ) from exc
