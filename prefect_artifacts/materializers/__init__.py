"""Type → materializer registry with the built-in materializers registered."""

from __future__ import annotations

from .base import Materializer, MaterializerRegistry, content_type
from .dataset import DatasetMaterializer
from .generic import (
    BytesMaterializer,
    FileMaterializer,
    JsonMaterializer,
    PickleMaterializer,
    TextMaterializer,
)
from .model import ModelBytesMaterializer, ModelPickleMaterializer
from .plot import ImageBytesMaterializer, MatplotlibMaterializer, PlotlyMaterializer

registry = MaterializerRegistry()
# Registered last-to-first: the ones listed later are consulted first.
for _materializer in (
    PickleMaterializer,
    BytesMaterializer,
    TextMaterializer,
    JsonMaterializer,
    FileMaterializer,
    ModelPickleMaterializer,
    ModelBytesMaterializer,
    ImageBytesMaterializer,
    MatplotlibMaterializer,
    PlotlyMaterializer,
    DatasetMaterializer,
):
    registry.register(_materializer)


def register_materializer(materializer: type[Materializer] | Materializer) -> Materializer:
    """Make ``materializer`` handle its ``types``; it is consulted before the built-ins."""
    return registry.register(materializer)


__all__ = [
    "DatasetMaterializer",
    "Materializer",
    "MaterializerRegistry",
    "content_type",
    "register_materializer",
    "registry",
]
