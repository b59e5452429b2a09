"""The core: artifacts, versions, storage and catalog, with no knowledge of any orchestrator.

Nothing under ``prefect_artifacts.core`` imports Prefect. Integrations plug in through three
seams: :func:`runs.set_run_provider` (who is producing or consuming), :func:`events.subscribe`
(what changed, after it committed) and :func:`api.add_repository_resolver` (other ways to name a
repository).
"""

from __future__ import annotations

from .api import (
    add_repository_resolver,
    delete_artifact,
    gc,
    get_artifact,
    get_context,
    get_repository,
    lineage,
    list_artifacts,
    log_artifact,
    log_dataset,
    log_model,
    log_plot,
    prune,
    reindex,
    set_labels,
    tag_artifact,
    untag_artifact,
    verify,
)
from .context import ArtifactContext
from .errors import (
    ArtifactError,
    ArtifactNotFoundError,
    CatalogError,
    IntegrityError,
    InvalidArgumentError,
    InvalidKeyError,
    MigrationRequiredError,
    StorageError,
    UnsupportedTypeError,
)
from .filters import ArtifactFilter
from .lineage import Lineage, LineageEdge, LineageNode
from .materializers import Materializer, register_materializer
from .models import (
    ArtifactRef,
    ArtifactVersion,
    DatasetVersion,
    ExtraData,
    LineageRecord,
    ModelVersion,
    PlotVersion,
    Producer,
)
from .repository import Repository
from .runs import RunInfo, current_run, set_run_provider
from .settings import ArtifactSettings

__all__ = [
    "ArtifactContext",
    "ArtifactError",
    "ArtifactFilter",
    "ArtifactNotFoundError",
    "ArtifactRef",
    "ArtifactSettings",
    "ArtifactVersion",
    "CatalogError",
    "DatasetVersion",
    "ExtraData",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "Lineage",
    "LineageEdge",
    "LineageNode",
    "LineageRecord",
    "Materializer",
    "MigrationRequiredError",
    "ModelVersion",
    "PlotVersion",
    "Producer",
    "Repository",
    "RunInfo",
    "StorageError",
    "UnsupportedTypeError",
    "add_repository_resolver",
    "current_run",
    "delete_artifact",
    "gc",
    "get_artifact",
    "get_context",
    "get_repository",
    "lineage",
    "list_artifacts",
    "log_artifact",
    "log_dataset",
    "log_model",
    "log_plot",
    "prune",
    "register_materializer",
    "reindex",
    "set_labels",
    "set_run_provider",
    "tag_artifact",
    "untag_artifact",
    "verify",
]
