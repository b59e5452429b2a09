"""prefect-artifacts: typed, versioned artifacts for Prefect 3.

Layers (each imports only those below it): the surfaces ``cli`` and ``web``; the Prefect edge
``prefect`` (run context, UI registration, ``@artifact_task``, cache policy, block); the
``core``, which runs without Prefect. Importing this package installs the Prefect edge into the
core's seams; Prefect itself is imported only when a flow runs or a block is used.
"""

from __future__ import annotations

from .core.api import (
    best,
    compare,
    delete_artifact,
    gc,
    get_artifact,
    get_context,
    get_model,
    get_repository,
    lineage,
    list_artifacts,
    log_artifact,
    log_dataset,
    log_model,
    log_plot,
    mlrun_stats,
    prune,
    reindex,
    run_metrics,
    run_results,
    select_best,
    set_description,
    set_labels,
    tag_artifact,
    tag_history,
    untag_artifact,
    update_model,
    verify,
)
from .core.context import ArtifactContext, PlotArtifact
from .core.dataitem import DataItem
from .core.errors import (
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
from .core.filters import ArtifactFilter
from .core.lineage import Lineage, LineageEdge, LineageNode
from .core.materializers import Materializer, register_materializer
from .core.models import (
    ArtifactRef,
    ArtifactVersion,
    DatasetVersion,
    ExtraData,
    LineageRecord,
    ModelVersion,
    PlotVersion,
    Producer,
    Revision,
    RunInfo,
)
from .core.repository import Repository
from .core.settings import ArtifactSettings
from .prefect import install as _install_prefect
from .prefect.decorator import Model, artifact_task
from .prefect.registration import flush_registrations

_install_prefect()

__version__ = "0.1.0"

_LAZY = {  # these import Prefect, so they load on first use
    "ARTIFACT_INPUTS": "prefect.cache",
    "ArtifactInputs": "prefect.cache",
    "ArtifactRepository": "prefect.block",
    "ArtifactResultSerializer": "prefect.results",
    "asset": "prefect.assets",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ARTIFACT_INPUTS",
    "ArtifactContext",
    "ArtifactError",
    "ArtifactFilter",
    "ArtifactInputs",
    "ArtifactNotFoundError",
    "ArtifactRef",
    "ArtifactRepository",
    "ArtifactResultSerializer",
    "ArtifactSettings",
    "ArtifactVersion",
    "CatalogError",
    "DataItem",
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
    "Model",
    "ModelVersion",
    "PlotArtifact",
    "PlotVersion",
    "Producer",
    "Repository",
    "Revision",
    "RunInfo",
    "StorageError",
    "UnsupportedTypeError",
    "artifact_task",
    "asset",
    "best",
    "compare",
    "delete_artifact",
    "flush_registrations",
    "gc",
    "get_artifact",
    "get_context",
    "get_model",
    "get_repository",
    "lineage",
    "list_artifacts",
    "log_artifact",
    "log_dataset",
    "log_model",
    "log_plot",
    "mlrun_stats",
    "prune",
    "register_materializer",
    "reindex",
    "run_metrics",
    "run_results",
    "select_best",
    "set_description",
    "set_labels",
    "tag_artifact",
    "tag_history",
    "untag_artifact",
    "update_model",
    "verify",
]
