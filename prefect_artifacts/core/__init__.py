"""The core: artifacts, versions, storage and catalog, with no knowledge of any orchestrator.

Nothing under ``prefect_artifacts.core`` imports Prefect. Integrations plug in through three
seams: :func:`runs.set_run_provider` (who is producing or consuming), :func:`events.subscribe`
(what changed, after it committed) and :func:`api.add_repository_resolver` (other ways to name a
repository). The public API is re-exported by ``prefect_artifacts`` itself, which works without
Prefect too.
"""
