TABLE artifact_audit
  COLUMN id INTEGER NOT NULL
  COLUMN at DATETIME NOT NULL
  COLUMN username VARCHAR(128) NOT NULL
  COLUMN action VARCHAR(32) NOT NULL
  COLUMN project VARCHAR(64) NOT NULL
  COLUMN key VARCHAR(128)
  COLUMN version INTEGER
  COLUMN detail JSON
  PRIMARY KEY (id)
  INDEX ix_artifact_audit_target (project, key, version, id)

TABLE artifact_blobs
  COLUMN hash VARCHAR(64) NOT NULL
  COLUMN size BIGINT NOT NULL
  COLUMN created_at DATETIME NOT NULL
  PRIMARY KEY (hash)

TABLE artifact_extras
  COLUMN version_id INTEGER NOT NULL
  COLUMN name VARCHAR(128) NOT NULL
  COLUMN hash VARCHAR(64) NOT NULL
  COLUMN size BIGINT NOT NULL
  COLUMN source VARCHAR(16) NOT NULL
  COLUMN filename VARCHAR(255)
  COLUMN artifact VARCHAR(300)
  PRIMARY KEY (version_id, name)
  INDEX ix_artifact_extras_hash (hash)
  FOREIGN KEY (version_id) REFERENCES artifact_versions (id) ON DELETE CASCADE

TABLE artifact_keys
  COLUMN id INTEGER NOT NULL
  COLUMN project VARCHAR(64) NOT NULL
  COLUMN key VARCHAR(128) NOT NULL
  COLUMN kind VARCHAR(32) NOT NULL
  COLUMN last_version INTEGER NOT NULL
  COLUMN latest_id INTEGER
  COLUMN created_at DATETIME NOT NULL
  COLUMN updated_at DATETIME NOT NULL
  COLUMN seq BIGINT NOT NULL DEFAULT '0'
  PRIMARY KEY (id)
  INDEX ix_artifact_keys_kind (project, kind, updated_at)
  INDEX ix_artifact_keys_latest (latest_id)
  INDEX ix_artifact_keys_updated (project, updated_at)
  INDEX ix_artifact_keys_updated_all (updated_at, id)
  UNIQUE (project, key)

TABLE artifact_labels
  COLUMN version_id INTEGER NOT NULL
  COLUMN name VARCHAR(64) NOT NULL
  COLUMN value VARCHAR(256) NOT NULL
  PRIMARY KEY (version_id, name)
  INDEX ix_artifact_labels_name_value (name, value, version_id)
  FOREIGN KEY (version_id) REFERENCES artifact_versions (id) ON DELETE CASCADE

TABLE artifact_lineage
  COLUMN id INTEGER NOT NULL
  COLUMN version_id INTEGER NOT NULL
  COLUMN role VARCHAR(10) NOT NULL
  COLUMN flow_name VARCHAR(255)
  COLUMN flow_run_id VARCHAR(36)
  COLUMN flow_run_name VARCHAR(255)
  COLUMN task_run_id VARCHAR(36)
  COLUMN task_run_name VARCHAR(255)
  COLUMN at DATETIME NOT NULL
  PRIMARY KEY (id)
  INDEX ix_artifact_lineage_flow_run (flow_run_id)
  INDEX ix_artifact_lineage_task_run (task_run_id)
  INDEX ix_artifact_lineage_version (version_id, role)
  FOREIGN KEY (version_id) REFERENCES artifact_versions (id) ON DELETE CASCADE

TABLE artifact_outbox
  COLUMN id INTEGER NOT NULL
  COLUMN path VARCHAR(1024) NOT NULL
  COLUMN document JSON
  COLUMN created_at DATETIME NOT NULL
  PRIMARY KEY (id)

TABLE artifact_parts
  COLUMN version_id INTEGER NOT NULL
  COLUMN position INTEGER NOT NULL
  COLUMN hash VARCHAR(64) NOT NULL
  COLUMN size BIGINT NOT NULL
  COLUMN rows BIGINT NOT NULL
  PRIMARY KEY (version_id, position)
  INDEX ix_artifact_parts_hash (hash)
  FOREIGN KEY (version_id) REFERENCES artifact_versions (id) ON DELETE CASCADE

TABLE artifact_repository
  COLUMN slot INTEGER NOT NULL
  COLUMN id VARCHAR(36) NOT NULL
  COLUMN created_at DATETIME NOT NULL
  PRIMARY KEY (slot)

TABLE artifact_revisions
  COLUMN id INTEGER NOT NULL
  COLUMN version_id INTEGER NOT NULL
  COLUMN revision INTEGER NOT NULL
  COLUMN at DATETIME NOT NULL
  COLUMN updater JSON NOT NULL
  COLUMN changes JSON NOT NULL
  PRIMARY KEY (id)
  UNIQUE (version_id, revision)
  FOREIGN KEY (version_id) REFERENCES artifact_versions (id) ON DELETE CASCADE

TABLE artifact_roles
  COLUMN username VARCHAR(128) NOT NULL
  COLUMN project VARCHAR(64) NOT NULL
  COLUMN role VARCHAR(16) NOT NULL
  PRIMARY KEY (username, project)
  FOREIGN KEY (username) REFERENCES artifact_users (name) ON DELETE CASCADE

TABLE artifact_schema_version
  COLUMN version_num VARCHAR(32) NOT NULL
  PRIMARY KEY (version_num)

TABLE artifact_tag_history
  COLUMN id INTEGER NOT NULL
  COLUMN project VARCHAR(64) NOT NULL
  COLUMN key VARCHAR(128) NOT NULL
  COLUMN tag VARCHAR(64) NOT NULL
  COLUMN version INTEGER NOT NULL
  COLUMN since DATETIME NOT NULL
  COLUMN until DATETIME
  COLUMN by VARCHAR(128)
  COLUMN run VARCHAR(64)
  PRIMARY KEY (id)
  INDEX ix_artifact_tag_history_tag (project, key, tag, id)

TABLE artifact_tags
  COLUMN project VARCHAR(64) NOT NULL
  COLUMN key VARCHAR(128) NOT NULL
  COLUMN tag VARCHAR(64) NOT NULL
  COLUMN version_id INTEGER NOT NULL
  PRIMARY KEY (project, key, tag)
  INDEX ix_artifact_tags_tag (project, tag)
  INDEX ix_artifact_tags_version (version_id)
  FOREIGN KEY (version_id) REFERENCES artifact_versions (id) ON DELETE CASCADE

TABLE artifact_user_tokens
  COLUMN id INTEGER NOT NULL
  COLUMN username VARCHAR(128) NOT NULL
  COLUMN name VARCHAR(64) NOT NULL
  COLUMN hash VARCHAR(64) NOT NULL
  COLUMN created_at DATETIME NOT NULL
  PRIMARY KEY (id)
  UNIQUE (hash)
  FOREIGN KEY (username) REFERENCES artifact_users (name) ON DELETE CASCADE

TABLE artifact_users
  COLUMN name VARCHAR(128) NOT NULL
  COLUMN created_at DATETIME NOT NULL
  PRIMARY KEY (name)

TABLE artifact_versions
  COLUMN id INTEGER NOT NULL
  COLUMN uid VARCHAR(32) NOT NULL
  COLUMN project VARCHAR(64) NOT NULL
  COLUMN key VARCHAR(128) NOT NULL
  COLUMN version INTEGER NOT NULL
  COLUMN kind VARCHAR(32) NOT NULL
  COLUMN format VARCHAR(32) NOT NULL
  COLUMN materializer VARCHAR(255) NOT NULL
  COLUMN hash VARCHAR(64) NOT NULL
  COLUMN size BIGINT NOT NULL
  COLUMN fingerprint VARCHAR(64)
  COLUMN meta_digest VARCHAR(64) NOT NULL
  COLUMN filename VARCHAR(255) NOT NULL
  COLUMN content_type VARCHAR(100) NOT NULL
  COLUMN description TEXT
  COLUMN owner VARCHAR(128)
  COLUMN flow_name VARCHAR(255)
  COLUMN flow_run_id VARCHAR(36)
  COLUMN task_run_id VARCHAR(36)
  COLUMN producer JSON NOT NULL
  COLUMN meta JSON NOT NULL
  COLUMN details JSON
  COLUMN created_at DATETIME NOT NULL
  COLUMN updated_at DATETIME NOT NULL
  COLUMN source_url VARCHAR(512)
  PRIMARY KEY (id)
  INDEX ix_artifact_versions_flow (project, flow_name)
  INDEX ix_artifact_versions_flow_run (flow_run_id)
  INDEX ix_artifact_versions_hash (hash)
  INDEX ix_artifact_versions_sort_created (project, created_at, id)
  INDEX ix_artifact_versions_sort_kind (project, kind, id)
  INDEX ix_artifact_versions_sort_owner (project, owner, id)
  INDEX ix_artifact_versions_sort_producer (project, flow_name, id)
  INDEX ix_artifact_versions_sort_size (project, size, id)
  INDEX ix_artifact_versions_sort_source (project, source_url, id)
  INDEX ix_artifact_versions_task_run (task_run_id)
  INDEX ix_artifact_versions_updated (project, updated_at)
  INDEX ix_artifact_versions_updated_all (updated_at, id)
  UNIQUE (project, key, version)
  UNIQUE (uid)

TABLE run_metrics
  COLUMN id INTEGER NOT NULL
  COLUMN project VARCHAR(64) NOT NULL
  COLUMN run_id VARCHAR(64) NOT NULL
  COLUMN key VARCHAR(128) NOT NULL
  COLUMN step BIGINT NOT NULL
  COLUMN value FLOAT NOT NULL
  COLUMN timestamp DATETIME NOT NULL
  COLUMN batch VARCHAR(32) NOT NULL
  PRIMARY KEY (id)
  INDEX ix_run_metrics_batch (batch)
  INDEX ix_run_metrics_run (run_id, key, step)

TABLE run_results
  COLUMN project VARCHAR(64) NOT NULL
  COLUMN run_id VARCHAR(64) NOT NULL
  COLUMN key VARCHAR(128) NOT NULL
  COLUMN value JSON
  COLUMN at DATETIME NOT NULL
  PRIMARY KEY (run_id, key)
