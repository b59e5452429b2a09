"""``ArtifactRepository``: a Prefect block holding a repository's configuration, saved and
loaded by name like any block. Credentials stay in Prefect's secret fields."""

from __future__ import annotations

from typing import Any, Union

from prefect.blocks.core import Block
from prefect.filesystems import LocalFileSystem, RemoteFileSystem
from prefect.types import SecretDict
from pydantic import Field, SecretStr, model_validator

from ..core.settings import ArtifactSettings


class ArtifactRepository(Block):
    """Where prefect-artifacts keeps bytes (a filesystem block or an fsspec URL), its catalog
    (an SQLAlchemy URL) and the default project.

    ```python
    ArtifactRepository(storage_url="s3://bucket/artifacts",
                       catalog_url="postgresql://ml@db/artifacts").save("prod")
    # then PREFECT_ARTIFACTS_REPOSITORY=prod, or artifact_task(repository="prod")
    ```
    """

    _block_type_name = "Artifact Repository"
    _block_type_slug = "artifact-repository"
    _description = "Storage, catalog and project for prefect-artifacts' versioned artifacts."
    _documentation_url = "https://github.com/prefect-artifacts/prefect-artifacts#configuration"

    storage: Union[LocalFileSystem, RemoteFileSystem, None] = Field(  # noqa: UP007
        default=None, description="A saved filesystem block for the bytes (or use storage_url)."
    )
    storage_url: str | None = Field(
        default=None, description="A path or fsspec URL, e.g. s3://bucket/artifacts."
    )
    storage_options: SecretDict = Field(
        default_factory=lambda: SecretDict({}),
        description="fsspec options for storage_url (credentials, endpoint_url), kept secret.",
    )
    catalog_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL of the catalog (default: local SQLite)."
    )
    project: str = Field(default="default", description="Default project (namespace).")
    owner: str | None = Field(default=None, description="Owner recorded on new versions.")
    ui_url: str | None = Field(default=None, description="Base URL of the prefect-artifacts UI.")

    @model_validator(mode="after")
    def _one_storage(self) -> ArtifactRepository:
        if self.storage is not None and self.storage_url:
            raise ValueError("give storage (a filesystem block) or storage_url, not both")
        return self

    def storage_location(self) -> tuple[str | None, dict[str, Any]]:
        """(URL, fsspec options) of the storage, from the filesystem block or the URL."""
        if isinstance(self.storage, LocalFileSystem):
            return self.storage.basepath or ".", {}
        if isinstance(self.storage, RemoteFileSystem):
            return self.storage.basepath, dict(self.storage.settings or {})
        return self.storage_url, dict(self.storage_options.get_secret_value() or {})

    def settings(self) -> ArtifactSettings:
        url, options = self.storage_location()
        base = ArtifactSettings()
        return base.model_copy(
            update={
                "storage_url": url,
                "storage_options": options,
                "catalog_url": self.catalog_url.get_secret_value() if self.catalog_url else None,
                "project": self.project,
                "owner": self.owner or base.owner,
                "ui_url": self.ui_url or base.ui_url,
                "repository": None,
            }
        )
