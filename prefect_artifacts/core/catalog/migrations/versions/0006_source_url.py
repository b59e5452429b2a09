"""The URL of bytes registered in place as a column with an index, so sorting by location
walks an index instead of reading every version's metadata (where the URL also stays).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEX = "ix_artifact_versions_sort_source"


def upgrade() -> None:
    with op.batch_alter_table("artifact_versions") as batch:
        batch.add_column(sa.Column("source_url", sa.String(512)))
    url = {
        "postgresql": "meta::json -> 'source' ->> 'url'",
        "sqlite": "json_extract(meta, '$.source.url')",
    }[op.get_bind().dialect.name]
    op.execute(
        f"UPDATE artifact_versions SET source_url = substr({url}, 1, 512) WHERE {url} IS NOT NULL"
    )
    op.create_index(INDEX, "artifact_versions", ["project", "source_url", "id"])


def downgrade() -> None:
    op.drop_index(INDEX, "artifact_versions")
    with op.batch_alter_table("artifact_versions") as batch:
        batch.drop_column("source_url")
