"""Registers logged versions with Prefect: a markdown card (and, for datasets, a preview
table) on the run that logged them, an event, and an asset materialization.

Runs on a background thread so the task that logged does not wait, in the context (settings,
run) captured when the version was logged. The version is committed before anything here
runs: a registration failure costs a card, never an artifact, and is reported as a warning.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ..core.events import Event, VersionLogged
from . import cards

if TYPE_CHECKING:
    from ..core.models import ArtifactVersion
    from ..core.repository import Repository
    from ..core.runs import RunInfo

logger = logging.getLogger("prefect_artifacts.registration")
EVENT = "prefect-artifacts.artifact.logged"
QUIET = 0.5  # seconds without a new version before registrations are sent
BATCH = 200  # ...or as soon as this many are waiting


def register(
    repo: Repository,
    version: ArtifactVersion,
    run: RunInfo,
    *,
    created: bool,
    client: Any,
) -> None:
    """Create the Prefect card(s), event and asset for ``version`` logged by ``run``."""
    from prefect.client.schemas.actions import ArtifactCreate

    task_run_id = _uuid(run.task_run_id)
    flow_run_id = _uuid(run.flow_run_id)
    key = cards.prefect_key(version.project, version.key)
    thumbnail = None
    if version.kind == "plot":
        try:
            thumbnail = cards.thumbnail_of(repo.read_blob(version.hash), version.format)
        except Exception as exc:  # a card without its picture is still a card
            logger.warning("no thumbnail for %s: %s", version.ref, exc)
    markdown = cards.card(
        version,
        ui_url=repo.settings.ui_url,
        thumbnail=thumbnail[0] if thumbnail else None,
        thumbnail_type=thumbnail[1] if thumbnail else "image/png",
    )
    summary = f"{version.kind} {version.project}/{version.key}:{version.version}"
    documents = [("markdown", key, summary, markdown)]
    preview = getattr(version, "preview", None)
    if preview:
        documents.append(
            (
                "table",
                f"{key}-preview",
                f"first {len(preview)} rows of {summary}",
                json.dumps(preview),
            )
        )
    for kind, artifact_key, description, data in documents:
        client.create_artifact(
            ArtifactCreate(
                type=kind,
                key=artifact_key,
                description=description,
                data=data,
                task_run_id=task_run_id,
                flow_run_id=flow_run_id,
            )
        )
    _emit(repo, version, run, created=created)


def _emit(repo: Repository, version: ArtifactVersion, run: RunInfo, *, created: bool) -> None:
    from prefect.events import emit_event

    related = []
    if run.flow_run_id:
        related.append(
            {
                "prefect.resource.id": f"prefect.flow-run.{run.flow_run_id}",
                "prefect.resource.role": "flow-run",
                "prefect.resource.name": run.flow_run_name or "",
            }
        )
    if run.task_run_id:
        related.append(
            {
                "prefect.resource.id": f"prefect.task-run.{run.task_run_id}",
                "prefect.resource.role": "task-run",
                "prefect.resource.name": run.task_run_name or "",
            }
        )
    emit_event(
        event=EVENT,
        resource={
            "prefect.resource.id": f"prefect-artifacts.artifact.{version.project}.{version.key}.{version.version}",
            "prefect.resource.name": f"{version.key}:{version.version}",
            "prefect-artifacts.kind": version.kind,
            "prefect-artifacts.project": version.project,
        },
        related=related,
        payload={
            "uri": version.uri,
            "target_path": version.target_path,
            "hash": version.hash,
            "size": version.size,
            "created": created,
            "labels": version.labels,
        },
    )
    # Prefect assets: the key's storage location, with the artifacts this run consumed upstream.
    upstream = [
        {"prefect.resource.id": asset_key(repo, v.project, v.key), "prefect.resource.role": "asset"}
        for v in repo.inputs_of_run(run.run_id)
    ]
    emit_event(
        event="prefect.asset.materialization.succeeded",
        resource={
            "prefect.resource.id": asset_key(repo, version.project, version.key),
            "prefect.resource.name": version.key,
        },
        related=upstream + related,
        payload={"version": version.version, "hash": version.hash, "kind": version.kind},
    )


def asset_key(repo: Repository, project: str, key: str) -> str:
    """An artifact key's asset: where its versions' manifests live in storage."""
    return f"{repo.storage.url.rstrip('/')}/manifests/{project}/{key}"


def _uuid(value: str | None) -> UUID | None:
    return UUID(value) if value else None


Job = Callable[[Any], None]  # called with an open Prefect client


class Registrar:
    """A background worker that sends registrations once logging has paused for ``QUIET``
    seconds (or ``BATCH`` are waiting, or on ``flush``), so they never compete with the run
    that is logging — for CPU or for the Prefect server. Each is sent with the Prefect settings
    current when it was submitted (not the run's own client, which closes with the run);
    registrations sent together share one client."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Any, Job] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._urgent = threading.Event()

    def submit(self, job: Job) -> None:
        with self._lock:
            if self._thread is None:
                # Registered on first use, i.e. after Prefect started any temporary server:
                # exit handlers run last-in first-out, so pending cards go out before it stops.
                atexit.register(self.flush)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="prefect-artifacts-registrar", daemon=True
                )
                self._thread.start()
        from prefect.context import get_settings_context

        self._jobs.put((get_settings_context().model_copy(), job))

    def flush(self) -> None:
        """Send everything waiting now, and return when it has been sent."""
        self._urgent.set()
        self._jobs.put(None)  # wakes the worker if it is waiting for a quiet moment
        try:
            self._jobs.join()
        finally:
            self._urgent.clear()

    def _work(self) -> None:
        while True:
            batch = [self._jobs.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self._jobs.get(timeout=0 if self._urgent.is_set() else QUIET))
                except queue.Empty:
                    break
            try:
                for settings, jobs in _grouped([item for item in batch if item is not None]):
                    _run(settings, jobs)
            finally:
                for _ in batch:
                    self._jobs.task_done()


def _grouped(batch: list[tuple[Any, Job]]) -> list[tuple[Any, list[Job]]]:
    """Consecutive jobs with the same Prefect API share a client."""
    groups: list[tuple[Any, list[Job]]] = []
    for settings, job in batch:
        if groups and groups[-1][0].settings.api.url == settings.settings.api.url:
            groups[-1][1].append(job)
        else:
            groups.append((settings, [job]))
    return groups


def _run(settings: Any, jobs: list[Job]) -> None:
    from prefect.client.orchestration import get_client

    try:
        with settings, get_client(sync_client=True) as client:
            for job in jobs:
                job(client)
    except Exception as exc:  # jobs report their own failures; this is a last resort
        logger.warning(
            "could not reach Prefect's API to register %d stored versions in its UI (%s: %s); "
            "the artifacts themselves are safe",
            len(jobs),
            type(exc).__name__,
            exc,
        )


_registrar = Registrar()


def _new_registrar_after_fork() -> None:
    """A forked child must not inherit the parent's queue, lock or (absent) thread."""
    global _registrar
    _registrar = Registrar()


os.register_at_fork(after_in_child=_new_registrar_after_fork)


def on_event(event: Event) -> None:
    """The core's listener: register each version logged inside a Prefect run, per the
    repository's ``registration`` setting ("background" by default, "sync" or "off")."""
    if not isinstance(event, VersionLogged) or event.run is None:
        return
    repo, version, run, created = event.repository, event.version, event.run, event.created
    mode = repo.settings.registration
    if mode == "off":
        return

    def job(client: Any) -> None:
        try:
            register(repo, version, run, created=created, client=client)
        except Exception as exc:
            logger.warning(
                "%s is stored, but could not be registered in Prefect's UI (%s: %s); the "
                "artifact itself is safe: see it with `prefect-artifacts show %s`",
                version.ref,
                type(exc).__name__,
                exc,
                version.ref,
            )

    if mode == "sync":
        from prefect.context import get_settings_context

        _run(get_settings_context().model_copy(), [job])
    else:
        _registrar.submit(job)


def flush_registrations() -> None:
    """Wait until the Prefect cards, events and assets of every logged version are sent."""
    _registrar.flush()
    if "prefect.events.worker" in sys.modules:
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all()
