"""Alembic's environment for the catalog: run on the connection that ``migrate.upgrade`` holds
(and has locked), never on one of its own."""

from alembic import context

from prefect_artifacts.core.catalog.migrate import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
