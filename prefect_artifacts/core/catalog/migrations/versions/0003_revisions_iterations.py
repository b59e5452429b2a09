"""Metadata revisions of versions (``update_model``): who changed which metadata, when, from
which run. (Iterations need no column: a version's iteration lives in its metadata.)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "artifact_revisions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column(
            "version_id",
            ID,
            sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("updater", sa.JSON, nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.UniqueConstraint("version_id", "revision", name="uq_artifact_revisions"),
    )


def downgrade() -> None:
    op.drop_table("artifact_revisions")
