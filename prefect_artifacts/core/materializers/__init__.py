"""Type → materializer registry with the built-in materializers."""

from __future__ import annotations

from .base import ENTRY_POINT_GROUP, Materializer, MaterializerRegistry, content_type
from .dataset import DatasetMaterializer
from .generic import (
    BytesMaterializer,
    FileMaterializer,
    JsonMaterializer,
    PickleMaterializer,
    TextMaterializer,
)
from .model import (
    ModelBytesMaterializer,
    ModelPickleMaterializer,
    ModelSafetensorsMaterializer,
    ModelSkopsMaterializer,
)
from .plot import ImageBytesMaterializer, MatplotlibMaterializer, PlotlyMaterializer

# The built-ins, last-to-first: the ones listed later are consulted first.
registry = MaterializerRegistry(
    (
        PickleMaterializer,
        BytesMaterializer,
        TextMaterializer,
        JsonMaterializer,
        FileMaterializer,
        ModelPickleMaterializer,
        ModelBytesMaterializer,
        ModelSkopsMaterializer,
        ModelSafetensorsMaterializer,
        ImageBytesMaterializer,
        MatplotlibMaterializer,
        PlotlyMaterializer,
        DatasetMaterializer,
    )
)


def register_materializer(materializer: type[Materializer] | Materializer) -> Materializer:
    """Make ``materializer`` handle its ``types``; it is consulted before the built-ins."""
    return registry.register(materializer)


__all__ = [
    "ENTRY_POINT_GROUP",
    "DatasetMaterializer",
    "Materializer",
    "MaterializerRegistry",
    "content_type",
    "register_materializer",
    "registry",
]
