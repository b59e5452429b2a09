"""Response models of the JSON API, so ``/openapi.json`` documents every field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from ..core.models import ArtifactVersion, DatasetVersion, ModelVersion, PlotVersion

AnyVersion = DatasetVersion | ModelVersion | PlotVersion | ArtifactVersion


class Project(BaseModel):
    project: str
    keys: int = Field(description="Keys with at least one version.")
    updated_at: datetime


class Page(BaseModel):
    """One page of a search: versions without previews and statistics."""

    items: list[AnyVersion]
    total: int = Field(description="Matches in all, beyond this page.")
    offset: int
    limit: int


class TagRemoved(BaseModel):
    tag: str
    was_on_version: int


class Deleted(BaseModel):
    deleted: list[int] = Field(description="The version numbers deleted.")


class Description(BaseModel):
    description: str | None = Field(description="The new description (null clears it).")


class AuditItem(BaseModel):
    at: datetime
    user: str
    action: str = Field(description="tag, untag, labels, description, delete or delete-key.")
    project: str
    key: str | None
    version: int | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditItem]
    next: int | None = Field(description="Pass as `before` for the next (older) page.")
