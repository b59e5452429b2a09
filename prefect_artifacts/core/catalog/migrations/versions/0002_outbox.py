"""Outbox for manifests and journal entries, committed with the change they record, and a
per-key sequence that orders those records for ``reindex``.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "artifact_outbox",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("document", sa.JSON),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.add_column(
        "artifact_keys", sa.Column("seq", sa.BigInteger, nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("artifact_keys") as batch:
        batch.drop_column("seq")
    op.drop_table("artifact_outbox")
