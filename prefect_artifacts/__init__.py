"""prefect-artifacts: typed, versioned artifacts for Prefect 3."""

from __future__ import annotations

from .api import (
    delete_artifact,
    get_artifact,
    get_context,
    get_repository,
    list_artifacts,
    log_artifact,
    log_dataset,
    log_model,
    log_plot,
    set_labels,
    tag_artifact,
    untag_artifact,
)
from .context import ArtifactContext
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
from .materializers import Materializer, register_materializer
from .models import (
    ArtifactVersion,
    DatasetVersion,
    ExtraData,
    LineageRecord,
    ModelVersion,
    PlotVersion,
    Producer,
)
from .repository import Repository
from .settings import ArtifactSettings

__version__ = "0.1.0"

__all__ = [
    "ArtifactContext",
    "ArtifactError",
    "ArtifactNotFoundError",
    "ArtifactSettings",
    "ArtifactVersion",
    "CatalogError",
    "DatasetVersion",
    "ExtraData",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "LineageRecord",
    "Materializer",
    "ModelVersion",
    "PlotVersion",
    "Producer",
    "Repository",
    "StorageError",
    "UnsupportedTypeError",
    "delete_artifact",
    "get_artifact",
    "get_context",
    "get_repository",
    "list_artifacts",
    "log_artifact",
    "log_dataset",
    "log_model",
    "log_plot",
    "register_materializer",
    "set_labels",
    "tag_artifact",
    "untag_artifact",
]
