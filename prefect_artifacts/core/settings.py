"""Settings named like Prefect's: ``PREFECT_ARTIFACTS_*`` environment variables."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from .errors import InvalidArgumentError


def prefect_home() -> Path:
    """Prefect's home folder (``PREFECT_HOME``, default ``~/.prefect``), without importing Prefect."""
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


def verified_state_path(value: str | Path | None = None) -> Path:
    """The verified-state record's file: ``value``, ``PREFECT_ARTIFACTS_VERIFIED_STATE``, or
    ``$PREFECT_HOME/artifacts/verified-state.db``."""
    value = value or os.environ.get("PREFECT_ARTIFACTS_VERIFIED_STATE")
    if value:
        return Path(value).expanduser()
    return prefect_home() / "artifacts" / "verified-state.db"


class ArtifactSettings(BaseSettings):
    """Where artifacts live. Every field is read from ``PREFECT_ARTIFACTS_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="PREFECT_ARTIFACTS_", extra="ignore")

    storage_url: str | None = Field(
        None,
        description="Path or fsspec URL of the storage (default $PREFECT_HOME/artifacts/store).",
    )
    storage_options: dict[str, Any] = Field(
        default_factory=dict, description="JSON object passed to fsspec, e.g. an S3 endpoint_url."
    )
    catalog_url: str | None = Field(
        None, description="SQLAlchemy URL (default sqlite:///$PREFECT_HOME/artifacts/catalog.db)."
    )
    fsync: Literal["always", "never"] = Field(
        "always",
        description="On local storage, sync a version's bytes and records to disk before the "
        "catalog commit (always), or leave it to the operating system (never: faster, but a "
        "power cut can lose the bytes of versions committed just before it).",
    )
    verify: Literal["always", "once", "never"] = Field(
        "once",
        description="When load() checks a version's sha256: once per blob, remembered in the "
        "verified-state record until the file changes (once); on every load (always); or not "
        "at all, except for versions that run stored code (never).",
    )
    verified_state: str | None = Field(
        None,
        description="The local SQLite file remembering verified blobs (default "
        "$PREFECT_HOME/artifacts/verified-state.db); not part of the repository.",
    )
    catalog_retry_seconds: float = Field(
        10.0, description="How long to retry a locked or unreachable catalog before failing."
    )
    catalog_auto_upgrade: bool = Field(
        True,
        description="Upgrade an older catalog schema when it is opened (else fail and name "
        "`prefect-artifacts db upgrade`).",
    )
    project: str = Field("default", description="Namespace for keys, versions and tags.")
    owner: str | None = Field(
        None, description="Owner recorded on logged versions (default: OS user)."
    )
    repository: str | None = Field(
        None, description="Name of a saved ArtifactRepository block to use instead of the URLs."
    )
    registration: Literal["background", "sync", "off"] = Field(
        "background", description="How versions are registered in Prefect's UI (cards, events)."
    )
    preview_cards: Literal["inline", "separate", "off"] = Field(
        "inline",
        description="A dataset's preview table in Prefect's UI: inside its card (inline), as a "
        "second Prefect artifact keyed <key>--preview (separate), or not at all (off).",
    )
    signing_key: SecretStr | None = Field(
        None,
        description="Sign new versions and check signatures on reindex and before loading "
        "pickles: hmac:<secret>, ed25519:<base64 private key> or ed25519-public:<base64 public "
        "key> (verify only).",
    )
    trust_pickles: bool = Field(
        True,
        description="Whether load() may unpickle (run code stored in) versions without being "
        "asked (load(trusted=True)); with a signing key, only signed versions are unpickled.",
    )
    ui_url: str | None = Field(
        None, description="Base URL of the browser UI, linked from Prefect cards."
    )

    def __init__(self, **values: Any) -> None:
        """Read the environment; a bad value is an error naming its variable and the fix."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{_variable(error['loc'])}={str(error.get('input'))[:80]!r}: {error['msg']}"
                for error in exc.errors()
            )
            raise InvalidArgumentError(
                f"invalid setting {problems} (set a valid value or unset it for the default)"
            ) from None
        except SettingsError as exc:
            field = str(exc).split('"')[1] if '"' in str(exc) else ""
            cause = f": {exc.__cause__}" if exc.__cause__ else ""
            raise InvalidArgumentError(
                f"invalid setting {_variable((field,))}{cause} — it must be JSON, e.g. "
                '{"client_kwargs": {"endpoint_url": "http://minio:9000"}}'
            ) from None

    @field_validator("storage_options", mode="before")
    @classmethod
    def _empty_options(cls, value: Any) -> Any:
        return {} if value in (None, "") else value

    def resolved_storage_url(self) -> str:
        return self.storage_url or str(prefect_home() / "artifacts" / "store")

    def resolved_catalog_url(self) -> str:
        return self.catalog_url or f"sqlite:///{prefect_home() / 'artifacts' / 'catalog.db'}"

    def resolved_verified_state(self) -> Path:
        return verified_state_path(self.verified_state)

    def resolved_owner(self) -> str:
        if self.owner:
            return self.owner
        try:
            return getpass.getuser()
        except Exception:  # no user database entry (some containers)
            return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _variable(loc: tuple[Any, ...]) -> str:
    """The environment variable a settings field is read from."""
    return f"PREFECT_ARTIFACTS_{str(loc[0]).upper()}" if loc else "PREFECT_ARTIFACTS_*"
