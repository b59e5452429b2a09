"""``ARTIFACT_INPUTS``: a Prefect cache policy keyed on the content of input artifacts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from prefect.cache_policies import STABLE_TRANSFORMS, CachePolicy, _register_stable_transforms
from prefect.utilities.hashing import hash_objects

from ..core.api import get_repository
from ..core.models import ArtifactVersion
from ..core.refs import ArtifactRef


@dataclass
class ArtifactInputs(CachePolicy):
    """Like Prefect's ``INPUTS``, but an ``ArtifactRef`` or ``ArtifactVersion`` argument counts
    by the sha256 of the version it names — so a task reruns when an input's content changes,
    not when a new version with identical bytes (or a moved tag to identical bytes) appears.
    Combine it like any policy: ``cache_policy=pa.ARTIFACT_INPUTS + TASK_SOURCE``."""

    exclude: list[str] = field(default_factory=list)
    repository: Any = None

    def compute_key(
        self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        if not inputs:
            return None
        _register_stable_transforms()
        hashed = {
            name: self._stable(value) for name, value in inputs.items() if name not in self.exclude
        }
        return hash_objects(hashed, raise_on_failure=True)

    def _stable(self, value: Any) -> Any:
        if isinstance(value, ArtifactRef):
            version = value.get(get_repository(self.repository))
            return ("artifact", version.kind, version.format, version.hash)
        if isinstance(value, ArtifactVersion):
            return ("artifact", value.kind, value.format, value.hash)
        if isinstance(value, (list, tuple)):
            return [self._stable(v) for v in value]
        if isinstance(value, dict):
            return {k: self._stable(v) for k, v in value.items()}
        transform = STABLE_TRANSFORMS.get(type(value))
        return transform(value) if transform else value

    def __sub__(self, other: str) -> CachePolicy:
        if not isinstance(other, str):
            raise TypeError("Can only subtract strings from key policies.")
        return replace(self, exclude=[*self.exclude, other])


ARTIFACT_INPUTS = ArtifactInputs()
