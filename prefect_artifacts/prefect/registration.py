"""Keeps Prefect's view of the artifacts in step with the catalog.

A listener on the core's events. For each version logged in a Prefect run: a markdown card (and,
for datasets, a preview table) on the run that logged it, a ``prefect-artifacts.artifact.logged``
event and an asset materialization. When a tag moves, labels or a description change, the cards
of the versions concerned are rewritten (and a ``prefect-artifacts.tag.moved`` event is sent);
when versions are deleted their cards are removed; a run that loads a version emits
``prefect.asset.referenced``.

Everything is sent from a background thread once logging pauses, with the Prefect settings of
the moment the change happened, so the run never waits for it. Changes are committed before
anything here runs: a failure costs a card or an event, never an artifact, and is a warning.
"""

from __future__ import annotations

import contextvars
import logging
import os
import queue
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ..core import tracking
from ..core.events import (
    Consumed,
    Deleted,
    DescriptionSet,
    Event,
    LabelsSet,
    Revised,
    RunTracked,
    TagMoved,
    TagRemoved,
    VersionLogged,
)
from ..core.models import ArtifactVersion, Producer, RunInfo
from . import assets, cards
from .keys import prefect_key, preview_key

if TYPE_CHECKING:
    from ..core.repository import Repository

logger = logging.getLogger("prefect_artifacts.prefect.registration")
LOGGED = "prefect-artifacts.artifact.logged"
TAG_MOVED = "prefect-artifacts.tag.moved"
QUIET = 0.5  # seconds without a new job before jobs are sent
BATCH = 200  # ...or as soon as this many are waiting
META_REF = "prefect-artifacts.ref"  # metadata of every Prefect artifact we create
Job = Callable[[Any], None]  # called with an open Prefect client


# -- what is sent ----------------------------------------------------------------------------
def summary(version: ArtifactVersion) -> str:
    return f"{version.kind} {version.project}/{version.key}:{version.version}"


def render(repo: Repository, version: ArtifactVersion, logged_by: Producer | None = None) -> str:
    thumbnail = None
    if version.kind == "plot":
        try:
            thumbnail = cards.thumbnail_of(repo.read_blob(version.hash), version.format)
        except Exception as exc:  # a card without its picture is still a card
            logger.warning("no thumbnail for %s: %s", version.ref, exc)
    run_id = version.producer.run_id if version.producer.kind == "prefect" else None
    return cards.card(
        version,
        run_metrics=tracking.run_summary(repo, run_id) if run_id else None,
        ui_url=repo.settings.ui_url,
        logged_by=logged_by,
        thumbnail=thumbnail[0] if thumbnail else None,
        thumbnail_type=thumbnail[1] if thumbnail else "image/png",
    )


def register(
    client: Any, repo: Repository, version: ArtifactVersion, run: RunInfo, created: bool
) -> None:
    """The card(s), event and asset materialization of ``version`` logged by ``run``."""
    from prefect.client.schemas.actions import ArtifactCreate

    logged_by = None if created else Producer(kind="prefect", **run.model_dump())
    documents = [(prefect_key(version.project, version.key), "", render(repo, version, logged_by))]
    rows = getattr(version, "preview", None)
    if rows:
        preview = cards.preview(version, rows)
        documents.append((preview_key(version.project, version.key), " (preview)", preview))
    for key, suffix, data in documents:
        client.create_artifact(
            ArtifactCreate(
                type="markdown",
                key=key,
                description=summary(version) + suffix,
                data=data,
                metadata_={META_REF: version.ref},
                task_run_id=_uuid(run.task_run_id),
                flow_run_id=_uuid(run.flow_run_id),
            )
        )

    related = run_related(run)
    _emit(
        event=LOGGED,
        resource=version_resource(version),
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
    upstream = unique(
        assets.related(assets.asset_of(repo, v)) for v in repo.inputs_of_run(run.run_id)
    )
    room = max_related() - len(related)
    _emit(
        event="prefect.asset.materialization.succeeded",
        resource=assets.resource(assets.asset_of(repo, version)),
        related=upstream[:room] + related,
        payload={
            "version": version.version,
            "hash": version.hash,
            "kind": version.kind,
            "upstream_assets": len(upstream),
            "upstream_assets_listed": min(len(upstream), room),
        },
    )


def refresh(client: Any, repo: Repository, versions: list[ArtifactVersion]) -> None:
    """Rewrite the cards of ``versions`` (tags, labels or description changed)."""
    from prefect.client.schemas.actions import ArtifactUpdate

    for version in versions:
        for artifact in _ours(client, version, "markdown"):
            client.update_artifact(
                artifact.id,
                ArtifactUpdate(data=render(repo, version), description=summary(version)),
            )


def remove(client: Any, project: str, key: str, numbers: list[int]) -> None:
    """Delete the cards and preview tables of deleted versions."""
    refs = {f"{project}/{key}:{n}" for n in numbers}
    for prefect_artifact_key in (prefect_key(project, key), preview_key(project, key)):
        for artifact in _read_all(client, prefect_artifact_key):
            if (artifact.metadata_ or {}).get(META_REF) in refs:
                client.delete_artifact(artifact.id)


def _ours(client: Any, version: ArtifactVersion, kind: str) -> list[Any]:
    key = prefect_key(version.project, version.key)
    return [
        a
        for a in _read_all(client, key)
        if (a.metadata_ or {}).get(META_REF) == version.ref and a.type == kind
    ]


def _read_all(client: Any, key: str) -> list[Any]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    found, offset = [], 0
    while True:
        page = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            limit=200,
            offset=offset,
        )
        found += page
        if len(page) < 200:
            return found
        offset += 200


def _emit(**event: Any) -> None:
    """Send an event with exactly the related resources given: Prefect would otherwise add
    those of whatever run context the sending thread carries."""
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.events import emit_event

    def send() -> None:
        FlowRunContext.__var__.set(None)
        TaskRunContext.__var__.set(None)
        emit_event(**event)

    contextvars.copy_context().run(send)


def version_resource(version: ArtifactVersion) -> dict[str, str]:
    return {
        "prefect.resource.id": (
            f"prefect-artifacts.artifact.{version.project}.{version.key}.{version.version}"
        ),
        "prefect.resource.name": f"{version.key}:{version.version}",
        "prefect-artifacts.kind": version.kind,
        "prefect-artifacts.project": version.project,
        "prefect-artifacts.key": version.key,
        "prefect-artifacts.version": str(version.version),
    }


def run_related(run: RunInfo | None) -> list[dict[str, str]]:
    """Exactly the run's resources: flow run, task run, flow, deployment."""
    if run is None:
        return []
    items = [
        ("flow-run", run.flow_run_id, run.flow_run_name),
        ("task-run", run.task_run_id, run.task_run_name),
        ("flow", run.flow_id, run.flow_name),
        ("deployment", run.deployment_id, run.deployment_name),
    ]
    return [
        {
            "prefect.resource.id": f"prefect.{kind}.{ident}",
            "prefect.resource.role": kind,
            "prefect.resource.name": name or "",
        }
        for kind, ident, name in items
        if ident
    ]


def unique(resources: Any) -> list[dict[str, str]]:
    """Related resources without repeats (by id), in a stable order."""
    seen: dict[str, dict[str, str]] = {}
    for resource in resources:
        seen.setdefault(resource["prefect.resource.id"], resource)
    return sorted(seen.values(), key=lambda r: r["prefect.resource.id"])


def max_related() -> int:
    from prefect.settings import get_current_settings

    return get_current_settings().server.events.maximum_related_resources


def _uuid(value: str | None) -> UUID | None:
    return UUID(value) if value else None


# -- when it is sent -------------------------------------------------------------------------
def on_event(event: Event) -> None:
    """The core's listener: note the change in the run that made it (a log line; the asset for
    downstream ``@materialize`` tasks), then turn it into Prefect jobs, per the repository's
    ``registration`` setting ("background", "sync" or "off")."""
    _note_in_run(event)
    repo = event.repository
    mode = repo.settings.registration
    if mode == "off":
        return
    job = _job_for(event)
    if job is None:
        return
    run = getattr(event, "run", None)
    if run is None and not _api_configured():
        return  # outside a run, only a configured server is worth reaching (no temporary one)
    if mode == "sync":
        _send(_settings(), [job])
    else:
        _registrar.submit(job)


def _note_in_run(event: Event) -> None:
    """In the thread that made the change, inside its run: a line in the run's log, and the
    logged version's asset made upstream of the tasks that receive this task's result."""
    if not isinstance(event, (VersionLogged, Consumed)) or event.run is None:
        return
    try:
        from prefect.logging import get_run_logger

        run_logger = get_run_logger()
    except Exception:  # not inside a run after all
        return
    version = event.version
    if isinstance(event, Consumed):
        run_logger.info("loaded %s %s (sha256 %s…)", version.kind, version.ref, version.hash[:12])
        return
    what = "new version" if event.created else "identical content: no new version"
    run_logger.info("logged %s %s (%s) at %s", version.kind, version.ref, what, version.target_path)
    assets.track(event.repository, version)


def _job_for(event: Event) -> Job | None:
    repo = event.repository
    if isinstance(event, VersionLogged):
        if event.run is None:
            return None
        version, run, created = event.version, event.run, event.created
        return _guarded(version.ref, lambda c: register(c, repo, version, run, created))
    if isinstance(event, TagMoved):
        version, tag, previous = event.version, event.tag, event.previous

        def moved(client: Any) -> None:
            changed = [version]
            if previous is not None:
                changed.append(repo.get(f"{version.project}/{version.key}:{previous}"))
            refresh(client, repo, changed)
            _emit(
                event=TAG_MOVED,
                resource={**version_resource(version), "prefect-artifacts.tag": tag},
                related=run_related(runs_current()),
                payload={"tag": tag, "version": version.version, "previous": previous},
            )

        return _guarded(version.ref, moved)
    if isinstance(event, TagRemoved):
        ref = f"{event.project}/{event.key}:{event.version}"
        return _guarded(ref, lambda c: refresh(c, repo, [repo.get(ref)]))
    if isinstance(event, (LabelsSet, DescriptionSet, Revised)):
        version = event.version
        return _guarded(version.ref, lambda c: refresh(c, repo, [version]))
    if isinstance(event, Deleted):
        project, key, numbers = event.project, event.key, list(event.versions)
        return _guarded(f"{project}/{key}", lambda c: remove(c, project, key, numbers))
    if isinstance(event, RunTracked):
        run, metrics, results = event.run, event.metrics, event.results

        def tracked(client: Any) -> None:
            from prefect.client.schemas.actions import ArtifactCreate

            client.create_artifact(
                ArtifactCreate(
                    type="markdown",
                    description="metrics and results of this run",
                    data=cards.run_card(
                        metrics,
                        results,
                        cards.run_page_url(repo.settings.ui_url, repo.project, run.run_id),
                    ),
                    task_run_id=_uuid(run.task_run_id),
                    flow_run_id=_uuid(run.flow_run_id),
                )
            )

        return _guarded(f"run {run.run_id}", tracked)
    if isinstance(event, Consumed):
        version, run = event.version, event.run

        def referenced(_client: Any) -> None:
            _emit(
                event="prefect.asset.referenced",
                resource=assets.resource(assets.asset_of(repo, version)),
                related=run_related(run),
                payload={"version": version.version, "hash": version.hash},
            )

        return _guarded(version.ref, referenced)
    return None


def runs_current() -> RunInfo | None:
    from .runtime import current_run

    return current_run()


def _guarded(ref: str, job: Job) -> Job:
    def run(client: Any) -> None:
        try:
            job(client)
        except Exception as exc:
            logger.warning(
                "%s is stored, but Prefect's UI could not be updated (%s: %s); the artifact "
                "itself is safe: see it with `prefect-artifacts show %s`",
                ref,
                type(exc).__name__,
                exc,
                ref,
            )

    return run


def _api_configured() -> bool:
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def _settings() -> Any:
    from prefect.context import get_settings_context

    return get_settings_context().model_copy()


class Registrar:
    """A background worker that sends jobs once logging has paused for ``QUIET`` seconds (or
    ``BATCH`` are waiting, or on ``flush``), so they never compete with the run that is
    logging — for CPU or for the Prefect server. Each job runs with the Prefect settings current
    when it was submitted; jobs sent together share one client."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Any, Job] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._urgent = threading.Event()
        self._at_exit = False

    def submit(self, job: Job) -> None:
        with self._lock:
            if not self._at_exit:
                self._at_exit = _flush_before_threads_stop(flush_registrations)
            if not self._at_exit:  # the interpreter is exiting already: send it now
                _send(_settings(), [job])
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="prefect-artifacts-registrar", daemon=True
                )
                self._thread.start()
        self._jobs.put((_settings(), job))

    def flush(self) -> None:
        """Send everything waiting now, and return when it has been sent."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                return  # nothing was ever submitted (or the worker is gone with its queue)
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
                    _send(settings, jobs)
            finally:
                for _ in batch:
                    self._jobs.task_done()


def _flush_before_threads_stop(flush: Callable[[], None]) -> bool:
    """Run ``flush`` when the interpreter exits, while threads may still start — before
    ``concurrent.futures`` and Prefect's own workers shut down (``atexit`` runs too late for
    them: it comes after the interpreter stops accepting new threads' exit hooks). False when
    the interpreter is exiting already."""
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # not CPython: the plain exit hook is the best there is
        import atexit

        atexit.register(flush)
        return True
    try:
        register(flush)
    except RuntimeError:
        return False
    return True


def _grouped(batch: list[tuple[Any, Job]]) -> list[tuple[Any, list[Job]]]:
    """Consecutive jobs with the same Prefect API share a client."""
    groups: list[tuple[Any, list[Job]]] = []
    for settings, job in batch:
        if groups and groups[-1][0].settings.api.url == settings.settings.api.url:
            groups[-1][1].append(job)
        else:
            groups.append((settings, [job]))
    return groups


def _send(settings: Any, jobs: list[Job]) -> None:
    from prefect.client.orchestration import get_client

    try:
        with settings, get_client(sync_client=True) as client:
            for job in jobs:
                job(client)
    except Exception as exc:  # jobs report their own failures; this is a last resort
        logger.warning(
            "could not reach Prefect's API to update its UI for %d changes (%s: %s); the "
            "artifacts themselves are safe",
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


def flush_registrations() -> None:
    """Wait until the Prefect cards, events and assets of every change so far are sent."""
    _registrar.flush()
    if "prefect.events.worker" in sys.modules:
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all()
