"""What the repository's modules use of the repository (the :class:`Repository` class is one):
a protocol, so ``writer``, ``reader`` and the others never import the package that imports them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..models import RepositoryLike

if TYPE_CHECKING:
    from ..catalog import Catalog, VersionRecord
    from ..models import ArtifactVersion
    from ..settings import ArtifactSettings
    from ..signing import Signer


class Repo(RepositoryLike, Protocol):
    """A record's repository (:class:`~..models.RepositoryLike`) plus its parts and the
    operations the modules call on one another through it."""

    catalog: Catalog
    project: str
    owner: str | None
    settings: ArtifactSettings
    signer: Signer | None

    def known_repository_id(self) -> str | None: ...
    def check_binding(self) -> None: ...
    def require_signer(self, version: ArtifactVersion | None = None) -> None: ...
    def drain(self, *, full: bool = False) -> int: ...
    def row_id(self, version: ArtifactVersion) -> int: ...
    def record(self, record: VersionRecord) -> ArtifactVersion: ...
    def version_by_id(self, row_id: int) -> ArtifactVersion: ...
    def versions_by_id(self, row_ids: list[int]) -> list[ArtifactVersion]: ...
    def version_with_hash(self, digest: str) -> ArtifactVersion | None: ...
    def tag(self, ref: str, tag: str, *, project: str | None = None) -> ArtifactVersion: ...
    def set_labels(
        self,
        ref: str,
        labels: dict[str, Any],
        *,
        replace: bool = False,
        project: str | None = None,
    ) -> ArtifactVersion: ...
    def set_description(
        self, ref: str, description: str | None, *, project: str | None = None
    ) -> ArtifactVersion: ...
