"""The catalog's schema as text, per database backend, as the migrations build it: tables,
columns (type, nullability, default), primary keys, indexes, unique constraints and foreign keys.

    python tests/schemas/dump.py            rewrite sqlite.sql and postgresql.sql from a fresh
                                            catalog of each (PostgreSQL: PA_TEST_PG_URL or the
                                            local server)

``tests/test_contracts.py`` compares a fresh catalog with these files: a schema change shows as a
diff there, reviewed here like code.
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent


def dump(engine: sa.Engine) -> str:
    """Every table of the database, sorted, one statement-like block each."""
    inspector = sa.inspect(engine)
    blocks = []
    for table in sorted(inspector.get_table_names()):
        lines = [f"TABLE {table}"]
        for column in inspector.get_columns(table):
            default = column.get("default")
            lines.append(
                f"  COLUMN {column['name']} {column['type']!s}"
                f"{'' if column['nullable'] else ' NOT NULL'}"
                f"{f' DEFAULT {default}' if default is not None else ''}"
            )
        pk = inspector.get_pk_constraint(table).get("constrained_columns") or []
        lines.append(f"  PRIMARY KEY ({', '.join(pk)})")
        for index in sorted(inspector.get_indexes(table), key=lambda i: i["name"] or ""):
            names = [str(c) for c in index["column_names"] if c is not None]
            names += [str(e) for e in index.get("expressions", []) if e not in names]
            lines.append(
                f"  {'UNIQUE ' if index['unique'] else ''}INDEX {index['name']} ({', '.join(names)})"
            )
        uniques = inspector.get_unique_constraints(table)
        for unique in sorted(uniques, key=lambda u: u["column_names"]):
            lines.append(f"  UNIQUE ({', '.join(unique['column_names'])})")
        for fk in sorted(inspector.get_foreign_keys(table), key=lambda f: f["constrained_columns"]):
            lines.append(
                f"  FOREIGN KEY ({', '.join(fk['constrained_columns'])}) REFERENCES "
                f"{fk['referred_table']} ({', '.join(fk['referred_columns'])})"
                f"{' ON DELETE ' + fk['options']['ondelete'] if fk['options'].get('ondelete') else ''}"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def fresh_catalog_schema(url: str) -> str:
    """The schema of a new catalog created (upgraded from nothing) at ``url``."""
    from prefect_artifacts.core.catalog import Catalog

    catalog = Catalog(url)
    try:
        catalog.latest("default", "schema-probe")  # opens it: the migrations build the schema
        return dump(catalog.engine)
    finally:
        catalog.dispose()


def main() -> int:
    import os

    from sqlalchemy.engine import make_url

    with tempfile.TemporaryDirectory() as folder:
        (HERE / "sqlite.sql").write_text(fresh_catalog_schema(f"sqlite:///{folder}/catalog.db"))
    admin_url = os.environ.get(
        "PA_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres"
    )
    name = f"pa_schema_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        (HERE / "postgresql.sql").write_text(fresh_catalog_schema(url))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"wrote {HERE / 'sqlite.sql'} and {HERE / 'postgresql.sql'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
