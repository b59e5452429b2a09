"""The fields that name a run: in ``RunInfo``, lineage rows, manifests and journal entries.

A leaf module, so the catalog and the models share them without importing each other.
"""

RUN_FIELDS = ("flow_name", "flow_run_id", "flow_run_name", "task_run_id", "task_run_name")
