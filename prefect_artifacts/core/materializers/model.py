"""Models: serialized bytes as given (``body=``), or an object the plugin pickles (``model=``)."""

from __future__ import annotations

import contextlib
import logging
import pickle
from pathlib import Path, PurePath
from typing import Any, BinaryIO

from ..storage.streams import copy_file
from .base import Materializer
from .generic import PickleMaterializer

PICKLE_FORMATS = ("pkl", "pickle")
FILES_LISTED = 1000  # the files of a model folder named in its metadata
logger = logging.getLogger("prefect_artifacts")
ML_FRAMEWORKS = {
    "sklearn",
    "xgboost",
    "lightgbm",
    "catboost",
    "torch",
    "tensorflow",
    "keras",
    "statsmodels",
    "transformers",
}


class ModelBytesMaterializer(Materializer):
    """Already-serialized model bytes, a local model file or a model folder (both streamed,
    never read whole into memory); the format comes from ``model_file``'s suffix."""

    name = "model-bytes"
    aliases = ("prefect_artifacts.materializers.model.ModelBytesMaterializer",)
    kind = "model"
    types = (bytes, bytearray, memoryview, Path, "prefect_artifacts.core.mlrun.FolderArchive")
    inferred = False

    def default_format(self, obj: Any, options: dict[str, Any]) -> str:
        suffix = PurePath(options.get("model_file") or "").suffix.lstrip(".").lower()
        return suffix or "bin"

    def save(self, prepared: Any, sink: BinaryIO, fmt: str) -> None:
        if isinstance(prepared, Path):
            copy_file(prepared, sink)
        elif hasattr(prepared, "write"):  # a FolderArchive (model_dir=), streamed as a tar
            prepared.write(sink)
        else:
            sink.write(prepared)

    def source(self, prepared: Any, fmt: str) -> Path | None:
        return prepared if isinstance(prepared, Path) else None

    def filename(self, prepared: Any, fmt: str, options: dict[str, Any]) -> str | None:
        return options.get("model_file")

    def metadata(self, prepared: Any, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
        """A folder (``model_dir=``): the files it stored (``meta["files"]``)."""
        files = getattr(prepared, "files", None)
        if files is None:
            return {}
        logger.info("model_dir: stored %d files (%s)", len(files), ", ".join(files[:10]))
        return {"files": files[:FILES_LISTED], "file_count": len(files)}

    def load(self, data: bytes, version: Any) -> Any:
        return pickle.loads(data) if version.format in PICKLE_FORMATS else data

    def runs_code(self, version: Any) -> bool:
        return version.format in PICKLE_FORMATS

    def returns_equal(self, obj: Any, version: Any) -> bool:
        return type(obj) is bytes and version.format not in PICKLE_FORMATS


class ModelPickleMaterializer(PickleMaterializer):
    """Any model object, pickled with cloudpickle; framework and algorithm are recorded, and
    scikit-learn style ``get_params()`` become the version's parameters unless given."""

    name = "model-pickle"
    aliases = ("prefect_artifacts.materializers.model.ModelPickleMaterializer",)
    kind = "model"
    explicit = False  # chosen for model objects without format="pkl" too (see claims)

    def claims(self, obj: Any) -> bool:
        """Without an explicit kind, objects of known ML libraries or with fit/predict."""
        root = type(obj).__module__.split(".")[0]
        return root in ML_FRAMEWORKS or (
            callable(getattr(obj, "fit", None)) and callable(getattr(obj, "predict", None))
        )

    def metadata(self, prepared: Any, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
        cls = type(prepared)
        meta: dict[str, Any] = {
            "framework": cls.__module__.split(".")[0],
            "algorithm": cls.__qualname__,
        }
        get_params = getattr(prepared, "get_params", None)
        if callable(get_params):  # another get_params signature: skip, never fail a log
            with contextlib.suppress(Exception):
                meta["parameters"] = {k: _plain(v) for k, v in get_params(deep=False).items()}
        return meta

    def filename(self, prepared: Any, fmt: str, options: dict[str, Any]) -> str | None:
        return options.get("model_file")


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


class ModelSkopsMaterializer(Materializer):
    """scikit-learn models in skops' format (``format="skops"``): loading runs no stored code;
    types skops does not trust by default are refused unless the load is trusted."""

    name = "model-skops"
    kind = "model"
    types = (object,)
    formats = ("skops",)
    explicit = True
    decides_trust = True

    def save(self, prepared: Any, sink: BinaryIO, fmt: str) -> None:
        import skops.io

        sink.write(skops.io.dumps(prepared))

    def metadata(self, prepared: Any, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
        return ModelPickleMaterializer().metadata(prepared, fmt, options)

    def filename(self, prepared: Any, fmt: str, options: dict[str, Any]) -> str | None:
        return options.get("model_file")

    def load(self, data: bytes, version: Any, trusted: bool = False) -> Any:
        import skops.io

        untrusted = skops.io.get_untrusted_types(data=data)
        if untrusted and not trusted:
            from ..errors import UntrustedContentError

            raise UntrustedContentError(
                f"{version.ref} holds types skops does not trust by default ({', '.join(untrusted)}"
                "); load it with load(trusted=True) if you trust them"
            )
        return skops.io.loads(data, trusted=untrusted or None)


class ModelSafetensorsMaterializer(Materializer):
    """Weights as a dict of name → numpy array in safetensors' format (``format="safetensors"``):
    plain numbers, no code."""

    name = "model-safetensors"
    kind = "model"
    types = (dict,)
    formats = ("safetensors",)
    explicit = True

    def prepare(self, obj: Any, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        if not all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items()):
            from ..errors import UnsupportedTypeError

            raise UnsupportedTypeError(
                "format='safetensors' stores a dict of name → numpy array (model weights); "
                "convert the values with np.asarray(...), or use format='skops' for scikit-learn"
            )
        # safetensors stores an array's memory as if it were C-ordered: a transposed, strided
        # or Fortran-ordered array would come back as another matrix. Store C-ordered copies.
        return {k: v if v.flags.c_contiguous else v.copy(order="C") for k, v in obj.items()}

    def save(self, prepared: dict[str, Any], sink: BinaryIO, fmt: str) -> None:
        import safetensors.numpy

        sink.write(safetensors.numpy.save(prepared))

    def filename(self, prepared: Any, fmt: str, options: dict[str, Any]) -> str | None:
        return options.get("model_file")

    def load(self, data: bytes, version: Any) -> dict[str, Any]:
        import safetensors.numpy

        return safetensors.numpy.load(data)
