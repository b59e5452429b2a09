"""Indexes for the list's sorts over all versions (created, size, kind, owner, producer), each
ending with the row id that breaks ties, so a sorted page reads 50 index entries instead of
sorting every version of the project.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_artifact_versions_sort_created": ["project", "created_at", "id"],
    "ix_artifact_versions_sort_size": ["project", "size", "id"],
    "ix_artifact_versions_sort_kind": ["project", "kind", "id"],
    "ix_artifact_versions_sort_owner": ["project", "owner", "id"],
    "ix_artifact_versions_sort_producer": ["project", "flow_name", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "artifact_versions", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, "artifact_versions")
