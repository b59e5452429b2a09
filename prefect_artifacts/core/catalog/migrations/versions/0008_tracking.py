"""Experiment tracking: step metrics and results of runs, and the history of every tag move.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "run_metrics",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("batch", sa.String(32), nullable=False),
    )
    op.create_index("ix_run_metrics_run", "run_metrics", ["run_id", "key", "step"])
    op.create_index("ix_run_metrics_batch", "run_metrics", ["batch"])
    op.create_table(
        "run_results",
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.JSON),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key"),
    )
    op.create_table(
        "artifact_tag_history",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("since", sa.DateTime, nullable=False),
        sa.Column("until", sa.DateTime),
        sa.Column("by", sa.String(128)),
        sa.Column("run", sa.String(64)),
    )
    op.create_index(
        "ix_artifact_tag_history_tag", "artifact_tag_history", ["project", "key", "tag", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_artifact_tag_history_tag", "artifact_tag_history")
    op.drop_table("artifact_tag_history")
    op.drop_table("run_results")
    op.drop_index("ix_run_metrics_batch", "run_metrics")
    op.drop_index("ix_run_metrics_run", "run_metrics")
    op.drop_table("run_metrics")
