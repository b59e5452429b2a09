"""Models: serialized bytes as given (``body=``), or an object the plugin pickles (``model=``)."""

from __future__ import annotations

import contextlib
import pickle
from pathlib import PurePath
from typing import Any, BinaryIO

import cloudpickle

from .base import Materializer

PICKLE_FORMATS = ("pkl", "pickle")
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
    """Already-serialized model bytes; the format comes from ``model_file``'s suffix."""

    name = "model-bytes"
    aliases = ("prefect_artifacts.materializers.model.ModelBytesMaterializer",)
    kind = "model"
    types = (bytes, bytearray, memoryview)
    inferred = False

    def default_format(self, obj: Any, options: dict[str, Any]) -> str:
        suffix = PurePath(options.get("model_file") or "").suffix.lstrip(".").lower()
        return suffix or "bin"

    def save(self, prepared: Any, sink: BinaryIO, fmt: str) -> None:
        sink.write(prepared)

    def filename(self, prepared: Any, fmt: str, options: dict[str, Any]) -> str | None:
        return options.get("model_file")

    def load(self, data: bytes, version: Any) -> Any:
        return pickle.loads(data) if version.format in PICKLE_FORMATS else data


class ModelPickleMaterializer(Materializer):
    """Any model object, pickled with cloudpickle; framework and algorithm are recorded, and
    scikit-learn style ``get_params()`` become the version's parameters unless given."""

    name = "model-pickle"
    aliases = ("prefect_artifacts.materializers.model.ModelPickleMaterializer",)
    kind = "model"
    types = (object,)
    formats = ("pkl",)

    def claims(self, obj: Any) -> bool:
        """Without an explicit kind, objects of known ML libraries or with fit/predict."""
        root = type(obj).__module__.split(".")[0]
        return root in ML_FRAMEWORKS or (
            callable(getattr(obj, "fit", None)) and callable(getattr(obj, "predict", None))
        )

    def save(self, prepared: Any, sink: BinaryIO, fmt: str) -> None:
        cloudpickle.dump(prepared, sink, protocol=pickle.HIGHEST_PROTOCOL)

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

    def load(self, data: bytes, version: Any) -> Any:
        return pickle.loads(data)


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
