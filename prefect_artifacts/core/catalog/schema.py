"""The catalog's tables at the newest schema revision (``migrations/`` holds how each came to be).

Every change here needs a new migration in ``migrations/versions/``; a test compares this
metadata with what the migrations build.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()

keys_t = sa.Table(
    "artifact_keys",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("last_version", sa.Integer, nullable=False),
    sa.Column("latest_id", ID, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    # per-key order of durable records (manifests, journal entries): reindex replays by it
    sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.UniqueConstraint("project", "key", name="uq_artifact_keys"),
    sa.Index("ix_artifact_keys_updated", "project", "updated_at"),
    sa.Index("ix_artifact_keys_kind", "project", "kind", "updated_at"),
    sa.Index("ix_artifact_keys_latest", "latest_id"),
    sa.Index("ix_artifact_keys_updated_all", "updated_at", "id"),  # every project's search
)

versions_t = sa.Table(
    "artifact_versions",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(32), nullable=False, unique=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("materializer", sa.String(255), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("fingerprint", sa.String(64)),
    sa.Column("meta_digest", sa.String(64), nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("owner", sa.String(128)),
    sa.Column("flow_name", sa.String(255)),
    sa.Column("flow_run_id", sa.String(36)),
    sa.Column("task_run_id", sa.String(36)),
    sa.Column("producer", sa.JSON, nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("details", sa.JSON),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    # bytes registered in place (upload=False): their URL (from meta.source), for the location sort
    sa.Column("source_url", sa.String(512)),
    sa.UniqueConstraint("project", "key", "version", name="uq_artifact_versions"),
    sa.Index("ix_artifact_versions_updated", "project", "updated_at"),
    sa.Index("ix_artifact_versions_updated_all", "updated_at", "id"),  # every project's search
    sa.Index("ix_artifact_versions_hash", "hash"),
    sa.Index("ix_artifact_versions_flow_run", "flow_run_id"),
    sa.Index("ix_artifact_versions_task_run", "task_run_id"),
    sa.Index("ix_artifact_versions_flow", "project", "flow_name"),
    # the list's sorts over all versions (each ends with the id, the sort's tiebreak)
    sa.Index("ix_artifact_versions_sort_created", "project", "created_at", "id"),
    sa.Index("ix_artifact_versions_sort_size", "project", "size", "id"),
    sa.Index("ix_artifact_versions_sort_kind", "project", "kind", "id"),
    sa.Index("ix_artifact_versions_sort_owner", "project", "owner", "id"),
    sa.Index("ix_artifact_versions_sort_producer", "project", "flow_name", "id"),
    sa.Index("ix_artifact_versions_sort_source", "project", "source_url", "id"),
)

tags_t = sa.Table(
    "artifact_tags",
    metadata,
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("tag", sa.String(64), nullable=False),
    sa.Column(
        "version_id", ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.PrimaryKeyConstraint("project", "key", "tag"),
    sa.Index("ix_artifact_tags_version", "version_id"),
    sa.Index("ix_artifact_tags_tag", "project", "tag"),
)

labels_t = sa.Table(
    "artifact_labels",
    metadata,
    sa.Column(
        "version_id", ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("value", sa.String(256), nullable=False),
    sa.PrimaryKeyConstraint("version_id", "name"),
    sa.Index("ix_artifact_labels_name_value", "name", "value", "version_id"),
)

extras_t = sa.Table(
    "artifact_extras",
    metadata,
    sa.Column(
        "version_id", ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("filename", sa.String(255)),
    sa.Column("artifact", sa.String(300)),
    sa.PrimaryKeyConstraint("version_id", "name"),
    sa.Index("ix_artifact_extras_hash", "hash"),
)

lineage_t = sa.Table(
    "artifact_lineage",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column(
        "version_id", ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("flow_name", sa.String(255)),
    sa.Column("flow_run_id", sa.String(36)),
    sa.Column("flow_run_name", sa.String(255)),
    sa.Column("task_run_id", sa.String(36)),
    sa.Column("task_run_name", sa.String(255)),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Index("ix_artifact_lineage_version", "version_id", "role"),
    sa.Index("ix_artifact_lineage_flow_run", "flow_run_id"),
    sa.Index("ix_artifact_lineage_task_run", "task_run_id"),
)

# The parts of a multi-part dataset, in order: blobs shared by the versions that contain them.
parts_t = sa.Table(
    "artifact_parts",
    metadata,
    sa.Column(
        "version_id", ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("version_id", "position"),
    sa.Index("ix_artifact_parts_hash", "hash"),
)

blobs_t = sa.Table(
    "artifact_blobs",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# Metadata revisions: changes to a version's metadata after it was logged (metrics added after
# evaluation, ...). The bytes, hash, number, tags and producer never change; each revision
# records who changed what, when, from which run.
revisions_t = sa.Table(
    "artifact_revisions",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column(
        "version_id", ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("revision", sa.Integer, nullable=False),  # 1, 2, ... per version
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("updater", sa.JSON, nullable=False),  # who: the run or local process
    sa.Column("changes", sa.JSON, nullable=False),  # field → {"old": ..., "new": ...}
    sa.UniqueConstraint("version_id", "revision", name="uq_artifact_revisions"),
)

# Durable records (manifests, journal entries) committed with the change they describe and
# written to storage after the commit: a crash between the two leaves them here, not lost.
outbox_t = sa.Table(
    "artifact_outbox",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("path", sa.String(1024), nullable=False),  # relative to the storage root
    sa.Column("document", sa.JSON),  # None: remove the file at path
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# Team access for the browser UI and its API: users, their role per project ('*': every
# project), their API tokens (only the sha256 is kept) and an audit trail of every write.
users_t = sa.Table(
    "artifact_users",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

roles_t = sa.Table(
    "artifact_roles",
    metadata,
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

user_tokens_t = sa.Table(
    "artifact_user_tokens",
    metadata,
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

audit_t = sa.Table(
    "artifact_audit",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("username", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("key", sa.String(128)),
    sa.Column("version", sa.Integer),
    sa.Column("detail", sa.JSON),
    sa.Index("ix_artifact_audit_target", "project", "key", "version", "id"),
)

# The repository's identity: one row (slot 1) holding the id its storage's repository.json holds.
repository_t = sa.Table(
    "artifact_repository",
    metadata,
    sa.Column("slot", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("id", sa.String(36), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# Step metrics of runs (``log_metric``): written in batches, each batch also journaled to
# storage (``metrics/``) under its id so ``reindex`` restores the points it lacks.
run_metrics_t = sa.Table(
    "run_metrics",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("timestamp", sa.DateTime, nullable=False),
    sa.Column("batch", sa.String(32), nullable=False),
    sa.Index("ix_run_metrics_run", "run_id", "key", "step"),
    sa.Index("ix_run_metrics_batch", "batch"),
)

# Results of runs (``log_result``): the last value logged under each name.
run_results_t = sa.Table(
    "run_results",
    metadata,
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("value", sa.JSON),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.PrimaryKeyConstraint("run_id", "key"),
)

# Every tag move: which version held the tag from when until when, moved by whom from which run.
tag_history_t = sa.Table(
    "artifact_tag_history",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("tag", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("since", sa.DateTime, nullable=False),
    sa.Column("until", sa.DateTime),
    sa.Column("by", sa.String(128)),
    sa.Column("run", sa.String(64)),
    sa.Index("ix_artifact_tag_history_tag", "project", "key", "tag", "id"),
)

VERSION_COLUMNS = [c for c in versions_t.c if c.name not in ("details", "source_url")]
VERSION_FIELDS = [c.name for c in versions_t.c if c.name not in ("id", "source_url")]
SOURCE_URL_MAX = 512


def source_url(meta: dict[str, Any] | None) -> str | None:
    """The URL of bytes registered in place, as the ``source_url`` column keeps it (its first
    512 characters: the location sort's key), or None for bytes in this storage."""
    source = (meta or {}).get("source")
    url = source.get("url") if isinstance(source, dict) else None
    return url[:SOURCE_URL_MAX] if isinstance(url, str) else None
