"""Response models of the JSON API, so ``/openapi.json`` documents every field."""

from __future__ import annotations

from datetime import datetime

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
