"""Parts of multi-part datasets: which content-addressed blobs each version is made of, so
``gc``, ``prune`` and deletes keep parts that other versions share.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "artifact_parts",
        sa.Column(
            "version_id",
            ID,
            sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("version_id", "position"),
    )
    op.create_index("ix_artifact_parts_hash", "artifact_parts", ["hash"])


def downgrade() -> None:
    op.drop_index("ix_artifact_parts_hash", "artifact_parts")
    op.drop_table("artifact_parts")
