"""prefect-artifacts: typed, versioned artifacts for Prefect 3."""

from __future__ import annotations

from .api import (
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
from .decorator import Model, artifact_task
from .errors import (
    ArtifactError,
    ArtifactNotFoundError,
    CatalogError,
    IntegrityError,
    InvalidArgumentError,
    InvalidKeyError,
    StorageError,
    UnsupportedTypeError,
)
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
from .registration import flush_registrations
from .repository import Repository
from .settings import ArtifactSettings

__version__ = "0.1.0"

_LAZY = {  # these import Prefect, so they load on first use
    "ARTIFACT_INPUTS": "cache",
    "ArtifactInputs": "cache",
    "ArtifactRepository": "block",
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
    "ArtifactInputs",
    "ArtifactNotFoundError",
    "ArtifactRef",
    "ArtifactRepository",
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
    "Model",
    "ModelVersion",
    "PlotVersion",
    "Producer",
    "Repository",
    "StorageError",
    "UnsupportedTypeError",
    "artifact_task",
    "delete_artifact",
    "flush_registrations",
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
    "tag_artifact",
    "untag_artifact",
    "verify",
]
