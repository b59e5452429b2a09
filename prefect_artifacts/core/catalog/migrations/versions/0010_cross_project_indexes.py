"""Indexes for the search of every project (``/projects/*/artifacts``): the latest version of
each key, and every version, newest update first across projects, read 50 index entries instead
of sorting every key or version.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_artifact_keys_updated_all": ("artifact_keys", ["updated_at", "id"]),
    "ix_artifact_versions_updated_all": ("artifact_versions", ["updated_at", "id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table)
