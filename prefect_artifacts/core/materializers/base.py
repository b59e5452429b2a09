"""The materializer contract and the registry that dispatches on type.

A materializer turns one family of Python objects into bytes plus kind-specific metadata and
back. It is pure: no catalog, no storage paths, no Prefect. Materializers come from three
places, consulted in this order: :func:`register_materializer` calls, packages that declare a
``prefect_artifacts.materializers`` entry point, and the built-ins.
"""

from __future__ import annotations

import inspect
import logging
import mimetypes
import re
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from ..errors import InvalidArgumentError, UnsupportedTypeError

ENTRY_POINT_GROUP = "prefect_artifacts.materializers"
TYPED_KINDS = ("dataset", "model", "plot")  # the rest are generic artifacts
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_FORMAT = re.compile(r"[a-z0-9][a-z0-9_+-]{0,15}")
logger = logging.getLogger("prefect_artifacts.materializers")

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
    """Stores one family of types.

    The contract, checked when a class registers:

    - ``name``: the stable id stored with every version, so the reader finds this materializer
      again after the class is renamed or moved (default: ``module.QualifiedName``); ``aliases``
      are older names it also answers to.
    - ``kind`` (a lowercase name), ``types`` (classes, or dotted names such as
      ``"pandas.DataFrame"`` so optional libraries are never imported to check a type) and
      ``formats`` (the first is the default; empty accepts any).
    - ``save(prepared, sink, fmt)`` writes the bytes to a binary file object.
    - ``load(data, version, **options)`` receives the verified bytes and the
      :class:`ArtifactVersion` (its ``format`` and kind-specific fields) and returns the object.
    - optional ``load_file(path, version, **options)``: for versions over 64 MB, a local path to
      verified bytes instead of the bytes in memory.
    - optional ``prepare``, ``metadata``, ``fingerprint``, ``filename``, ``default_format``.
    """

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[str] = "artifact"
    types: ClassVar[tuple[type | str, ...]] = ()
    formats: ClassVar[tuple[str, ...]] = ()  # first is the default; empty accepts any format
    explicit: ClassVar[bool] = False  # only chosen when one of its formats is asked for
    inferred: ClassVar[bool] = True  # False: only chosen when its kind is asked for
    decides_trust: ClassVar[bool] = False  # True: load() takes trusted= and decides itself
    parse_before_verify: ClassVar[bool] = False  # True: load() runs no stored code (safe to
    # parse while the sha256 is checked in parallel); never True for pickles

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:  # never inherit another materializer's id
            cls.name = f"{cls.__module__}.{cls.__qualname__}"

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

    def source(self, prepared: Any, fmt: str) -> Path | None:
        """A local file holding exactly the bytes :meth:`save` writes, or None. An object
        store uploads a large one from where it is instead of spooling a copy."""
        return None

    def metadata(self, prepared: Any, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
        """Kind-specific metadata; runs in a second thread while :meth:`save` writes."""
        return {}

    def filename(self, prepared: Any, fmt: str, options: dict[str, Any]) -> str | None:
        """A file name to offer on download, when the object has a natural one."""
        return None

    def extras(self, prepared: Any, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
        """Extra data every version of this format carries (name → bytes), stored
        content-addressed like any extra data: once, however many versions use it."""
        return {}

    def load(self, data: bytes, version: Any) -> Any:
        raise NotImplementedError

    def runs_code(self, version: Any) -> bool:
        """Whether loading ``version`` executes code stored in it (a pickle). Such versions
        load only when trusted (see ``ArtifactVersion.load``)."""
        return False

    def losses(self, obj: Any, prepared: Any, fmt: str) -> list[str]:
        """What loading ``fmt`` would not give back exactly (the fidelity contract): each a
        short phrase naming the part of ``obj`` and what changes. Non-empty: the log is
        refused, or with ``lossy="allow"`` stored with these as its ``lossy`` marker."""
        return []

    def returns_equal(self, obj: Any, version: Any) -> bool:
        """Whether loading ``version`` (stored from ``obj``) gives back a value equal to
        ``obj``, of its type: a persisted Prefect result then refers to the version instead of
        pickling ``obj`` a second time."""
        return False


def _isinstance(obj: Any, target: type | str) -> bool:
    if isinstance(target, type):
        return isinstance(obj, target)
    module, _, attr = target.rpartition(".")
    mod = sys.modules.get(module)  # not imported means obj cannot be an instance
    cls = getattr(mod, attr, None) if mod else None
    return isinstance(cls, type) and isinstance(obj, cls)


def check_contract(materializer: type[Materializer] | Materializer) -> Materializer:
    """An instance of ``materializer`` if it keeps the contract; else a TypeError that says
    what is wrong."""
    instance = materializer() if isinstance(materializer, type) else materializer
    cls = type(instance)
    where = f"materializer {cls.__module__}.{cls.__qualname__}"
    if not isinstance(instance, Materializer):
        raise TypeError(
            f"{materializer!r} is not a Materializer; subclass prefect_artifacts.Materializer "
            "and implement save() and load()"
        )
    problems = []
    if not isinstance(cls.name, str) or not 0 < len(cls.name) <= 255:
        problems.append("name must be a non-empty string of at most 255 characters")
    if not isinstance(cls.kind, str) or not _NAME.fullmatch(cls.kind):
        problems.append(f"kind {cls.kind!r} must be a lowercase name such as 'report'")
    if not cls.types or not all(isinstance(t, (type, str)) for t in cls.types):
        problems.append("types must list classes or dotted names such as 'pandas.DataFrame'")
    if not all(isinstance(f, str) and _FORMAT.fullmatch(f) for f in cls.formats):
        problems.append(f"formats {cls.formats!r} must be lowercase names such as 'parquet'")
    if cls.explicit and not cls.formats:
        problems.append("an explicit materializer must list the formats that select it")
    for method, arity in (("save", 3), ("load", 2)):
        if getattr(cls, method) is getattr(Materializer, method):
            problems.append(f"{method}() is not implemented")
        elif not _takes(getattr(instance, method), arity):
            problems.append(f"{method}() must accept {arity} positional arguments")
    load_file = getattr(instance, "load_file", None)
    if load_file is not None and not _takes(load_file, 2):
        problems.append("load_file() must accept (path, version)")
    if problems:
        raise TypeError(f"{where} does not keep the materializer contract: {'; '.join(problems)}")
    return instance


def _takes(method: Any, arity: int) -> bool:
    try:
        inspect.signature(method).bind(*range(arity))
    except TypeError:
        return False
    return True


class MaterializerRegistry:
    """Type → materializer: registered ones first, then entry-point plugins, then built-ins."""

    def __init__(self, builtins: tuple[type[Materializer], ...] = ()) -> None:
        self._registered: list[Materializer] = []
        self._plugins: list[Materializer] | None = None  # loaded on first use
        self._builtins = [check_contract(m) for m in reversed(builtins)]

    @property
    def _items(self) -> list[Materializer]:
        if self._plugins is None:
            self._plugins = self._load_plugins()
        return [*self._registered, *self._plugins, *self._builtins]

    @staticmethod
    def _load_plugins() -> list[Materializer]:
        found = []
        for point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                found.append(check_contract(point.load()))
            except Exception as exc:  # one broken plugin must not break every log
                logger.warning(
                    "ignoring materializer entry point %s (%s): %s: %s",
                    point.name,
                    point.value,
                    type(exc).__name__,
                    exc,
                )
        return found

    def register(self, materializer: type[Materializer] | Materializer) -> Materializer:
        instance = check_contract(materializer)
        self._registered = [m for m in self._registered if m.name != instance.name]
        self._registered.insert(0, instance)
        return instance

    def unregister(self, materializer: type[Materializer] | Materializer) -> None:
        self._registered = [m for m in self._registered if m.name != materializer.name]

    def kinds(self) -> set[str]:
        return {m.kind for m in self._items}

    def by_name(self, name: str) -> Materializer | None:
        """The materializer recorded as ``name`` (its current name or an older alias)."""
        return next((m for m in self._items if name == m.name or name in m.aliases), None)

    def named(self, name: str) -> Materializer:
        """``by_name``, for a materializer that must be registered."""
        found = self.by_name(name)
        if found is None:
            raise LookupError(f"no materializer named {name!r} is registered")
        return found

    def resolve(self, obj: Any, *, kind: str | None = None, fmt: str | None = None) -> Materializer:
        """The first materializer for ``obj`` (of ``kind`` and accepting ``fmt``, when given).
        The generic kind ``"artifact"`` also takes materializers of custom kinds."""
        fitting = [
            m
            for m in self._items
            if (kind in (None, m.kind) or (kind == "artifact" and m.kind not in TYPED_KINDS))
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
        what = f"a {kind} " if kind and kind != "artifact" else "an "
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
