"""Anything else: bytes, text, JSON-able values, local files, and opt-in pickles."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import cloudpickle

from ..errors import UnsupportedTypeError
from ..storage.streams import copy_file
from .base import Materializer

TEXT_FORMATS = ("txt", "md", "csv", "html", "xml", "yaml", "yml", "log", "json", "svg", "tsv")


class BytesMaterializer(Materializer):
    name = "bytes"
    aliases = ("prefect_artifacts.materializers.generic.BytesMaterializer",)
    types = (bytes, bytearray, memoryview)

    def default_format(self, obj: Any, options: dict[str, Any]) -> str:
        return "bin"

    def save(self, prepared: Any, sink: BinaryIO, fmt: str) -> None:
        sink.write(prepared)

    def load(self, data: bytes, version: Any) -> bytes:
        return data

    def returns_equal(self, obj: Any, version: Any) -> bool:
        return type(obj) is bytes


class TextMaterializer(Materializer):
    name = "text"
    aliases = ("prefect_artifacts.materializers.generic.TextMaterializer",)
    types = (str,)

    def default_format(self, obj: Any, options: dict[str, Any]) -> str:
        return "txt"

    def prepare(self, obj: Any, fmt: str, options: dict[str, Any]) -> bytes:
        text: str = obj
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UnsupportedTypeError(
                f"the text contains {obj[exc.start : exc.end]!r} at position {exc.start}, a lone "
                "surrogate that is not valid Unicode; decode the source properly (e.g. "
                "errors='replace'), or log the raw bytes instead"
            ) from None

    def save(self, prepared: Any, sink: BinaryIO, fmt: str) -> None:
        sink.write(prepared)

    def load(self, data: bytes, version: Any) -> str:
        return data.decode("utf-8")

    def returns_equal(self, obj: Any, version: Any) -> bool:
        return type(obj) is str


class JsonMaterializer(Materializer):
    name = "json"
    aliases = ("prefect_artifacts.materializers.generic.JsonMaterializer",)
    types = (dict, list, tuple, int, float, bool, type(None))
    formats = ("json",)

    def prepare(self, obj: Any, fmt: str, options: dict[str, Any]) -> bytes:
        try:
            return json.dumps(obj, allow_nan=False, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise UnsupportedTypeError(
                f"this value is not JSON-serializable ({exc}); convert it to plain dicts, lists, "
                "strings and finite numbers, or pass format='pkl' to pickle it"
            ) from exc

    def losses(self, obj: Any, prepared: bytes, fmt: str) -> list[str]:
        """JSON keeps only string keys and lists: other keys come back as strings (two that
        stringify alike keep one entry), tuples as lists."""
        found: list[str] = []
        _json_losses(obj, "value", found)
        return found[:5]

    def save(self, prepared: bytes, sink: BinaryIO, fmt: str) -> None:
        sink.write(prepared)

    def load(self, data: bytes, version: Any) -> Any:
        return json.loads(data)


def _json_losses(value: Any, where: str, found: list[str]) -> None:
    """Append what JSON would change in ``value`` (at ``where``) to ``found``."""
    stack = [(value, where)]
    while stack and len(found) < 5:
        value, where = stack.pop()
        items: Iterable[tuple[Any, Any]]
        if isinstance(value, tuple):
            found.append(f"{where} is a tuple, which loads back as a list")
            items = enumerate(value)
        elif isinstance(value, list):
            items = enumerate(value)
        elif isinstance(value, dict):
            texts: dict[str, Any] = {}
            for key in value:
                text = key
                if not isinstance(key, str):
                    text = json.loads(json.dumps({key: 0})).popitem()[0]
                    found.append(
                        f"{where} has the key {key!r} ({type(key).__name__}), which loads back "
                        f"as the string {text!r}"
                    )
                if text in texts:
                    found.append(
                        f"{where} has the keys {texts[text]!r} and {key!r}, which are the same "
                        "in JSON: one entry would be lost"
                    )
                texts[text] = key
            items = ((k, v) for k, v in value.items())
        else:
            continue
        stack.extend((v, f"{where}[{k!r}]") for k, v in items)


class FileMaterializer(Materializer):
    """A local file (``local_path=``); the format is its suffix."""

    name = "file"
    aliases = ("prefect_artifacts.materializers.generic.FileMaterializer",)
    types = (Path,)

    def prepare(self, obj: Any, fmt: str, options: dict[str, Any]) -> Path:
        if not obj.is_file():
            raise FileNotFoundError(
                f"local_path {str(obj)!r} is not a file; give the path of an existing file"
            )
        path: Path = obj
        return path

    def default_format(self, obj: Any, options: dict[str, Any]) -> str:
        return obj.suffix.lstrip(".").lower() or "bin"

    def save(self, prepared: Path, sink: BinaryIO, fmt: str) -> None:
        copy_file(prepared, sink)

    def source(self, prepared: Path, fmt: str) -> Path:
        return prepared

    def filename(self, prepared: Path, fmt: str, options: dict[str, Any]) -> str | None:
        return prepared.name

    def load(self, data: bytes, version: Any) -> Any:
        if version.format == "json":
            return json.loads(data)
        return data.decode("utf-8") if version.format in TEXT_FORMATS else data


class PickleMaterializer(Materializer):
    """Any object, pickled with cloudpickle — only when ``format="pkl"`` is asked for."""

    name = "pickle"
    aliases = ("prefect_artifacts.materializers.generic.PickleMaterializer",)
    types = (object,)
    formats = ("pkl",)
    explicit = True

    def save(self, prepared: Any, sink: BinaryIO, fmt: str) -> None:
        cloudpickle.dump(prepared, sink, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, data: bytes, version: Any) -> Any:
        return pickle.loads(data)

    def runs_code(self, version: Any) -> bool:
        return True

    def returns_equal(self, obj: Any, version: Any) -> bool:
        return True
