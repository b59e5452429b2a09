"""The materializer protocol and the registry that dispatches on type.

A materializer turns one family of Python objects into bytes plus kind-specific metadata and
back. It is pure: no catalog, no storage paths, no Prefect.
"""

from __future__ import annotations

import mimetypes
import sys
from typing import Any, BinaryIO, ClassVar

from ..errors import InvalidArgumentError, UnsupportedTypeError

CONTENT_TYPES = {
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.file",
    "csv": "text/csv",
    "json": "application/json",
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "pkl": "application/octet-stream",
    "bin": "application/octet-stream",
}


def content_type(fmt: str) -> str:
    return (
        CONTENT_TYPES.get(fmt) or mimetypes.guess_type(f"x.{fmt}")[0] or "application/octet-stream"
    )


class Materializer:
    """Stores one family of types. Subclasses set ``kind``, ``types``, ``formats`` and
    implement :meth:`save` and :meth:`load`; the other hooks are optional.

    ``types`` may hold classes or dotted names (``"pandas.DataFrame"``) so optional libraries
    are never imported just to check a type.
    """

    kind: ClassVar[str] = "artifact"
    types: ClassVar[tuple[type | str, ...]] = ()
    formats: ClassVar[tuple[str, ...]] = ()  # first is the default; empty accepts any format
    explicit: ClassVar[bool] = False  # only chosen when one of its formats is asked for
    inferred: ClassVar[bool] = True  # False: only chosen when its kind is asked for
    parse_before_verify: ClassVar[bool] = False  # True: load() runs no stored code (safe to
    # parse while the sha256 is checked in parallel); never True for pickles

    @classmethod
    def name(cls) -> str:
        """Stable id recorded with each version so the reader finds the same materializer."""
        return f"{cls.__module__}.{cls.__qualname__}"

    def handles(self, obj: Any) -> bool:
        return any(_isinstance(obj, t) for t in self.types)

    def claims(self, obj: Any) -> bool:
        """Whether ``obj`` is of this kind when no kind was asked for (the decorator's case)."""
        return self.inferred and self.handles(obj)

    def accepts_format(self, fmt: str) -> bool:
        return not self.formats or fmt in self.formats

    def default_format(self, obj: Any, options: dict[str, Any]) -> str:
        return self.formats[0] if self.formats else "bin"

    def prepare(self, obj: Any, fmt: str, options: dict[str, Any]) -> Any:
        """Convert once into what both :meth:`save` and :meth:`metadata` read."""
        return obj

    def fingerprint(self, prepared: Any, fmt: str) -> str | None:
        """A cheap content id computed without serializing, or None. Equal fingerprints must
        mean equal serialized bytes; it lets re-logging identical content skip the write."""
        return None

    def save(self, prepared: Any, sink: BinaryIO, fmt: str) -> None:
        raise NotImplementedError

    def metadata(self, prepared: Any, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
        """Kind-specific metadata; runs in a second thread while :meth:`save` writes."""
        return {}

    def filename(self, prepared: Any, fmt: str, options: dict[str, Any]) -> str | None:
        """A file name to offer on download, when the object has a natural one."""
        return None

    def load(self, data: bytes, version: Any) -> Any:
        raise NotImplementedError


def _isinstance(obj: Any, target: type | str) -> bool:
    if isinstance(target, type):
        return isinstance(obj, target)
    module, _, attr = target.rpartition(".")
    mod = sys.modules.get(module)  # not imported means obj cannot be an instance
    cls = getattr(mod, attr, None) if mod else None
    return isinstance(cls, type) and isinstance(obj, cls)


class MaterializerRegistry:
    """Type → materializer. Later registrations win, so users can override built-ins."""

    def __init__(self) -> None:
        self._items: list[Materializer] = []

    def register(self, materializer: type[Materializer] | Materializer) -> Materializer:
        instance = materializer() if isinstance(materializer, type) else materializer
        if not isinstance(instance, Materializer):
            raise TypeError(
                f"{materializer!r} is not a Materializer; subclass "
                "prefect_artifacts.Materializer and implement save() and load()"
            )
        self._items = [m for m in self._items if m.name() != instance.name()]
        self._items.insert(0, instance)
        return instance

    def unregister(self, materializer: type[Materializer] | Materializer) -> None:
        self._items = [m for m in self._items if m.name() != materializer.name()]

    def kinds(self) -> set[str]:
        return {m.kind for m in self._items}

    def by_name(self, name: str) -> Materializer | None:
        return next((m for m in self._items if m.name() == name), None)

    def resolve(self, obj: Any, *, kind: str | None = None, fmt: str | None = None) -> Materializer:
        """The first materializer for ``obj`` (of ``kind`` and accepting ``fmt``, when given)."""
        fitting = [
            m
            for m in self._items
            if (kind is None or m.kind == kind)
            and (not m.explicit or (fmt is not None and fmt in m.formats))
            and (m.handles(obj) if kind is not None else m.claims(obj))
        ]
        for m in fitting:
            if fmt is None or m.accepts_format(fmt):
                return m
        if fitting:
            formats = sorted({f for m in fitting for f in m.formats})
            raise InvalidArgumentError(
                f"format {fmt!r} is not supported for {type(obj).__name__} as a "
                f"{fitting[0].kind}; use one of: {', '.join(formats)}"
            )
        what = f"a {kind} " if kind else "an "
        known = sorted(
            {
                t if isinstance(t, str) else t.__name__
                for m in self._items
                if kind in (None, m.kind)
                for t in m.types
            }
        )
        raise UnsupportedTypeError(
            f"cannot store {type(obj).__module__}.{type(obj).__qualname__} as {what}artifact: "
            f"supported types are {', '.join(known)}. Register a materializer for it with "
            "prefect_artifacts.register_materializer(MyMaterializer) (subclass "
            "prefect_artifacts.Materializer), or pass format='pkl' to log_artifact to pickle it."
        )
