"""One small exception hierarchy; every message names the thing and the fix."""

from __future__ import annotations


class ArtifactError(Exception):
    """Base class of every prefect-artifacts error."""


class ArtifactNotFoundError(ArtifactError, LookupError):
    """The key, version, tag or extra-data item does not exist."""


class InvalidArgumentError(ArtifactError, ValueError):
    """An argument is malformed (a format, metrics, a filter value, ...)."""


class InvalidKeyError(InvalidArgumentError):
    """A key, reference, tag, label or project name is malformed."""


class IntegrityError(ArtifactError):
    """Stored bytes do not match the sha256 recorded in the catalog."""


class UntrustedContentError(ArtifactError):
    """Loading this version would run code stored in it, and it is not trusted."""


class SigningKeyRequiredError(InvalidArgumentError):
    """The repository signs its records and this process cannot sign: it may not change it."""


class UnsupportedTypeError(ArtifactError, TypeError):
    """No materializer knows how to store an object of this type."""


class LossyFormatError(UnsupportedTypeError):
    """The format cannot give this value back exactly (see the fidelity contract); log it in
    another format, change what would be lost, or pass ``lossy="allow"`` to store it marked lossy.
    ``losses`` names what would be lost."""

    def __init__(self, message: str, losses: list[str] | None = None) -> None:
        super().__init__(message)
        self.losses = list(losses or [])


class StorageError(ArtifactError, OSError):
    """Reading or writing the artifact storage failed."""


class CatalogError(ArtifactError):
    """The catalog database could not be reached or refused the operation."""


class MigrationRequiredError(CatalogError):
    """The catalog's schema is older (or newer) than this release of prefect-artifacts."""


class RepositoryMismatchError(CatalogError):
    """The catalog and the storage belong to different repositories (or the catalog is empty
    and the storage already belongs to one): writing would mix them, so it is refused."""
