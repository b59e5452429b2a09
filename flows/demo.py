"""The main job: example pipelines on the embedded default, then where to look.

Runs ``flows/pipeline.py`` (ingest → features → train → evaluate) and ``flows/reuse.py`` (a
later run that loads ``features@latest`` and the model tagged ``prod``) against local storage
and an SQLite catalog under ``$PREFECT_HOME/artifacts``, with Prefect's temporary server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # quiet temporary server
# The first start of Prefect's temporary server on a new PREFECT_HOME creates its database, which
# takes longer than Prefect's default 20 s on a small machine: give it room.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import training_pipeline
from reuse import scoring_pipeline

import prefect_artifacts as pa


def main() -> None:
    print(starting(), flush=True)
    trained = training_pipeline(rows=20_000)
    scored = scoring_pipeline()
    pa.flush_registrations()  # Prefect UI cards are sent in the background; wait for them
    repo = pa.get_repository()
    print()
    print("Logged artifacts (latest version of each key):")
    for version in pa.list_artifacts():
        print(f"  {version.kind:<8} {version.key}:{version.version:<4} {version.target_path}")
    print()
    print(f"model {trained.ref}  metrics {trained.metrics}")
    print(f"scored {scored.rows} rows in a later run using features@latest and model@prod")
    print()
    print("Where to look:")
    print(f"  storage  {repo.storage.url}")
    print(f"  catalog  {repo.catalog.url}")
    print(
        "  CLI      .venv/bin/prefect-artifacts ls   |   .venv/bin/prefect-artifacts show churn-model@prod"
    )
    print("  web UI   ./run.sh ui   → http://127.0.0.1:4300")
    print(f"  Prefect  .venv/bin/prefect server start   → {prefect_ui()}/artifacts")


def starting() -> str:
    """What happens first: Prefect's temporary server starts, unless ``PREFECT_API_URL``
    names a server (then the flows run against it)."""
    from prefect.settings import get_current_settings

    api = get_current_settings().api.url
    if api:
        return f"Running the example flows against the Prefect server at {api}..."
    return (
        "Starting Prefect's temporary server (on a small machine this can take a minute or\n"
        "two, the first time and later ones), then running the example flows..."
    )


def prefect_ui() -> str:
    """Where ``prefect server start`` serves its UI, from Prefect's own settings."""
    from prefect_artifacts.prefect.runtime import ui_url

    return ui_url() or "http://127.0.0.1:4200"


if __name__ == "__main__":
    main()
