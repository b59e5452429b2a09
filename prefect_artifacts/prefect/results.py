"""Prefect result persistence without a second copy of the data.

An ``@artifact_task`` with ``persist_result=True`` (or a cache policy) would otherwise store its
return value twice: pickled by Prefect and as Parquet by us. Its result serializer pickles the
return value with every logged value that loads back equal (a dataset, a pickled model or value,
bytes, text) replaced by a reference to its artifact version (pickle's persistent ids), so
Prefect's result record holds a few hundred bytes; reading the record back loads the version
through the verified read path.
"""

from __future__ import annotations

import base64
import functools
import io
import pickle
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import cloudpickle
from prefect.serializers import Serializer
from pydantic import Field

from ..core.errors import ArtifactNotFoundError, IntegrityError
from ..core.models import ArtifactVersion

TAG = "prefect-artifacts/v1"
_STRONG_MAX = 64  # values that cannot be weakly referenced (kept until this many newer ones)
_logged: dict[int, tuple[Callable[[], Any], str, str, str]] = {}
_strong: OrderedDict[int, Any] = OrderedDict()
_lock = threading.Lock()


def remember(value: Any, version: ArtifactVersion) -> None:
    """Note that ``value`` (the object a task returned) is stored as ``version``."""
    key = id(value)
    try:
        ref: Callable[[], Any] = weakref.ref(value, functools.partial(_drop, key))
    except TypeError:  # not weakly referenceable: hold it (bounded)
        with _lock:
            _strong[key] = value
            _strong.move_to_end(key)
            while len(_strong) > _STRONG_MAX:
                old, _ = _strong.popitem(last=False)
                _logged.pop(old, None)

        def ref(value: Any = value) -> Any:
            return value

    entry = (ref, version.ref, version.hash, version.repository.storage.url)
    with _lock:
        _logged[key] = entry


def _drop(key: int, dead: Any) -> None:
    with _lock:
        entry = _logged.get(key)
        if entry is not None and entry[0] is dead:
            del _logged[key]


def reference_of(obj: Any) -> tuple[str, str, str, str] | None:
    """The artifact reference standing in for ``obj`` in a result, if it was logged."""
    entry = _logged.get(id(obj))
    if entry is None or entry[0]() is not obj:
        return None
    return (TAG, entry[1], entry[2], entry[3])


class _Pickler(cloudpickle.CloudPickler):  # type: ignore[misc]  # cloudpickle has no types
    def persistent_id(self, obj: Any) -> Any:
        return reference_of(obj)


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, repository: str | None) -> None:
        super().__init__(io.BytesIO(data))
        self.repository = repository
        self.loaded: dict[tuple[Any, ...], Any] = {}  # one object per version, as dumped

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 4 and pid[0] == TAG):
            raise pickle.UnpicklingError(f"unknown persistent reference {pid!r:.80}")
        if pid not in self.loaded:
            self.loaded[pid] = load_reference(pid[1], pid[2], pid[3], self.repository)
        return self.loaded[pid]


def load_reference(ref: str, digest: str, storage_url: str, repository: str | None) -> Any:
    """The value of the artifact version a result refers to, through the verified read path."""
    from ..core.api import get_repository

    repo = get_repository(repository)
    try:
        version = repo.get(ref)
    except ArtifactNotFoundError:
        version = None
    if version is None or version.hash != digest:
        version = repo.version_with_hash(digest)
    if version is None:
        raise IntegrityError(
            f"a persisted Prefect result refers to artifact {ref} (sha256 {digest[:12]}…) in "
            f"{storage_url}, which this repository ({repo.storage.url}) does not hold: point "
            "PREFECT_ARTIFACTS_* at that repository, or clear the task's cache (refresh_cache=True)"
        )
    # A pickle loads as Prefect's own pickled result would: the record pins its sha256 (checked
    # by the read), so these are the bytes the task returned, whatever trust_pickles says.
    return repo.load(version, trusted=True)


class ArtifactResultSerializer(Serializer):
    """Pickles a task's result with its logged values as references to their versions."""

    type: str = Field(default="prefect-artifacts", frozen=True)
    repository: str | None = Field(
        None, description="Saved ArtifactRepository block to load from (default: the settings')."
    )

    def dumps(self, obj: Any) -> bytes:
        buffer = io.BytesIO()
        _Pickler(buffer).dump(obj)
        return base64.encodebytes(buffer.getvalue())

    def loads(self, blob: bytes) -> Any:
        return _Unpickler(base64.decodebytes(blob), self.repository).load()
