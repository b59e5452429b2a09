"""prefect-artifacts: typed, versioned artifacts for Prefect 3.

Layers (each imports only those below it): the surfaces ``cli`` and ``web``; the Prefect edge
``prefect`` (run context, UI registration, ``@artifact_task``, cache policy, block); the
``core``, which runs without Prefect.

``import prefect_artifacts`` is cheap: every public name is imported on first use (PEP 562), and
that first use installs the Prefect edge into the core's seams. Prefect itself is imported only
when a flow runs or a block is used; pandas, pyarrow and SQLAlchemy when the core first needs them.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING

from .core import integration

if TYPE_CHECKING:  # the same names, for type checkers and editors
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
        LossyFormatError,
        MigrationRequiredError,
        RepositoryMismatchError,
        StorageError,
        UnsupportedTypeError,
    )
    from .core.filters import ArtifactFilter
    from .core.lineage import Lineage, LineageEdge, LineageNode
    from .core.materializers import Materializer, register_materializer
    from .core.models import (
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
    from .core.refs import ArtifactRef
    from .core.repository import Repository
    from .core.settings import ArtifactSettings
    from .prefect.assets import asset
    from .prefect.block import ArtifactRepository
    from .prefect.cache import ARTIFACT_INPUTS, ArtifactInputs
    from .prefect.decorator import Model, artifact_task
    from .prefect.registration import flush_registrations
    from .prefect.results import ArtifactResultSerializer

try:
    __version__ = _version("prefect-artifacts")  # one version source: pyproject.toml
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_MODULES = {  # the module (under this package) defining each public name
    "core.api": (
        "best",
        "compare",
        "delete_artifact",
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
    ),
    "core.context": ("ArtifactContext", "PlotArtifact"),
    "core.dataitem": ("DataItem",),
    "core.errors": (
        "ArtifactError",
        "ArtifactNotFoundError",
        "CatalogError",
        "IntegrityError",
        "InvalidArgumentError",
        "InvalidKeyError",
        "LossyFormatError",
        "MigrationRequiredError",
        "RepositoryMismatchError",
        "StorageError",
        "UnsupportedTypeError",
    ),
    "core.filters": ("ArtifactFilter",),
    "core.lineage": ("Lineage", "LineageEdge", "LineageNode"),
    "core.materializers": ("Materializer", "register_materializer"),
    "core.models": (
        "ArtifactVersion",
        "DatasetVersion",
        "ExtraData",
        "LineageRecord",
        "ModelVersion",
        "PlotVersion",
        "Producer",
        "Revision",
        "RunInfo",
    ),
    "core.refs": ("ArtifactRef",),
    "core.repository": ("Repository",),
    "core.settings": ("ArtifactSettings",),
    "prefect.assets": ("asset",),
    "prefect.block": ("ArtifactRepository",),
    "prefect.cache": ("ARTIFACT_INPUTS", "ArtifactInputs"),
    "prefect.decorator": ("Model", "artifact_task"),
    "prefect.registration": ("flush_registrations",),
    "prefect.results": ("ArtifactResultSerializer",),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

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
    "LossyFormatError",
    "Materializer",
    "MigrationRequiredError",
    "Model",
    "ModelVersion",
    "PlotArtifact",
    "PlotVersion",
    "Producer",
    "Repository",
    "RepositoryMismatchError",
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


def _install_prefect() -> None:
    from .prefect import install

    install()


integration.on_first_use(_install_prefect)  # runs when a public name or a repository is first used


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    integration.ensure()
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
