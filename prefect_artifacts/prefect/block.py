"""``ArtifactRepository``: a Prefect block holding a repository's configuration, saved and
loaded by name like any block. Credentials stay in Prefect's secret fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.blocks.core import Block
from prefect.filesystems import LocalFileSystem, RemoteFileSystem
from prefect.types import SecretDict
from pydantic import Field, SecretStr, model_validator

from ..core.errors import InvalidArgumentError
from ..core.settings import ArtifactSettings

try:  # prefect-aws's S3 bucket block, when installed
    from prefect_aws import S3Bucket
except ImportError:  # pragma: no cover - exercised where prefect-aws is absent
    S3Bucket = None  # type: ignore[assignment,misc]  # prefect-aws is an optional extra

STORAGE_BLOCKS = tuple(t for t in (LocalFileSystem, RemoteFileSystem, S3Bucket) if t is not None)
StorageBlock = Union[STORAGE_BLOCKS]  # type: ignore[valid-type]  # built at run time  # noqa: UP007


class ArtifactRepository(Block):
    """Where prefect-artifacts keeps bytes (a filesystem block — local, remote, or
    prefect-aws's S3 bucket — or an fsspec URL), its catalog (an SQLAlchemy URL) and the
    default project. A repository is storage *and* catalog: with local storage and no catalog,
    the catalog is ``catalog.db`` in the storage folder; object storage needs a catalog URL
    (PostgreSQL, so every machine reaches it).

    ```python
    ArtifactRepository(storage_url="s3://bucket/artifacts",
                       catalog_url="postgresql://ml@db/artifacts").save("prod")
    # then PREFECT_ARTIFACTS_REPOSITORY=prod, or artifact_task(repository="prod")
    ```
    """

    _block_type_name = "Artifact Repository"
    _block_type_slug = "artifact-repository"
    _description = "Storage, catalog and project for prefect-artifacts' versioned artifacts."
    _documentation_url = None  # no public page yet: the README of the installed package

    storage: StorageBlock | None = Field(
        default=None,
        description="A saved filesystem or S3 bucket block for the bytes (or use storage_url).",
    )
    storage_url: str | None = Field(
        default=None, description="A path or fsspec URL, e.g. s3://bucket/artifacts."
    )
    storage_options: SecretDict = Field(
        default_factory=lambda: SecretDict({}),
        description="fsspec options for storage_url (credentials, endpoint_url), kept secret.",
    )
    catalog_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of the catalog: postgresql://… to share it between machines "
        "(default with local storage: catalog.db in the storage folder).",
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="Sign new versions and verify them on reindex and before unpickling: "
        "hmac:<secret>, ed25519:<base64 private key> or ed25519-public:<base64 public key>.",
    )
    project: str = Field(default="default", description="Default project (namespace).")
    owner: str | None = Field(default=None, description="Owner recorded on new versions.")
    ui_url: str | None = Field(default=None, description="Base URL of the prefect-artifacts UI.")

    @model_validator(mode="after")
    def _one_storage(self) -> ArtifactRepository:
        if self.storage is not None and self.storage_url:
            raise ValueError("give storage (a filesystem block) or storage_url, not both")
        return self

    async def asave(
        self, name: str | None = None, overwrite: bool = False, client: Any = None
    ) -> Any:
        self.settings()  # a block the loader would refuse is refused now, with its message
        return await super().asave(name=name, overwrite=overwrite, client=client)

    @async_dispatch(asave)
    def save(self, name: str | None = None, overwrite: bool = False, client: Any = None) -> Any:
        """Save the block; refused (as loading it would be) when it names no usable catalog."""
        self.settings()
        return super().save(name=name, overwrite=overwrite)

    def storage_location(self) -> tuple[str | None, dict[str, Any]]:
        """(URL, fsspec options) of the storage, from the storage block or the URL."""
        if isinstance(self.storage, LocalFileSystem):
            return self.storage.basepath or ".", {}
        if isinstance(self.storage, RemoteFileSystem):
            return self.storage.basepath, dict(self.storage.settings or {})
        if S3Bucket is not None and isinstance(self.storage, S3Bucket):
            return _s3_location(self.storage)
        return self.storage_url, dict(self.storage_options.get_secret_value() or {})

    def settings(self) -> ArtifactSettings:
        url, options = self.storage_location()
        base = ArtifactSettings()
        catalog = self.catalog_url.get_secret_value() if self.catalog_url else None
        if catalog is None and url is not None:
            if "://" in url and not url.startswith("file://"):
                raise InvalidArgumentError(
                    f"the ArtifactRepository block stores bytes at {url}, but names no catalog: "
                    "set catalog_url to a database every machine reaches (e.g. "
                    "postgresql://user@host/artifacts); a repository is storage and catalog"
                )
            folder = Path(url.removeprefix("file://")).expanduser()
            catalog = f"sqlite:///{folder.resolve() / 'catalog.db'}"
        return base.model_copy(
            update={
                "storage_url": url,
                "storage_options": options,
                "catalog_url": catalog,
                "project": self.project,
                "owner": self.owner or base.owner,
                "ui_url": self.ui_url or base.ui_url,
                "signing_key": self.signing_key or base.signing_key,
                "repository": None,
            }
        )


def _s3_location(bucket: Any) -> tuple[str, dict[str, Any]]:
    """prefect-aws's S3Bucket (bucket, folder, AwsCredentials) as an s3fs URL and options."""
    folder = (bucket.bucket_folder or "").strip("/")
    url = f"s3://{bucket.bucket_name}" + (f"/{folder}" if folder else "")
    credentials = bucket.credentials
    options: dict[str, Any] = {}
    if credentials is not None:
        secret = credentials.aws_secret_access_key
        options.update(
            key=credentials.aws_access_key_id,
            secret=secret.get_secret_value() if secret else None,
            token=credentials.aws_session_token,
            profile=credentials.profile_name,
        )
        client: dict[str, Any] = {"region_name": credentials.region_name}
        parameters = credentials.aws_client_parameters
        if parameters is not None and parameters.endpoint_url:
            client["endpoint_url"] = parameters.endpoint_url
        options["client_kwargs"] = {k: v for k, v in client.items() if v}
    return url, {k: v for k, v in options.items() if v}
