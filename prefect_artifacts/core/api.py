"""Module-level API on the default repository (from ``PREFECT_ARTIFACTS_*`` settings)."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from . import compare as _compare
from . import integration, maintenance, models, sweeps, tracking
from .context import ArtifactContext
from .dataitem import DataItem
from .errors import ArtifactNotFoundError, InvalidArgumentError
from .filters import ArtifactFilter
from .keys import validate_key, validate_tag
from .lineage import Lineage
from .maintenance import GcReport, PruneReport, ReindexReport, VerifyReport
from .models import ArtifactVersion, ModelVersion
from .repository import Repository
from .settings import ArtifactSettings

_repositories: dict[tuple[Any, ...], Repository] = {}
_settings: dict[tuple[tuple[str, str], ...], ArtifactSettings] = {}
_lock = threading.Lock()
Resolver = Callable[[Any], "ArtifactSettings | None"]
_resolvers: list[Resolver] = []


def add_repository_resolver(resolver: Resolver) -> None:
    """Teach :func:`get_repository` another way to name a repository: ``resolver(value)``
    returns the settings ``value`` stands for, or None. The Prefect integration adds saved
    ``ArtifactRepository`` blocks (by instance or name) this way."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def current_settings() -> ArtifactSettings:
    """``ArtifactSettings()`` as the environment says now, parsed once per environment (a task
    asks for its repository on every run; reading the settings again costs milliseconds)."""
    environment = tuple(
        sorted(
            (k, v)
            for k, v in os.environ.items()
            if k.startswith("PREFECT_ARTIFACTS_") or k == "PREFECT_HOME"
        )
    )
    settings = _settings.get(environment)
    if settings is None:
        settings = _settings[environment] = ArtifactSettings()
    return settings


def get_repository(repository: Any = None) -> Repository:
    """The repository to use: a ``Repository`` (or ``ArtifactSettings``); else whatever a resolver recognizes (an
    ``ArtifactRepository`` block or a saved block's name); else the block named by
    ``PREFECT_ARTIFACTS_REPOSITORY``; else the ``PREFECT_ARTIFACTS_*`` settings. Cached per
    process and configuration."""
    if isinstance(repository, Repository):
        return repository
    integration.ensure()  # the resolvers of saved blocks
    settings: ArtifactSettings | None = None
    if isinstance(repository, ArtifactSettings):
        settings, repository = repository, None
    elif repository is None:
        settings = current_settings()
        repository = settings.repository
    if repository is not None:
        settings = next((s for r in _resolvers if (s := r(repository)) is not None), None)
        if settings is None:
            raise TypeError(
                f"repository must be a Repository, an ArtifactRepository block or a saved "
                f"block's name, got {repository!r}"
                + (
                    ""
                    if _resolvers
                    else " (saved blocks need the Prefect integration: `import prefect_artifacts`)"
                )
            )
    assert settings is not None
    key = (
        os.getpid(),
        settings.model_dump_json(),
        settings.resolved_storage_url(),  # the defaults depend on PREFECT_HOME
        settings.resolved_catalog_url(),
    )
    with _lock:
        repo = _repositories.get(key)
        if repo is None:
            repo = _repositories[key] = Repository.from_settings(settings)
        return repo


def get_context(
    repository: Repository | None = None,
    project: str | None = None,
    iteration: int | None = None,
) -> ArtifactContext:
    """The artifact context for the current Prefect task or flow run (or this process).

    Args:
        repository: A ``Repository``, an ``ArtifactRepository`` block or a saved block's name;
            default: the repository the settings name.
        project: The project to log to (default: the repository's).
        iteration: Which candidate of a sweep this run is (MLRun's ``context.iteration``): the
            default ``iteration=`` of its log calls.

    Returns:
        An ``ArtifactContext`` with MLRun's ``log_dataset``/``log_model``/``log_plot``/
        ``log_artifact`` methods.
    """
    return ArtifactContext(get_repository(repository), project, iteration)


def _on_context(method: Any) -> Any:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        return method(get_context(), *args, **kwargs)

    call.__doc__ = f"{method.__doc__}\n\nLogs on ``get_context()``."
    return call


log_dataset = _on_context(ArtifactContext.log_dataset)
log_model = _on_context(ArtifactContext.log_model)
log_plot = _on_context(ArtifactContext.log_plot)
log_artifact = _on_context(ArtifactContext.log_artifact)


def get_artifact(
    ref: str, *, version: int | None = None, tag: str | None = None, project: str | None = None
) -> ArtifactVersion:
    """The version ``ref`` names: ``"key"`` (latest), ``"key:3"`` or ``"key@prod"``.

    Args:
        ref: A reference (``"key"``, ``"key:3"``, ``"key@prod"``, ``"key#2"``,
            ``"project/key:3"``) or an MLRun store URI.
        version: A version number, instead of one in ``ref``.
        tag: A tag, instead of one in ``ref``.
        project: The project (default: the repository's).

    Returns:
        The full record (a ``DatasetVersion``, ``ModelVersion``, ``PlotVersion`` or
        ``ArtifactVersion``); ``.load()`` reads its value.

    Raises:
        ArtifactNotFoundError: No such key, version or tag (a ``LookupError``); the message
            says what the key does have.
        InvalidKeyError: ``ref`` is malformed.
    """
    return get_repository().get(ref, version=version, tag=tag, project=project)


def list_artifacts(
    query: ArtifactFilter | None = None,
    /,
    *,
    key: str | None = None,
    search: str | None = None,
    kind: str | None = None,
    labels: dict[str, Any] | list[str] | None = None,
    since: datetime | timedelta | str | None = None,
    until: datetime | timedelta | str | None = None,
    tag: str | None = None,
    metrics: str | list[str] | None = None,
    producer: str | None = None,
    project: str | None = None,
    all_versions: bool = False,
    sort: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> list[ArtifactVersion]:
    """Search: the latest version of each key (``all_versions=True``: every version), newest
    update first. ``key`` is a name or glob, ``search`` text the key contains; ``kind`` a kind
    ("dataset", "models", ...); ``labels`` a dict (all must match) or names that must exist;
    ``since``/``until`` bound the last update (datetimes, or spans back from now: ``"24h"``,
    ``timedelta(days=7)``); ``producer`` a flow name or run id; ``sort`` e.g. ``"-updated"``,
    ``"key"``. An :class:`ArtifactFilter` works too.

    Args:
        query: An ``ArtifactFilter`` (instead of the keyword arguments).
        key: A key name (exact) or glob (``"events-*"``).
        search: Text the key contains (case-insensitive).
        kind: ``dataset``, ``model``, ``plot``, ``artifact`` (or plurals), ``other`` or a
            custom kind.
        labels: ``{"team": "ml"}`` (all must match) or ``["team=ml", "reviewed"]``.
        since: The earliest last update: a datetime, date, timedelta or span (``"24h"``).
        until: The latest last update, in the same forms.
        tag: Only the version carrying this tag.
        metrics: Conditions on model metrics, e.g. ``"auc>0.75 and f1>=0.5"`` (``> >= < <= ==
            !=``, joined by ``and``); versions without the metric do not match.
        producer: A producer flow name, flow run id or task run id.
        project: A project, or ``"*"`` for every project.
        all_versions: Every version, not only the latest of each key.
        sort: ``updated`` (default, newest first), ``created``, ``key``, ``version``,
            ``kind``, ``size``, ``owner``, ``producer``, ``location``, ``metric:<name>`` or
            ``label:<name>``; a leading ``-`` sorts descending.
        limit: At most this many (1-1000; default every match).
        offset: Skip this many (paging).

    Returns:
        The matching versions (without ``preview`` and ``stats``: ``get_artifact`` has them).

    Raises:
        InvalidArgumentError: A filter value is invalid; the message names the filter and the
            fix.
    """
    return get_repository().list(
        query,
        key=key,
        search=search,
        kind=kind,
        labels=labels,
        since=since,
        until=until,
        tag=tag,
        metrics=metrics,
        producer=producer,
        project=project,
        all_versions=all_versions or None,
        sort=sort,
        limit=limit,
        offset=offset,
    )


def compare(
    *refs: Any,
    metrics: list[str] | None = None,
    parameters: list[str] | bool | None = None,
    all_versions: bool = False,
    run: str | None = None,
    last: int | None = None,
    project: str | None = None,
    repository: Any = None,
) -> Any:
    """Versions side by side as a pandas DataFrame, one row per version: ``ref``, ``key``,
    ``version``, ``iteration``, ``tags``, ``created``, ``producer_run``, a column per metric
    and one per parameter (``param.<name>``). ``refs``: ``"churn-model:1"``,
    ``"churn-model@prod"``, globs (``"churn-*"``), keys (their latest; every version with
    ``all_versions=True``), versions or lists of them. ``run`` (a flow run id or name): the
    versions that run logged, ordered by iteration. A missing metric is an empty cell.
    ``metrics``/``parameters`` choose the columns (``parameters=False``: none).

    Args:
        *refs: References, globs, keys, versions, or lists of them.
        metrics: The metric columns (default: every metric).
        parameters: The parameter columns (default: every parameter; ``False``: none).
        all_versions: Every version of each key, not only the latest.
        run: Only what this flow run (id or name) logged, ordered by iteration.
        last: The last N versions of each key named.
        project: The project (default: the repository's).
        repository: The repository (default: the configured one).

    Returns:
        A pandas DataFrame, one row per version (at most 500).

    Raises:
        ArtifactNotFoundError: A reference names nothing.
    """
    if last is not None:
        refs = (_compare.last_versions(get_repository(repository), _flatten(refs), last, project),)
    return _comparison(refs, metrics, parameters, all_versions, run, project, repository).to_frame()


def best(
    *refs: Any,
    metric: str,
    mode: str | None = None,
    all_versions: bool = True,
    run: str | None = None,
    tag: str | None = None,
    project: str | None = None,
    repository: Any = None,
) -> ArtifactVersion:
    """The version with the best ``metric`` among those ``refs`` name (every version of each
    key unless ``all_versions=False``): ``mode="max"``/``"min"`` (default: ``min`` for losses
    and errors, else ``max``). ``tag`` (e.g. ``"prod"``) promotes the winner: the tag moves to
    it.

    Args:
        *refs: References, globs, keys, versions, or lists of them.
        metric: The metric to compare.
        mode: ``"max"`` or ``"min"`` (default: ``min`` for names like loss, error, rmse).
        all_versions: Consider every version of each key (default), not only the latest.
        run: Only what this flow run (id or name) logged.
        tag: Move this tag to the winner.
        project: The project (default: the repository's).
        repository: The repository (default: the configured one).

    Returns:
        The winning version (ties broken by key, iteration, version).

    Raises:
        ArtifactNotFoundError: No version has the metric; the message lists those they have.
    """
    repo = get_repository(repository)
    winner = _compare.best(
        repo,
        _flatten(refs),
        metric=metric,
        mode=mode,
        all_versions=all_versions,
        project=project,
        run=run,
    )
    return repo.tag(winner.ref, tag) if tag is not None else winner


def _comparison(
    refs: tuple[Any, ...],
    metrics: list[str] | None,
    parameters: list[str] | bool | None,
    all_versions: bool,
    run: str | None,
    project: str | None,
    repository: Any,
) -> _compare.Comparison:
    return _compare.compare(
        get_repository(repository),
        _flatten(refs),
        metrics=metrics,
        parameters=parameters,
        all_versions=all_versions,
        project=project,
        run=run,
    )


def _flatten(refs: tuple[Any, ...]) -> list[Any]:
    """``compare("a", "b")``, ``compare(["a", "b"])`` and ``compare(versions)`` alike."""
    out: list[Any] = []
    for ref in refs:
        out.extend(ref if isinstance(ref, (list, tuple)) else [ref])
    return out


def update_model(
    model: str | ArtifactVersion | None = None,
    *,
    model_artifact: str | ArtifactVersion | None = None,
    metrics: dict[str, float] | None = None,
    parameters: dict[str, Any] | None = None,
    labels: dict[str, Any] | None = None,
    extra_data: dict[str, Any] | None = None,
    description: str | None = None,
    key_prefix: str = "",
    project: str | None = None,
) -> ModelVersion:
    """MLRun's ``update_model``: change a model version's metadata in place, without logging
    it again. ``metrics``/``parameters`` are merged into the version's (validated as in
    ``log_model``), ``labels`` set, ``description`` replaced, ``extra_data`` items added;
    ``key_prefix`` is put before the new metric and extra-data names. Recorded as a metadata
    revision (``version.revisions()``: who, when, from which run, old → new); the bytes, hash,
    version number, tags and producer stay as they were.

    Args:
        model: A ref (``"churn:3"``, ``"churn@prod"``, a store URI) or a ``ModelVersion``.
        model_artifact: The same, under MLRun's name (give ``model`` or this, once).
        metrics: Metrics to merge into the version's (finite real numbers).
        parameters: Parameters to merge into the version's.
        labels: Labels to set.
        extra_data: New extra-data items: bytes, a file path or a version.
        description: The new description.
        key_prefix: Put before the new metric and extra-data names.
        project: The project (default: the repository's).

    Returns:
        The version with its new metadata (the same number).

    Raises:
        TypeError: Neither or both of ``model`` and ``model_artifact``.
        ArtifactNotFoundError: No such version.
        InvalidArgumentError: Invalid input (a NaN metric, a bad label, an extra-data name
            already used, a version that is not a model); nothing is changed.
    """
    chosen = model if model is not None else model_artifact
    if chosen is None or (model is not None and model_artifact is not None):
        raise TypeError(
            "update_model() takes the model once: update_model('churn:3', ...) or MLRun's "
            "update_model(model_artifact=...)"
        )
    target = chosen.meta if isinstance(chosen, DataItem) else chosen  # a DataItem: its version
    if not isinstance(target, (str, ArtifactVersion)):
        raise InvalidArgumentError(
            f"update_model takes a model version, not the extra-data file {target.name!r}"
        )
    if key_prefix:
        metrics = {f"{key_prefix}{k}": v for k, v in (metrics or {}).items()} or None
        extra_data = {f"{key_prefix}{k}": v for k, v in (extra_data or {}).items()} or None
    repo = get_repository(target.repository if isinstance(target, ArtifactVersion) else None)
    return repo.revise(  # type: ignore[return-value]  # kind="model": a ModelVersion
        target,
        metrics=metrics,
        parameters=parameters,
        labels=labels,
        extra_data=extra_data,
        description=description,
        kind="model",
        project=project,
    )


def get_model(
    model_dir: str | ArtifactVersion | Any, suffix: str | None = None
) -> tuple[str, ModelVersion | None, dict[str, DataItem]]:
    """MLRun's ``get_model``: ``(model_file, model_artifact, extra_data)`` — the local path of
    the model's file (a model logged from a folder is unpacked and ``model_file``, or the first
    file ending with ``suffix``, is found inside), the ModelVersion and its extra data as
    DataItems. ``model_dir``: a ref or ``store://`` URI, a ModelVersion or DataItem, or a local
    folder/file (then ``model_artifact`` is None and ``extra_data`` empty)."""
    from pathlib import Path

    given: Any = model_dir.meta if isinstance(model_dir, DataItem) else model_dir  # duck-typed
    if isinstance(getattr(given, "ref", None), str) and not isinstance(given, ArtifactVersion):
        given = given.ref  # an ArtifactRef
    if isinstance(given, str) and not given.startswith("store://") and Path(given).exists():
        return _model_file(Path(given), None, suffix), None, {}
    version = given if isinstance(given, ArtifactVersion) else get_artifact(given)
    if not isinstance(version, ModelVersion):
        raise models_error(version)
    if version.format == "tar":
        path = _model_file(version.extract(), version.model_file, suffix)
    else:
        path = version.local()
        if suffix and not path.endswith(suffix):
            raise ArtifactNotFoundError(
                f"{version.ref}'s file {version.filename!r} does not end with {suffix!r}"
            )
    version.repository.record_consumer(version)
    extra = {
        name: DataItem(version.repository.get(e.artifact) if e.artifact else e, name)
        for name, e in version.extra_data.items()
    }
    return path, version, extra


def _model_file(path: Any, model_file: str | None, suffix: str | None) -> str:
    if path.is_file():
        return str(path)
    if model_file and (path / model_file).is_file() and not suffix:
        return str(path / model_file)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    if suffix:
        files = [p for p in files if p.name.endswith(suffix)]
    if not files:
        raise ArtifactNotFoundError(
            f"no model file {'ending with ' + repr(suffix) + ' ' if suffix else ''}in {path}"
        )
    return str(files[0])


def models_error(version: ArtifactVersion) -> Exception:
    return InvalidArgumentError(
        f"{version.ref} is a {version.kind}, not a model: get_model reads models "
        "(log them with log_model); use get_artifact for other artifacts"
    )


def select_best(
    key: str, selector: str, run: str | list[str] | None = None, *, project: str | None = None
) -> ArtifactVersion:
    """MLRun's selector on a sweep: ``select_best("churn", "max.auc")`` finds the best version
    of the latest sweep of ``key`` (the versions with an iteration logged by the newest one's
    run; or those ``run`` logged) and makes ``key`` resolve to it — ``get_artifact("churn")``,
    ``churn:latest``, ``churn#0`` and ``store://…/churn`` — tagged ``best`` (a link visible in
    the UI and CLI, journaled). A version logged later is the key's latest again."""
    return sweeps.select_best(get_repository(), key, selector, run=run, project=project)


def mlrun_stats(version: str | ArtifactVersion) -> dict[str, Any]:
    """A dataset's preview and statistics in MLRun's JSON shape (``header``, ``preview`` rows,
    ``stats`` as pandas ``describe()`` with ``hist``, ``schema``): ``pa.mlrun_stats("data:3")``."""
    from .mlrun import mlrun_stats as convert

    return convert(version if isinstance(version, ArtifactVersion) else get_artifact(version))


def run_metrics(run_id: str | list[str], *, repository: Any = None) -> Any:
    """The step metrics of a run (``ctx.run_id``, a Prefect flow/task run id) as a pandas
    DataFrame with columns ``key, step, value, timestamp``, ordered by key and step (several
    runs: with a ``run_id`` column too)."""
    return tracking.run_metrics(get_repository(repository), run_id)


def run_results(run_id: str, *, repository: Any = None) -> dict[str, Any]:
    """The results a run recorded with ``log_result``, by name."""
    return get_repository(repository).catalog.run_results(run_id)


def tag_history(key: str, tag: str, *, project: str | None = None) -> list[dict[str, Any]]:
    """Every period ``tag`` spent on a version of ``key``, oldest first:
    ``[{version, since, until, by, run}]`` (``until`` None: it is there now)."""
    repo = get_repository()
    return repo.catalog.tag_history(project or repo.project, validate_key(key), validate_tag(tag))


def tag_artifact(ref: str, tag: str, *, project: str | None = None) -> ArtifactVersion:
    """Point ``tag`` (e.g. ``"prod"``) at a version; a tag held by another version moves.

    Returns:
        The tagged version.

    Raises:
        ArtifactNotFoundError: No such version.
        InvalidKeyError: ``tag`` is not a valid tag (``latest`` and numbers are not).
    """
    return get_repository().tag(ref, tag, project=project)


def untag_artifact(ref: str, tag: str | None = None, *, project: str | None = None) -> int:
    """Remove a tag: ``untag_artifact("key@prod")`` or ``untag_artifact("key", "prod")``.

    Returns:
        The number of the version it pointed at.

    Raises:
        ArtifactNotFoundError: The key does not have this tag.
    """
    return get_repository().untag(ref, tag, project=project)


def set_labels(
    ref: str, labels: dict[str, Any], *, replace: bool = False, project: str | None = None
) -> ArtifactVersion:
    """Add or change a version's labels (``replace=True`` removes the others).

    Returns:
        The version with its new labels.

    Raises:
        ArtifactNotFoundError: No such version.
        InvalidKeyError: A label name or value is malformed.
    """
    return get_repository().set_labels(ref, labels, replace=replace, project=project)


def set_description(
    ref: str, description: str | None, *, project: str | None = None
) -> ArtifactVersion:
    """Replace a version's description (``None`` clears it).

    Returns:
        The version with its new description.

    Raises:
        ArtifactNotFoundError: No such version.
    """
    return get_repository().set_description(ref, description, project=project)


def delete_artifact(
    ref: str, *, data: bool = True, strategy: str | None = None, project: str | None = None
) -> list[int]:
    """Delete a version (``key:3``/``key@tag``) or a whole key; with ``data`` also the bytes no
    other version uses. ``strategy``: "metadata-only", "data-optional" (default) or
    "data-required" (MLRun's deletion strategies).

    Returns:
        The deleted version numbers.

    Raises:
        ArtifactNotFoundError: No such key or version.
        StorageError: With ``data-required``, bytes could not be removed (the error names
            what is left for ``gc``).
    """
    return get_repository().delete(ref, data=data, strategy=strategy, project=project)


def lineage(
    ref: str, *, direction: str = "up", depth: int = 3, project: str | None = None
) -> Lineage:
    """The lineage graph of a version: ``up`` = the runs that produced it and their inputs,
    ``down`` = the runs that consumed it and what they produced; ``depth`` artifact hops.

    Returns:
        The graph's nodes (artifacts and runs) and edges.

    Raises:
        ArtifactNotFoundError: No such version.
        InvalidArgumentError: ``direction`` is not ``up``/``down`` or ``depth`` is out of
            range.
    """
    return get_repository().lineage(ref, direction=direction, depth=depth, project=project)


def verify(
    ref: str | None = None, *, project: str | None = None, repository: Any = None
) -> VerifyReport:
    """Re-hash stored bytes against the catalog (``ref``: a key's versions or one version;
    default: every version of every project). Reports missing and corrupt data.

    Returns:
        A report: versions and bytes checked, and ``problems`` (``.ok`` when there are none).

    Raises:
        ArtifactNotFoundError: ``ref`` names no key.
    """
    return maintenance.verify(get_repository(repository), ref, project=project)


def reindex(
    *, project: str | None = None, adopt: bool = False, repository: Any = None
) -> ReindexReport:
    """Rebuild the catalog from the manifests and journal in storage (idempotent, live-safe).

    Args:
        project: Only this project (default: every project in storage).
        adopt: A catalog holding another repository's id takes the storage's id first (on
            purpose: the catalog then describes this storage).
        repository: The repository (default: the configured one).

    Returns:
        A report of what was restored, which files were skipped (and why) and which manifests
        conflict.
    """
    return maintenance.reindex(get_repository(repository), project=project, adopt=adopt)


def gc(
    *, grace: timedelta = timedelta(hours=1), dry_run: bool = False, repository: Any = None
) -> GcReport:
    """Remove bytes no version references (and stale temporary files) older than ``grace``.

    Returns:
        A report of the orphans found and removed (none removed with ``dry_run``).
    """
    return maintenance.gc(get_repository(repository), grace=grace, dry_run=dry_run)


def prune(
    *,
    key: str | None = None,
    keep_last: int | None = None,
    older_than: timedelta | datetime | None = None,
    keep_tagged: bool = True,
    project: str | None = None,
    strategy: str = "data-optional",
    dry_run: bool = False,
    repository: Any = None,
) -> PruneReport:
    """Retention: delete versions beyond the ``keep_last`` newest and/or older than
    ``older_than`` (tagged ones kept unless ``keep_tagged=False``; the latest always kept).

    Returns:
        A report: the deleted version numbers per key (those that would be, with ``dry_run``).
    """
    return maintenance.prune(
        get_repository(repository),
        key=key,
        keep_last=keep_last,
        older_than=older_than,
        keep_tagged=keep_tagged,
        project=project,
        strategy=strategy,
        dry_run=dry_run,
    )


def locate_repository(home: dict[str, Any]) -> Repository:
    """The repository an unpickled version belongs to (``home``: what it carried): one this
    process has open with that id, else the default one if it is that repository, else one
    re-opened from the carried locations — checked to hold that id. Never another repository
    that happens to hold a version with the same key and number."""
    from .errors import RepositoryMismatchError
    from .repository import opened_repositories

    wanted = home.get("repository_id")
    if wanted is None:  # carried by a repository that had no id yet
        return get_repository()
    for repo in opened_repositories():
        try:
            if repo.known_repository_id() == wanted:
                return repo
        except Exception:  # unreachable now: not the one to use
            continue
    candidates: list[Callable[[], Repository]] = [get_repository]
    if home.get("storage_url") and home.get("catalog_url"):
        candidates.append(
            lambda: get_repository(
                ArtifactSettings(
                    storage_url=home["storage_url"],
                    storage_options=home.get("storage_options") or {},
                    catalog_url=home["catalog_url"],
                    project=home.get("project") or "default",
                )
            )
        )
    problems = []
    for candidate in candidates:
        try:
            repo = candidate()
            found = repo.known_repository_id()
        except Exception as exc:
            problems.append(f"{type(exc).__name__}: {exc}")
            continue
        if found == wanted:
            return repo
        problems.append(f"{repo.storage.url} is repository {found}")
    raise RepositoryMismatchError(
        f"this version belongs to repository {wanted} (storage {home.get('storage_url')}, "
        f"catalog {home.get('catalog_url')}), which this process cannot reach: "
        f"{'; '.join(problems)}. Give this process access to that storage and catalog (its "
        "credentials in the environment), or point PREFECT_ARTIFACTS_STORAGE_URL and "
        "PREFECT_ARTIFACTS_CATALOG_URL at that repository"
    )


class SettingsFinder:
    """How records find a repository they do not hold (a :class:`~.models.RepositoryFinder`):
    the one the settings name, or the one an unpickled record names (:func:`locate_repository`)."""

    def default(self) -> Repository:
        return get_repository()

    def locate(self, home: dict[str, Any]) -> Repository:
        return locate_repository(home)


models.find_repositories_with(SettingsFinder())
