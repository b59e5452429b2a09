"""Keeps Prefect's view of the artifacts in step with the catalog.

A listener on the core's events. For each version logged in a Prefect run: a markdown card (and,
for datasets, a preview table) on the run that logged it, a ``prefect-artifacts.artifact.logged``
event and an asset materialization. When a tag moves, labels or a description change, the cards
of the versions concerned are rewritten (and a ``prefect-artifacts.tag.moved`` event is sent);
a tag that leaves a version (untag, deletion) sends ``prefect-artifacts.tag.removed``; when
versions are deleted their cards are removed; a run that loads a version emits
``prefect.asset.referenced``.

Everything is sent from a background thread, in batches while the run goes on logging, with
the Prefect settings of the moment the change happened, so the run's tasks never wait for it; a
flow run that changed something sends what is left when it ends (a state hook), so ``flow()``
returns with its cards. Changes are committed before anything here runs: a failure costs a card
or an event, never an artifact, and is a warning.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ..core import tracking
from ..core.errors import ArtifactNotFoundError
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
from ..core.models import ArtifactVersion, DatasetVersion, Producer, RunInfo
from . import assets, cards
from .keys import prefect_key, preview_key

if TYPE_CHECKING:
    from ..core.repository import Repository

logger = logging.getLogger("prefect_artifacts.prefect.registration")
LOGGED = "prefect-artifacts.artifact.logged"
TAG_MOVED = "prefect-artifacts.tag.moved"
TAG_REMOVED = "prefect-artifacts.tag.removed"
GATHER = 0.2  # seconds a batch gathers jobs after its first one arrived, before it is sent
BATCH = 200  # ...or as soon as this many are waiting
PARALLEL = 4  # cards created side by side (one client)
EVENTS_BATCH = 100  # events sent in one request
META_REF = "prefect-artifacts.ref"  # metadata of every Prefect artifact we create...
META_UID = "prefect-artifacts.uid"  # ...and the version's uid, which never names another
META_REPOSITORY = "prefect-artifacts.repository"  # ...and its repository's id


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
        run_metrics=_summary_of(repo, run_id) if run_id else None,
        ui_url=repo.settings.ui_url,
        logged_by=logged_by,
        thumbnail=thumbnail[0] if thumbnail else None,
        thumbnail_type=thumbnail[1] if thumbnail else "image/png",
    )


def card_of(repo: Repository, version: ArtifactVersion, logged_by: Producer | None = None) -> str:
    """The version's card, with its preview table inside when ``preview_cards`` is "inline"."""
    text = render(repo, version, logged_by)
    dataset = version if isinstance(version, DatasetVersion) else None
    if dataset and dataset.preview and repo.settings.preview_cards == "inline":
        text += "\n\n" + cards.preview(dataset, dataset.preview)
    return text


def register(
    client: Any,
    repo: Repository,
    version: ArtifactVersion,
    run: RunInfo,
    created: bool,
    prefect_upstream: list[dict[str, str]] | None = None,
    card: str = "own",
) -> None:
    """The card (and preview table, per ``preview_cards``), event and asset materialization of
    ``version`` logged by ``run``. ``prefect_upstream``: assets Prefect saw upstream of the run
    (``@materialize`` results it received), listed with ours. ``card``: "own" (the version's
    card), "sweep" (the card its run's iterations of the key share, see :func:`sweep_card`)
    or "none" (the events only: a later iteration's job writes the shared card)."""
    from prefect.client.schemas.actions import ArtifactCreate

    logged_by = None if created else Producer(kind="prefect", **run.model_dump())
    documents = []
    if card == "own":
        documents.append(
            (
                "markdown",
                prefect_key(version.project, version.key),
                "",
                card_of(repo, version, logged_by),
            )
        )
    elif card == "sweep":
        sweep_card(client, repo, version, run)
    dataset = version if isinstance(version, DatasetVersion) else None
    if card != "none" and dataset and dataset.preview and repo.settings.preview_cards == "separate":
        kind, data = cards.preview_artifact(dataset, dataset.preview)
        documents.append((kind, preview_key(version.project, version.key), " (preview)", data))
    for kind, key, suffix, data in documents:
        _create_artifact(
            client,
            ArtifactCreate(
                type=kind,
                key=key,
                description=summary(version) + suffix,
                data=data,
                metadata_=card_metadata(version),
                task_run_id=_uuid(run.task_run_id),
                flow_run_id=_uuid(run.flow_run_id),
            ),
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
        [
            *(assets.related(assets.asset_of(repo, v)) for v in _inputs_of(repo, run.run_id)),
            *(prefect_upstream or []),
        ]
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


SWEEP_CARDS_KEPT = 1024  # sweeps whose shared card this process remembers (the most recent)
_sweep_cards: OrderedDict[tuple[str, ...], Any] = OrderedDict()


def sweep_id(repo: Repository, version: ArtifactVersion, run_id: str) -> tuple[str, ...]:
    """What a sweep's card is shared by: the repository, the run, the project and the key."""
    return (version.repository_id or str(id(repo)), run_id, version.project, version.key)


def sweep_card(client: Any, repo: Repository, version: ArtifactVersion, run: RunInfo) -> None:
    """A sweep logged by one run (several iterations of one key) gets one card, not one per
    iteration: created with its first batch, rewritten by each later one to list the run's
    iterations above the newest version's card (whose version it then names)."""
    from prefect.client.schemas.actions import ArtifactCreate, ArtifactUpdate

    run_id = run.run_id or ""
    sweep = sweep_id(repo, version, run_id)
    # the run's versions of the key, as `ls --producer <run>` (and select_best) find them: their
    # number, and only the most recent from the catalog (a long sweep rewrites the card often)
    logged = {"project": version.project, "key": version.key, "producer": run_id}
    total = repo.count(**logged, all_versions=True)
    text = card_of(repo, version)
    if total > 1:
        recent = repo.list(**logged, all_versions=True, sort="-version", limit=cards.SWEEP_ROWS)
        text = "\n".join(cards.sweep(version.key, run_id, recent, total)) + "\n" + text
    description = f"sweep of {version.project}/{version.key}: {total} iterations"
    known = _sweep_cards.get(sweep)
    if known is not None:
        _sweep_cards.move_to_end(sweep)
        update = ArtifactUpdate(
            data=text, description=description, metadata_=card_metadata(version)
        )
        try:
            _update_artifact(client, known, update)
            return
        except Exception as exc:  # deleted meanwhile (its versions were): a new card instead
            if getattr(getattr(exc, "response", None), "status_code", None) != 404:
                raise
    _sweep_cards[sweep] = _create_artifact(
        client,
        ArtifactCreate(
            type="markdown",
            key=prefect_key(version.project, version.key),
            description=description if total > 1 else summary(version),
            data=text,
            metadata_=card_metadata(version),
            task_run_id=_uuid(run.task_run_id),
            flow_run_id=_uuid(run.flow_run_id),
        ),
    )
    while len(_sweep_cards) > SWEEP_CARDS_KEPT:
        _sweep_cards.popitem(last=False)


def refresh(client: Any, repo: Repository, versions: list[ArtifactVersion]) -> None:
    """Rewrite the cards of ``versions`` (tags, labels or description changed)."""
    from prefect.client.schemas.actions import ArtifactUpdate

    for version in versions:
        for artifact in _ours(client, version, "markdown"):
            _update_artifact(
                client,
                artifact,
                ArtifactUpdate(data=card_of(repo, version), description=summary(version)),
            )


def remove(client: Any, project: str, key: str, numbers: list[int]) -> None:
    """Delete the cards and preview tables of deleted versions."""
    refs = {f"{project}/{key}:{n}" for n in numbers}
    for prefect_artifact_key in (prefect_key(project, key), preview_key(project, key)):
        for artifact in _read_all(client, prefect_artifact_key):
            if (artifact.metadata_ or {}).get(META_REF) in refs:
                client.delete_artifact(artifact.id)


def _create_artifact(client: Any, artifact: Any) -> Any:
    """``client.create_artifact``, with its ``prefect.artifact.created`` event sent in our
    batch rather than through Prefect's events worker (which cannot start at exit). Returns
    the created artifact (its ``id`` and ``key``)."""
    response = client.request(
        "POST", "/artifacts/", json=artifact.model_dump(mode="json", exclude_unset=True)
    )
    created = response.json()
    _emit(
        event="prefect.artifact.created",
        resource={
            "prefect.resource.id": f"prefect.artifact.{created['id']}",
            "prefect.resource.name": created.get("key") or "",
        },
        payload={k: created.get(k) for k in ("key", "type", "description")},
    )
    return SimpleNamespace(id=created["id"], key=created.get("key"))


def _update_artifact(client: Any, artifact: Any, update: Any) -> None:
    """``client.update_artifact``, its ``prefect.artifact.updated`` event sent in our batch."""
    changes = update.model_dump(mode="json", exclude_unset=True)
    client.request("PATCH", "/artifacts/{id}", json=changes, path_params={"id": artifact.id})
    _emit(
        event="prefect.artifact.updated",
        resource={
            "prefect.resource.id": f"prefect.artifact.{artifact.id}",
            "prefect.resource.name": artifact.key or "",
        },
        payload=changes,
    )


def _ours(client: Any, version: ArtifactVersion, kind: str) -> list[Any]:
    key = prefect_key(version.project, version.key)
    return [a for a in _read_all(client, key) if describes(a, version) and a.type == kind]


def card_metadata(version: ArtifactVersion) -> dict[str, str]:
    """What a card records to be found again: the version's uid and its repository's id (two
    repositories reporting to one server never touch each other's cards)."""
    metadata = {META_REF: version.ref, META_UID: version.uid}
    if version.repository_id:
        metadata[META_REPOSITORY] = version.repository_id
    return metadata


def describes(artifact: Any, version: ArtifactVersion) -> bool:
    """Whether a Prefect artifact is one of ``version``'s cards: by the version's uid and
    repository id (cards made before uids were recorded: by its reference)."""
    metadata = artifact.metadata_ or {}
    if META_UID in metadata:
        same_repository = metadata.get(META_REPOSITORY) in (None, version.repository_id)
        return metadata[META_UID] == version.uid and same_repository
    return metadata.get(META_REF) == version.ref


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


def version_resource(version: ArtifactVersion) -> dict[str, str]:
    return _resource(
        version.project, version.key, version.version, version.kind, version.repository_id
    )


def _resource(
    project: str, key: str, number: int, kind: str, repository_id: str | None
) -> dict[str, str]:
    return {
        "prefect.resource.id": f"prefect-artifacts.artifact.{project}.{key}.{number}",
        "prefect.resource.name": f"{key}:{number}",
        "prefect-artifacts.kind": kind,
        "prefect-artifacts.project": project,
        "prefect-artifacts.key": key,
        "prefect-artifacts.version": str(number),
        "prefect-artifacts.repository": repository_id or "",
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
    downstream ``@materialize`` tasks), then turn it into a Prefect job, per the repository's
    ``registration`` setting ("background", "sync" or "off"). Only what the job needs from the
    run (its ids, the assets Prefect saw upstream) is read here, in the thread that made the
    change; everything else happens in the registrar."""
    upstream = _note_in_run(event)
    repo = _repository_of(event)
    mode = repo.settings.registration
    if mode == "off":
        return
    run = getattr(event, "run", None) or (runs_current() if _in_run_event(event) else None)
    job = _job_for(event, run, upstream)
    if job is None:
        return
    if run is None and not _api_configured():
        return  # outside a run, only a configured server is worth reaching (no temporary one)
    if mode == "sync":
        _send(_settings(), [job])
        return
    _registrar.submit(job, run.flow_run_id if run is not None else None)
    if run is not None and run.flow_run_id:
        _send_when_flow_run_ends()


def _in_run_event(event: Event) -> bool:
    return isinstance(event, (TagMoved, TagRemoved, LabelsSet, DescriptionSet, Revised, Deleted))


def _note_in_run(event: Event) -> list[dict[str, str]]:
    """In the thread that made the change, inside its run: a line in the run's log, and the
    logged version's asset made upstream of the tasks that receive this task's result.
    Returns the assets Prefect itself has upstream of this task run (``@materialize`` results
    it received, its ``asset_deps``), for the version's materialization event."""
    if not isinstance(event, (VersionLogged, Consumed)) or event.run is None:
        return []
    try:
        from prefect.logging import get_run_logger

        run_logger = get_run_logger()
    except Exception:  # not inside a run after all
        return []
    version = event.version
    if isinstance(event, Consumed):
        run_logger.info("loaded %s %s (sha256 %s…)", version.kind, version.ref, version.hash[:12])
        return []
    what = "new version" if event.created else "identical content: no new version"
    run_logger.info("logged %s %s (%s) at %s", version.kind, version.ref, what, version.target_path)
    assets.track(_repository_of(event), version)
    return assets.prefect_upstream()


def _repository_of(event: Event) -> Repository:
    """The repository an event came from (events hold it as the records' protocol; cards need
    the whole repository: its settings, catalog and run metrics)."""
    from ..core.repository import Repository

    if not isinstance(event.repository, Repository):
        raise TypeError(f"an event from a {type(event.repository).__name__}, not a Repository")
    return event.repository


def _job_for(event: Event, run: RunInfo | None, upstream: list[dict[str, str]]) -> Job | None:
    repo = _repository_of(event)
    if isinstance(event, VersionLogged):
        if event.run is None:
            return None
        version, created, logged_in = event.version, event.created, event.run
        producer = version.producer.run_id if version.producer.kind == "prefect" else None
        run_id = logged_in.run_id
        iteration = created and version.iteration is not None
        return Job(
            f"the card and events of {version.ref}",
            _lane(version.project, version.key),
            lambda c, card="own": register(c, repo, version, logged_in, created, upstream, card),
            reads=(repo, [r for r in (run_id, producer) if r]),
            sweep=sweep_id(repo, version, run_id) if iteration and run_id else None,
        )
    if isinstance(event, TagMoved):
        version, tag, previous, logged = event.version, event.tag, event.previous, event.logged

        def moved(client: Any) -> None:
            changed = [] if logged else [version]  # a new version's card shows its tags
            if previous is not None:
                changed.append(repo.get(f"{version.project}/{version.key}:{previous}"))
            refresh(client, repo, changed)
            _emit(
                event=TAG_MOVED,
                resource={**version_resource(version), "prefect-artifacts.tag": tag},
                related=run_related(run),
                payload={"tag": tag, "version": version.version, "previous": previous},
            )

        return Job(f"{TAG_MOVED} {tag} → {version.ref}", _lane(version.project, version.key), moved)
    if isinstance(event, TagRemoved):
        ref = f"{event.project}/{event.key}:{event.version}"
        project, key, tag, number = event.project, event.key, event.tag, event.version
        resource = {
            **_resource(project, key, number, event.kind, repo.known_repository_id()),
            "prefect-artifacts.tag": tag,
        }
        deleted = event.deleted

        def removed(client: Any) -> None:
            if not deleted:  # the card of a version still there stops showing the tag
                # (deleted since: its cards go with it, the event is still due)
                with contextlib.suppress(ArtifactNotFoundError):
                    refresh(client, repo, [repo.get(ref)])
            _emit(
                event=TAG_REMOVED,
                resource=resource,
                related=run_related(run),
                payload={"tag": tag, "version": number, "deleted": deleted},
            )

        return Job(f"{TAG_REMOVED} {tag} from {ref}", _lane(project, key), removed)
    if isinstance(event, (LabelsSet, DescriptionSet, Revised)):
        version = event.version
        return Job(
            f"the card of {version.ref}",
            _lane(version.project, version.key),
            lambda c: refresh(c, repo, [version]),
        )
    if isinstance(event, Deleted):
        project, key, numbers = event.project, event.key, list(event.versions)
        return Job(
            f"the removal of {project}/{key}:{','.join(map(str, numbers))}'s cards",
            _lane(project, key),
            lambda c: remove(c, project, key, numbers),
        )
    if isinstance(event, RunTracked):
        run, metrics, results = event.run, event.metrics, event.results

        def tracked(client: Any) -> None:
            from prefect.client.schemas.actions import ArtifactCreate

            _create_artifact(
                client,
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
                ),
            )

        return Job(f"the run card of {run.run_id}", f"run {run.run_id}", tracked)
    if isinstance(event, Consumed):
        version, consumer = event.version, event.run

        def referenced(_client: Any) -> None:
            _emit(
                event="prefect.asset.referenced",
                resource=assets.resource(assets.asset_of(repo, version)),
                related=run_related(consumer),
                payload={"version": version.version, "hash": version.hash},
            )

        # an event only: no order to keep
        return Job(f"prefect.asset.referenced of {version.ref}", "", referenced)
    return None


def send_prefect_artifacts_cards(flow: Any, flow_run: Any, state: Any) -> None:
    """A flow run hook: when the run reaches a final state, send the cards and events of what
    it changed, so that ``flow()`` returns with its run showing them (batched with the rest of
    what is waiting; nothing is sent for a run that changed nothing)."""
    _registrar.flush_run(str(flow_run.id))


_HOOKS = ("on_completion_hooks", "on_failure_hooks", "on_crashed_hooks")


def _send_when_flow_run_ends() -> None:
    """Add :func:`send_prefect_artifacts_cards` to the hooks of the flow being run (once per
    flow; the engine reads them when the run ends)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    flow = context.flow if context is not None else None
    if flow is None:
        return
    for name in _HOOKS:
        hooks = getattr(flow, name, None)
        if hooks is not None and send_prefect_artifacts_cards not in hooks:
            setattr(flow, name, [*hooks, send_prefect_artifacts_cards])


def _lane(project: str, key: str) -> str:
    return f"{project}/{key}"


def runs_current() -> RunInfo | None:
    from .runtime import current_run

    return current_run()


@dataclass
class Job:
    """One change to send. ``lane``: jobs of one lane (one artifact key) run in the order they
    were submitted, so a card exists before it is rewritten; lanes run side by side."""

    ref: str
    lane: str
    send: Callable[..., None]  # called with an open Prefect client
    reads: tuple[Repository, list[str]] | None = None  # runs whose inputs and metrics it reads
    sweep: tuple[str, ...] | None = None  # a new iteration's sweep (see sweep_id)
    card: str = "own"  # for a sweep's iteration: "sweep" or "none" (see _coalesced)

    def __call__(self, client: Any) -> None:
        if self.sweep is None:
            self.send(client)
        else:
            self.send(client, card=self.card)


def _coalesced(jobs: list[Job]) -> list[Job]:
    """The iterations one run logged of one key share a card: in a batch, the last of them
    writes it ("sweep"), the others send their events only."""
    last = {job.sweep: job for job in jobs if job.sweep is not None}
    return [
        job
        if job.sweep is None
        else replace(job, card="sweep" if last[job.sweep] is job else "none")
        for job in jobs
    ]


def _api_configured() -> bool:
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def _settings() -> Any:
    from prefect.context import get_settings_context

    return get_settings_context().model_copy()


class Registrar:
    """A background worker that sends jobs in batches while the run goes on logging: a batch
    is what arrived within ``GATHER`` seconds of its first job (at most ``BATCH``; at once on
    ``flush``), and what arrives while it is sent makes the next one — so the cards of a long
    fan-out are created while its later tasks still run, never on the tasks' own threads.
    Each job runs with the Prefect settings current when it was submitted; jobs sent together
    share one client (``_send``)."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Any, Job] | threading.Event] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._urgent = threading.Event()
        self._waiting = 0  # flushes waiting: the worker sends without waiting for a pause
        self._runs: set[str] = set()  # flow runs whose jobs may not be sent yet
        self._at_exit = False

    def submit(self, job: Job | Callable[[Any], None], flow_run_id: str | None = None) -> None:
        if not isinstance(job, Job):
            job = Job("a change", "", job)
        with self._lock:
            if not self._at_exit:
                self._at_exit = _flush_before_threads_stop(_flush_at_exit)
            if not self._at_exit:  # the interpreter is exiting already: send it now
                _send(_settings(), [job])
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="prefect-artifacts-registrar", daemon=True
                )
                self._thread.start()
            if flow_run_id:
                self._runs.add(flow_run_id)
        self._jobs.put((_settings(), job))

    def flush_run(self, flow_run_id: str) -> None:
        """``flush``, if jobs of this flow run were submitted since its last flush."""
        with self._lock:
            if flow_run_id not in self._runs:
                return
            self._runs.discard(flow_run_id)
        self.flush()

    def flush(self) -> None:
        """Send everything submitted so far now, and return when it has been sent (jobs
        submitted meanwhile, by other threads, are not waited for)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                return  # nothing was ever submitted (or the worker is gone with its queue)
            self._waiting += 1
            self._urgent.set()
        sent = threading.Event()
        self._jobs.put(sent)  # set once everything before it is sent
        try:
            while not sent.wait(1):
                if not self._thread.is_alive():  # gone (a fork, a dying interpreter): no wait
                    return
        finally:
            with self._lock:
                self._waiting -= 1
                if not self._waiting:
                    self._urgent.clear()

    def _work(self) -> None:
        session = _Session()
        while True:
            if self._jobs.empty():
                session.close()  # idle: no client is kept open
            batch = [self._jobs.get()]
            deadline = time.monotonic() + GATHER
            while len(batch) < BATCH:
                left = 0.0 if self._urgent.is_set() else deadline - time.monotonic()
                try:
                    batch.append(self._jobs.get(timeout=max(left, 0.0)))
                except queue.Empty:
                    break
            jobs = [item for item in batch if not isinstance(item, threading.Event)]
            try:
                for settings, group in _grouped(jobs):
                    _send(settings, group, session.client(settings))
            except Exception as exc:  # _send reports its own failures; this is a last resort
                _report([(job, exc) for _, job in jobs], 0)
            finally:
                for item in batch:
                    if isinstance(item, threading.Event):
                        item.set()


class _Session:
    """The registrar's Prefect client, kept open across the batches of a busy stretch (one API
    at a time: opening one costs a connection and a CSRF token) and closed when it goes idle."""

    def __init__(self) -> None:
        self._url: str | None = None
        self._stack: contextlib.ExitStack | None = None
        self._client: Any = None

    def client(self, settings: Any) -> Any:
        """An open client for ``settings``' API, or None (``_send`` then opens its own and
        reports what failed)."""
        url = settings.settings.api.url
        if self._client is not None and url == self._url:
            return self._client
        self.close()
        from prefect.client.orchestration import get_client

        stack = contextlib.ExitStack()
        try:
            stack.enter_context(settings.model_copy())  # (``_send`` enters the jobs' own)
            self._client = stack.enter_context(get_client(sync_client=True))
        except Exception:
            with contextlib.suppress(Exception):
                stack.close()
            return None
        self._url, self._stack = url, stack
        return self._client

    def close(self) -> None:
        stack, self._stack, self._client, self._url = self._stack, None, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                stack.close()


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


_outgoing: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "prefect_artifacts_outgoing", default=None
)


def _emit(**event: Any) -> None:
    """Queue an event with exactly the related resources given (Prefect's ``emit_event`` would
    add those of whatever run context the sending thread carries); ``_send`` posts them in
    batches. Outside ``_send``, it goes through Prefect's own events worker."""
    from prefect.events import Event as PrefectEvent

    outgoing = _outgoing.get()
    if outgoing is not None:
        outgoing.append(PrefectEvent(**event))
        return
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.events import emit_event

    def send() -> None:
        FlowRunContext.__var__.set(None)  # type: ignore[arg-type]  # no run: Prefect's own "unset"
        TaskRunContext.__var__.set(None)  # type: ignore[arg-type]  # (as .get() returns None)
        emit_event(**event)

    contextvars.copy_context().run(send)


class _Reads:
    """The catalog reads of a batch's cards, done together: each run's inputs and metric
    summary, one query each per repository (instead of three reads per card)."""

    def __init__(self, jobs: list[Job]) -> None:
        self.inputs: dict[tuple[int, str], list[ArtifactVersion]] = {}
        self.metrics: dict[tuple[int, str], dict[str, dict[str, float]]] = {}
        wanted: dict[int, tuple[Repository, set[str]]] = {}
        for job in jobs:
            if job.reads is not None:
                wanted.setdefault(id(job.reads[0]), (job.reads[0], set()))[1].update(job.reads[1])
        for key, (repo, ids) in wanted.items():
            runs = sorted(ids)
            try:
                by_run = repo.catalog.versions_by_run(runs, "consumer")
                vids = sorted({vid for found in by_run.values() for vid in found})
                records = {r.id: r for r in repo.catalog.by_ids(vids)}
                summaries = tracking.run_summaries(repo, runs)
            except Exception as exc:  # each card reads for itself (and reports its failure)
                logger.debug("batched reads failed: %s", exc)
                continue
            for run_id in runs:
                found = [records[vid] for vid in by_run[run_id] if vid in records]
                self.inputs[key, run_id] = [repo.record(r) for r in found]
                self.metrics[key, run_id] = summaries[run_id]


_reads: contextvars.ContextVar[_Reads | None] = contextvars.ContextVar(
    "prefect_artifacts_reads", default=None
)


def _inputs_of(repo: Repository, run_id: str | None) -> list[ArtifactVersion]:
    known = _reads.get()
    if known is not None and run_id and (id(repo), run_id) in known.inputs:
        return known.inputs[id(repo), run_id]
    return repo.inputs_of_run(run_id)


def _summary_of(repo: Repository, run_id: str) -> dict[str, dict[str, float]]:
    known = _reads.get()
    if known is not None and (id(repo), run_id) in known.metrics:
        return known.metrics[id(repo), run_id]
    return tracking.run_summary(repo, run_id)


class Unreachable(Exception):
    """Prefect's API could not be reached (after the client's own retries)."""


def _send(settings: Any, jobs: list[Job], opened: Any = None) -> None:
    """Run ``jobs`` with one client (``opened``, or one opened for them): lanes side by side on
    up to ``PARALLEL`` threads (in order within a lane), then their events in batches of
    ``EVENTS_BATCH``, one request each.
    Failures are one warning line naming what was not sent; the artifacts are safe. Once the
    server proves unreachable, the rest is not tried (each try would wait out the retries)."""
    from prefect.client.orchestration import get_client

    jobs = _coalesced(jobs)
    lanes: dict[str, list[Job]] = {}
    for job in jobs:
        lanes.setdefault(job.lane or f"\0{len(lanes)}", []).append(job)
    pending: queue.SimpleQueue[list[Job]] = queue.SimpleQueue()
    for lane in lanes.values():
        pending.put(lane)
    events: list[Any] = []
    failed: list[tuple[Job, BaseException]] = []
    down: list[BaseException] = []

    def work(client: Any) -> None:
        token = _outgoing.set(events)
        try:
            while True:
                try:
                    lane = pending.get_nowait()
                except queue.Empty:
                    return
                for job in lane:
                    if down:
                        failed.append((job, down[0]))
                        continue
                    try:
                        job(client)
                    except Exception as exc:
                        failed.append((job, exc))
                        if _is_unreachable(exc):
                            down.append(exc)
        finally:
            _outgoing.reset(token)

    lost_events = 0
    token = _reads.set(_Reads(jobs))
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(settings)  # (a client is made with the jobs' settings)
            client = (
                opened if opened is not None else stack.enter_context(get_client(sync_client=True))
            )
            helpers = [
                threading.Thread(
                    target=contextvars.copy_context().run,
                    args=(work, client),
                    name="prefect-artifacts-sender",
                    daemon=True,
                )
                for _ in range(min(PARALLEL, len(lanes)) - 1)
            ]
            for thread in helpers:
                thread.start()
            work(client)
            for thread in helpers:
                thread.join()
            lost_events = len(events) if down else _post_events(client, events)
    except Exception as exc:  # the client could not be opened: nothing more was sent
        done = {id(job) for job, _ in failed}
        failed += [(job, exc) for job in jobs if id(job) not in done]
    finally:
        _reads.reset(token)
    if failed or lost_events:
        _report(failed, lost_events)


def _post_events(client: Any, events: list[Any]) -> int:
    """Send ``events`` in batches (one request each); returns how many were not delivered."""
    from prefect.events.worker import should_emit_events

    if not events or not should_emit_events():
        return 0
    lost = 0
    for start in range(0, len(events), EVENTS_BATCH):
        chunk = events[start : start + EVENTS_BATCH]
        try:
            client.request("POST", "/events", json=[e.model_dump(mode="json") for e in chunk])
        except Exception as exc:
            if getattr(getattr(exc, "response", None), "status_code", None) in (404, 405):
                for event in chunk:  # a server without the batch endpoint: its events worker
                    _emit(**event.model_dump(include={"event", "resource", "related", "payload"}))
                continue
            logger.debug("events not delivered: %s", exc)
            lost += len(events) - start
            break
    return lost


def _is_unreachable(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, (httpx.TransportError, OSError))


def _report(failed: list[tuple[Job, BaseException]], lost_events: int) -> None:
    """One warning line naming what did not reach Prefect."""
    what = list(dict.fromkeys(job.ref for job, _ in failed))
    if lost_events:
        what.append(f"{lost_events} events")
    shown = "; ".join(what[:5]) + (f"; and {len(what) - 5} more" if len(what) > 5 else "")
    exc = failed[0][1] if failed else None
    reason = f" ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})" if exc else ""
    message = (
        f"Prefect's UI could not be updated{reason}; not delivered: {shown}. The artifacts "
        "themselves are safe (see them with `prefect-artifacts show`)"
    )
    if _handlers_open(logger):
        logger.warning("%s", message)
    elif sys.__stderr__ is not None and not sys.__stderr__.closed:
        # at interpreter exit a handler's stream may be closed already (pytest's capture): the
        # process's own stderr still takes the line, rather than a "Logging error" traceback
        print(f"WARNING {logger.name}: {message}", file=sys.__stderr__, flush=True)


def _handlers_open(log: logging.Logger) -> bool:
    """Whether every stream the logger's records would be written to is still open."""
    current: logging.Logger | None = log
    while current is not None:
        for handler in current.handlers:
            if getattr(getattr(handler, "stream", None), "closed", False):
                return False
        current = current.parent if current.propagate else None
    return True


_registrar = Registrar()


def _new_registrar_after_fork() -> None:
    """A forked child must not inherit the parent's queue, lock or (absent) thread."""
    global _registrar
    _registrar = Registrar()


os.register_at_fork(after_in_child=_new_registrar_after_fork)


def _flush_at_exit() -> None:
    """At interpreter exit: send what is waiting (Prefect's own workers are still running)."""
    _registrar.flush()


def flush_registrations() -> None:
    """Wait until the Prefect cards, events and assets of every change so far are sent."""
    _registrar.flush()
    if "prefect.events.worker" in sys.modules:
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all()
