"""Team access: users, their role per project, their hashed API tokens, and the audit trail
of writes made through the browser UI and its API.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "artifact_users",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "artifact_roles",
        sa.Column(
            "username",
            sa.String(128),
            sa.ForeignKey("artifact_users.name", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("username", "project"),
    )
    op.create_table(
        "artifact_user_tokens",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column(
            "username",
            sa.String(128),
            sa.ForeignKey("artifact_users.name", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "artifact_audit",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128)),
        sa.Column("version", sa.Integer),
        sa.Column("detail", sa.JSON),
    )
    op.create_index(
        "ix_artifact_audit_target", "artifact_audit", ["project", "key", "version", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_artifact_audit_target", "artifact_audit")
    for table in ("artifact_audit", "artifact_user_tokens", "artifact_roles", "artifact_users"):
        op.drop_table(table)
