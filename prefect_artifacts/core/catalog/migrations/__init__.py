"""Alembic revisions of the catalog schema (run by ``catalog.migrate``, not by an env.py)."""
