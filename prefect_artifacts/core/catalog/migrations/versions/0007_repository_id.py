"""The repository's identity in the catalog: one row holding the id that the storage's
``repository.json`` also holds. An existing catalog (it has keys) adopts a new id here; the
first process that opens it with its storage writes that id to the storage.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "artifact_repository",
        sa.Column("slot", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM artifact_keys LIMIT 1")).first() is not None:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        op.bulk_insert(table, [{"slot": 1, "id": str(uuid.uuid4()), "created_at": now}])


def downgrade() -> None:
    op.drop_table("artifact_repository")
