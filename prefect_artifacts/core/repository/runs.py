"""Lineage records: which runs produced and consumed which versions."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..catalog import utcnow
from ..events import Consumed, emit
from ..models import ArtifactVersion, LineageRecord
from ..runs import current_run

if TYPE_CHECKING:
    from .protocol import Repo

logger = logging.getLogger("prefect_artifacts")


def record_consumer(repo: Repo, version: ArtifactVersion) -> None:
    """Inside a run, note (once) that the run consumed ``version``."""
    run = current_run()
    if run is None:
        return
    try:
        added = repo.catalog.add_run(repo.row_id(version), "consumer", run.lineage(), utcnow())
        if added:
            repo.drain()
    except Exception as exc:  # lineage is best effort; the load itself succeeded
        logger.warning("could not record that this run consumed %s: %s", version.ref, exc)
        return
    if added:
        emit(Consumed(repo, version, run))


def record_inputs_from(repo: Repo, upstream_run_ids: list[str]) -> list[ArtifactVersion]:
    """Versions produced by ``upstream_run_ids`` (the runs whose results this run received)
    become this run's inputs. Returns those versions."""
    versions = _versions(repo, upstream_run_ids, "producer")
    for version in versions:
        record_consumer(repo, version)
    return versions


def runs_of(repo: Repo, version: ArtifactVersion, role: str) -> list[LineageRecord]:
    return [LineageRecord(**vars(r)) for r in repo.catalog.runs(repo.row_id(version), role)]


def inputs_of_run(repo: Repo, run_id: str | None) -> list[ArtifactVersion]:
    """The versions a run (task run id, or flow run id for the flow body) consumed."""
    return _versions(repo, [run_id] if run_id else [], "consumer")


def outputs_of_run(repo: Repo, run_id: str | None) -> list[ArtifactVersion]:
    """The versions a run produced (including identical re-logs)."""
    return _versions(repo, [run_id] if run_id else [], "producer")


def _versions(repo: Repo, run_ids: list[str], role: str) -> list[ArtifactVersion]:
    vids = repo.catalog.run_versions(run_ids, role) if run_ids else []
    return repo.versions_by_id(vids)
