"""``@artifact_task``: a drop-in for ``prefect.task`` that logs the return value as a typed
artifact, resolves ``ArtifactRef`` arguments and records lineage."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import logging
import re
import string
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from ..core import sweeps, tracking
from ..core.dataitem import DataItem
from ..core.errors import ArtifactNotFoundError, InvalidArgumentError, InvalidKeyError
from ..core.events import Event, VersionLogged, subscribe
from ..core.keys import validate_key, validate_labels, validate_tag
from ..core.models import ArtifactVersion
from ..core.refs import ArtifactRef
from ..core.repository import Repository
from . import mapping

logger = logging.getLogger("prefect_artifacts")

REFERENCE_MIN = 1024  # smaller values stay inside the result record, pickled
_logged_now: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "prefect_artifacts_logged_now", default=None
)  # versions logged by the running attempt of an @artifact_task


@dataclass
class Model:
    """Return this from an ``@artifact_task`` to log a model with its metrics, parameters and
    extra data in one go; callers of the task receive the model object itself. Each field is
    ``log_model``'s argument of that name."""

    model: Any = None
    metrics: dict[str, float] | None = None
    parameters: dict[str, Any] | None = None
    extra_data: dict[str, Any] | None = None
    model_file: str | None = None
    framework: str | None = None
    algorithm: str | None = None
    body: bytes | None = None
    labels: dict[str, Any] | None = None
    description: str | None = None
    iteration: int | None = None

    @property
    def value(self) -> Any:
        return self.model if self.model is not None else self.body


@dataclass
class _Capture:
    key: Any
    kind: str | None
    labels: dict[str, str]
    tag: str | None
    description: str | None
    format: str | None
    options: dict[str, Any]
    repository: Any
    project: str | None
    capture: bool
    iteration: Any = None
    selector: str | None = None
    signature: inspect.Signature = field(repr=False, default_factory=inspect.Signature)


_SPECS: weakref.WeakKeyDictionary[Callable[..., Any], _Capture] = weakref.WeakKeyDictionary()
"""What each wrapped task function captures (read by ``.map()`` before it submits)."""


def artifact_task(
    __fn: Callable[..., Any] | None = None,
    *,
    key: Any = None,
    kind: str | None = None,
    labels: dict[str, Any] | None = None,
    tag: str | None = None,
    description: str | None = None,
    preview: int | bool | None = None,
    stats: bool | None = None,
    format: str | None = None,
    repository: Any = None,
    project: str | None = None,
    capture: bool = True,
    iteration: Any = None,
    map_order: bool = True,
    lossy: str | None = None,
    selector: str | None = None,
    **task_options: Any,
) -> Any:
    """Like ``@prefect.task`` (every option works: retries, caching, ``.submit()``, ``.map()``,
    async functions), and the return value is logged as a typed artifact and returned unchanged.

    ``key``: an artifact key or a template over the run — ``"features-{parameters[region]}"``,
    ``"{flow_run.name}-report"`` — default the task's name. A task returning a tuple can name one
    key per element (``key=("train", "test")``, ``None`` skips one), a dict-returning task a key
    per dict key (``key={"train": "train-set"}``). Return ``pa.Model(obj, metrics=...)`` to log a
    model with metrics; callers still receive ``obj``. ``kind`` forces the artifact kind
    (otherwise inferred from the value's type). ``ArtifactRef("key@prod")`` arguments are loaded
    when the task runs. ``capture=False`` only resolves inputs and records lineage.
    ``iteration``: which candidate of a hyperparameter run the value is (MLRun's ``iter``), a
    number or a template over the task's parameters, e.g. ``"{parameters[i]}"`` for a task
    mapped over ``i``: the run's versions then compare in iteration order.
    Persisted results (``persist_result=True``, cache policies, result storage) hold a reference
    to the logged dataset, not a second copy (:class:`ArtifactResultSerializer`), unless you pass
    your own ``result_serializer``; tasks that do not persist are left as they were.
    ``map_order``: the versions a ``.map()`` logs are numbered in map order (each mapped run
    logs after the runs before it; see ``prefect_artifacts.prefect.mapping``).
    ``lossy="allow"``: store a value its format cannot give back exactly, marked lossy (else
    it is refused, see the fidelity contract).
    ``selector`` (MLRun's, e.g. ``"max.auc"``): when a ``.map()`` sweep has logged, its best
    version becomes what the key resolves to (``pa.select_best``); without it nothing changes.
    """
    if __fn is None:
        return functools.partial(
            artifact_task,
            key=key,
            kind=kind,
            labels=labels,
            tag=tag,
            description=description,
            preview=preview,
            stats=stats,
            format=format,
            repository=repository,
            project=project,
            capture=capture,
            iteration=iteration,
            map_order=map_order,
            lossy=lossy,
            selector=selector,
            **task_options,
        )
    if selector is not None:
        sweeps.parse_selector(selector)
        if not map_order:
            raise InvalidArgumentError(
                "selector= acts when a .map() sweep has logged, which needs map_order=True"
            )
    name = task_options.get("name") or __fn.__name__
    spec = _Capture(
        key=_check_keys(key if key is not None else _key_from_name(name)),
        kind=_check_kind(kind),
        labels=validate_labels(labels),
        tag=validate_tag(tag) if tag is not None else None,
        description=description,
        format=format,
        options={"preview": 0 if preview is False else preview, "stats": stats, "lossy": lossy},
        repository=repository,
        project=project,
        capture=capture,
        iteration=_check_iteration(iteration),
        selector=selector,
        signature=inspect.signature(__fn),
    )
    if capture and "result_serializer" not in task_options and _persists(task_options):
        from .results import ArtifactResultSerializer

        # persisted results refer to the logged datasets instead of pickling them again
        task_options["result_serializer"] = ArtifactResultSerializer(
            repository=repository if isinstance(repository, str) else None
        )
    from prefect import task

    made = task(_wrap(__fn, spec), **task_options)
    if map_order:
        made.__class__ = _ordered_task_class()
    return made


def _persists(options: dict[str, Any]) -> bool:
    """Whether Prefect will persist this task's results (as ``prefect.Task`` decides): asked
    for, implied by caching or result options, or on by default in Prefect's settings. A
    serializer alone would turn persistence on, so it is set only then."""
    from prefect.cache_policies import NO_CACHE
    from prefect.results import get_default_persist_setting_for_tasks

    if options.get("persist_result") is not None:
        return bool(options["persist_result"])
    policy = options.get("cache_policy")
    return (
        (policy is not None and policy != NO_CACHE)
        or any(options.get(k) is not None for k in ("cache_key_fn", "result_storage_key"))
        or options.get("result_storage") is not None
        or get_default_persist_setting_for_tasks()
    )


def _wrap(fn: Callable[..., Any], spec: _Capture) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            repo = None
            try:
                repo, parameters, args, kwargs = await asyncio.to_thread(
                    _before, spec, args, kwargs
                )
                with _attempt() as logged:
                    result = await fn(*args, **kwargs)
                    result = await asyncio.to_thread(_after, repo, spec, result, parameters)
                await asyncio.to_thread(_mark_failed_attempts, repo, logged)
                return result
            finally:
                sweep = _sweep_done(spec)
                _turn_done()
                if repo is not None:
                    await asyncio.to_thread(_finish_tracking, repo)
                    if sweep:
                        await asyncio.to_thread(_select, repo, spec, sweep)

        _SPECS[run_async] = spec  # read by .map()
        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        repo, sweep = None, None
        try:
            repo, parameters, args, kwargs = _before(spec, args, kwargs)
            with _attempt() as logged:
                result = _after(repo, spec, fn(*args, **kwargs), parameters)
            _mark_failed_attempts(repo, logged)
            return result
        finally:
            sweep = _sweep_done(spec)
            _turn_done()
            if repo is not None:
                _finish_tracking(repo)
                if sweep:
                    _select(repo, spec, sweep)

    _SPECS[run] = spec  # read by .map()
    return run


def _sweep_done(spec: _Capture) -> list[str] | None:
    """With a selector: the task runs of this run's ``.map()`` if it is its last."""
    task_run = _current_task_run() if spec.selector else None
    if task_run is None:
        return None
    _wait_turn(None)  # the runs before it in map order have logged (or ended)
    return mapping.sweep_if_last(str(task_run.id))


def _select(repo: Repository, spec: _Capture, sweep: list[str]) -> None:
    """The sweep has logged: each key it logged resolves to its best by ``spec.selector``."""
    if spec.selector is None:
        return  # a sweep without a selector picks nothing
    keys = {(v.project, v.key) for run_id in sweep for v in repo.outputs_of_run(run_id)}
    for project, key in sorted(keys):
        try:
            best = sweeps.select_best(repo, key, spec.selector, run=sweep, project=project)
            logger.info("sweep of %s: selected %s by %s", key, best.ref, spec.selector)
        except ArtifactNotFoundError as exc:
            logger.warning("sweep of %s: nothing selected (%s)", key, exc)


def _finish_tracking(repo: Repository) -> None:
    """The task's metric points written, its summary card made; a failure is a warning."""
    try:
        tracking.finish(repo)
    except Exception as exc:
        logger.warning("could not write this task's metric points yet: %s", exc)


def _before(
    spec: _Capture, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Repository, dict[str, Any], tuple[Any, ...], dict[str, Any]]:
    from ..core.api import get_repository

    repo = get_repository(spec.repository)
    bound = spec.signature.bind_partial(*args, **kwargs)
    bound.apply_defaults()
    parameters = dict(bound.arguments)
    repo.record_inputs_from(_upstream_runs())
    for version in _logged_values_in((args, kwargs)):
        version.repository.record_consumer(version)
    items = [n for n, p in spec.signature.parameters.items() if _is_dataitem(p.annotation)]
    if any(n in bound.arguments for n in items):  # typed DataItem: MLRun's handler inputs
        for name in items:
            if name in bound.arguments:
                bound.arguments[name] = _as_item(repo, bound.arguments[name], spec.project)
        args, kwargs = bound.args, bound.kwargs
    args = tuple(_resolve(repo, a, spec.project) for a in args)
    kwargs = {k: _resolve(repo, v, spec.project) for k, v in kwargs.items()}
    return repo, parameters, args, kwargs


def _is_dataitem(annotation: Any) -> bool:
    return annotation is DataItem or (
        isinstance(annotation, str) and annotation.rsplit(".", 1)[-1] == "DataItem"
    )


def _as_item(repo: Repository, value: Any, project: str | None) -> Any:
    """A parameter typed ``DataItem``: a ref, store URI, ArtifactRef or version becomes the
    version's DataItem (the consumer recorded); None and DataItems pass as they are."""
    if value is None or isinstance(value, DataItem):
        return value
    if isinstance(value, ArtifactRef):
        value = value.get(repo)
    elif isinstance(value, str):
        value = repo.get(value, project=project)
    if not isinstance(value, ArtifactVersion):
        raise InvalidArgumentError(
            f"a parameter typed DataItem takes an artifact ref, a store:// URI, an ArtifactRef "
            f"or a version, got {type(value).__name__}"
        )
    repo.record_consumer(value)
    return DataItem(value)


def _after(repo: Repository, spec: _Capture, result: Any, parameters: dict[str, Any]) -> Any:
    if not spec.capture:
        return result
    _wait_turn(_keys_of(spec, parameters))
    keys = spec.key
    if isinstance(keys, tuple):
        if not isinstance(result, (tuple, list)) or len(result) != len(keys):
            raise InvalidArgumentError(
                f"the task has {len(keys)} artifact keys {keys} but returned "
                f"{type(result).__name__}{'' if not hasattr(result, '__len__') else f' of {len(result)}'}; "
                "return a tuple with one element per key"
            )
        out = [
            _log(repo, spec, k, v, parameters) if k else v
            for k, v in zip(keys, result, strict=True)
        ]
        if hasattr(result, "_fields"):  # a namedtuple
            return type(result)(*out)
        return type(result)(out)
    if isinstance(keys, dict):
        if not isinstance(result, dict) or not set(keys) <= set(result):
            raise InvalidArgumentError(
                f"the task names artifact keys for {sorted(keys)} but returned "
                f"{type(result).__name__}{' with ' + str(sorted(result)) if isinstance(result, dict) else ''}"
            )
        return {
            **result,
            **{
                name: _log(repo, spec, k, result[name], parameters) for name, k in keys.items() if k
            },
        }
    return _log(repo, spec, keys, result, parameters)


def _log(
    repo: Repository, spec: _Capture, template: str, value: Any, parameters: dict[str, Any]
) -> Any:
    if value is None:
        return None  # nothing to store
    key = _format_key(template, parameters)
    iteration = _format_iteration(spec.iteration, parameters)
    version: ArtifactVersion
    if isinstance(value, Model):
        from ..core.context import ArtifactContext

        arguments = {f.name: getattr(value, f.name) for f in fields(value)}  # log_model's
        arguments.update(
            labels={**spec.labels, **validate_labels(value.labels)},
            tag=spec.tag,
            description=value.description or spec.description,
            iteration=value.iteration if value.iteration is not None else iteration,
        )
        version = ArtifactContext(repo, spec.project).log_model(key, **arguments)
        value = value.value
    else:
        version = repo.log(
            key,
            value,
            kind=spec.kind,
            format=spec.format,
            labels=spec.labels,
            tag=spec.tag,
            description=spec.description,
            options=spec.options,
            project=spec.project,
            fields={"iteration": iteration},
        )
    _refer(value, version)
    _remember_output(value, version)
    return value


def _refer(value: Any, version: Any) -> None:
    """A persisted result of the task refers to ``version`` instead of pickling ``value``
    again, when loading the version gives back an equal value and its bytes outweigh a
    reference."""
    from ..core.materializers import registry
    from . import results

    materializer = registry.by_name(version.materializer)
    if (
        version.size >= REFERENCE_MIN
        and materializer is not None
        and materializer.returns_equal(value, version)
    ):
        results.remember(value, version)


@contextlib.contextmanager
def _attempt() -> Iterator[list[str]]:
    """Collect the versions this attempt of the task logs. (A module function: the wrapped
    task refers to it by name, so pickling the task for a worker never meets the ContextVar.)"""
    logged: list[str] = []
    token = _logged_now.set(logged)
    try:
        yield logged
    finally:
        _logged_now.reset(token)


@subscribe
def _note_logged(event: Event) -> None:
    """Versions logged (or identical content re-logged) during this attempt of the task."""
    logged = _logged_now.get()
    if logged is not None and isinstance(event, VersionLogged):
        logged.append(event.version.ref)


_produced: dict[int, tuple[weakref.ref[Any], ArtifactVersion]] = {}
_produced_lock = threading.Lock()


def _remember_output(value: Any, version: ArtifactVersion) -> None:
    """Note that the object ``value`` was logged as ``version``: a task that later receives
    this very object (from a subflow, through ``quote``, inside a list) consumed ``version``.
    Objects that cannot be weakly referenced (bytes, plain lists) are not tracked."""
    key = id(value)

    def forget(dead: Any, key: int = key) -> None:
        with _produced_lock:
            if key in _produced and _produced[key][0] is dead:
                del _produced[key]

    try:
        ref = weakref.ref(value, forget)
    except TypeError:
        return
    with _produced_lock:
        _produced[key] = (ref, version)


def _logged_values_in(value: Any, depth: int = 4) -> list[ArtifactVersion]:
    """The versions of logged objects found in ``value`` (nested lists, tuples, sets, dicts)."""
    found: list[ArtifactVersion] = []
    entry = _produced.get(id(value))
    if entry is not None and entry[0]() is value:
        found.append(entry[1])
    elif depth and isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            found += _logged_values_in(item, depth - 1)
    elif depth and isinstance(value, dict):
        for item in value.values():
            found += _logged_values_in(item, depth - 1)
    return found


FAILED_ATTEMPT = "prefect-attempt-failed"  # label of versions an attempt logged before failing


def _mark_failed_attempts(repo: Repository, logged: list[str]) -> None:
    """A retried task run succeeded: versions its earlier attempts logged (and this attempt did
    not log again) are labelled ``prefect-attempt-failed=<attempt>``. Their producer records
    the attempt number; a failed attempt ended in Prefect's ``AwaitingRetry`` (failed) state."""
    task_run = _current_task_run()
    if task_run is None or (task_run.run_count or 1) <= 1:
        return
    this = task_run.run_count
    for version in repo.outputs_of_run(str(task_run.id)):
        attempt = version.producer.attempt
        if (
            attempt is not None
            and attempt < this
            and version.ref not in logged
            and FAILED_ATTEMPT not in version.labels
        ):
            repo.set_labels(version.ref, {FAILED_ATTEMPT: attempt})


def _current_task_run() -> Any:
    from prefect.context import TaskRunContext

    context = TaskRunContext.get()
    return context.task_run if context is not None else None


def _wait_turn(keys: frozenset[str] | None) -> None:
    """A mapped run logs after the runs before it in its ``.map()`` that log the same keys
    (see ``mapping``)."""
    task_run = _current_task_run()
    if task_run is not None:
        mapping.wait_turn(str(task_run.flow_run_id), task_run.task_key, str(task_run.id), keys)


def _keys_of(spec: _Capture, parameters: dict[str, Any]) -> frozenset[str] | None:
    """The keys this run will log (None when a template does not render: any key)."""
    try:
        return frozenset(_format_key(t, parameters) for t in _templates(spec.key) if t)
    except InvalidKeyError:
        return None


def _keys_when_mapped(
    task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[frozenset[str] | None] | None:
    """The keys each run of a ``.map()`` will log, in map order, when its key templates use
    only the task's parameters and those are plain values (no futures, states, iterators or
    Prefect annotations) — else None: each run names its keys when it is ready to log. Read
    before the runs are submitted."""
    spec = _SPECS.get(task.fn)
    if spec is None or not spec.capture or spec.selector or not _parameters_only(spec.key):
        return None  # (a sweep with a selector needs its runs registered: the last one selects)
    from prefect.utilities.annotations import allow_failure, quote
    from prefect.utilities.callables import expand_mapping_parameters, get_call_parameters
    from prefect.utilities.engine import collect_task_run_inputs_sync

    try:
        passed = {k: v for k, v in kwargs.items() if k not in ("wait_for", "deferred")}
        given = get_call_parameters(task.fn, args, passed, apply_defaults=False)
        if any(isinstance(v, (allow_failure, quote, Iterator)) for v in given.values()):
            return None  # (an iterator is read once, by Prefect)
        if collect_task_run_inputs_sync(given):  # futures or states: resolved when it runs
            return None
        keys: list[frozenset[str] | None] = []
        for parameters in expand_mapping_parameters(task.fn, given):
            bound = spec.signature.bind_partial(**parameters)
            bound.apply_defaults()
            keys.append(_keys_of(spec, dict(bound.arguments)))
    except Exception:  # not known now: each run names its keys when it is ready to log
        return None
    return keys


def _disjoint(keys: list[frozenset[str] | None]) -> bool:
    """Whether every run's keys are known and no key is logged by two runs."""
    named = [k for k in keys if k is not None]
    return len(named) == len(keys) and sum(map(len, named)) == len(frozenset().union(*named))


def _parameters_only(key: Any) -> bool:
    """Whether every key template renders from the task's parameters alone."""
    return all(
        name is None or _root(name) == "parameters"
        for template in _templates(key)
        for _, name, _, _ in string.Formatter().parse(template or "")
    )


def _templates(key: Any) -> list[str | None]:
    """A task's key templates: one, a tuple's or a dict's (None: a value not logged)."""
    if isinstance(key, str):
        return [key]
    return list(key.values() if isinstance(key, dict) else key)


def _root(field: str) -> str:
    """What a template field starts from: ``parameters[i]`` → ``parameters``."""
    return re.split(r"[.\[]", field, maxsplit=1)[0]


def _turn_done() -> None:
    task_run = _current_task_run()
    if task_run is not None:
        mapping.done(str(task_run.id))


@functools.cache
def _ordered_task_class() -> type:
    """A ``prefect.Task`` whose ``.map()`` registers its runs in order (and whose
    ``with_options`` copies keep doing so)."""
    from prefect import Task
    from prefect.context import FlowRunContext

    class ArtifactTask(Task[..., Any]):
        def map(self, *args: Any, return_state: bool = False, **kwargs: Any) -> Any:
            context = FlowRunContext.get()
            if kwargs.get("deferred") or context is None or context.flow_run is None:
                return super().map(*args, return_state=return_state, **kwargs)
            keys = _keys_when_mapped(self, args, kwargs)
            if keys is not None and _disjoint(keys):  # no two runs log one key: no order to keep
                return super().map(*args, return_state=return_state, **kwargs)
            token = mapping.begin(str(context.flow_run.id), self.task_key)
            try:
                futures = super().map(*args, **kwargs)
            except BaseException:
                mapping.abandon(token)
                raise
            mapping.register(token, list(futures), keys)
            if not return_state:
                return futures
            states = []
            for future in futures:
                future.wait()
                states.append(future.state)
            return states

        def with_options(self, *args: Any, **kwargs: Any) -> Any:
            copy = super().with_options(*args, **kwargs)
            copy.__class__ = type(self)
            return copy

    ArtifactTask.__qualname__ = ArtifactTask.__name__ = "ArtifactTask"
    return ArtifactTask


def _resolve(repo: Repository, value: Any, project: str | None) -> Any:
    """ArtifactRef → the loaded value; ArtifactVersion → recorded as consumed, passed as is."""
    if isinstance(value, ArtifactRef):
        return value.resolve(repo, project)
    if isinstance(value, ArtifactVersion):
        repo.record_consumer(value)
        return value
    if isinstance(value, list):
        return [_resolve(repo, v, project) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_resolve(repo, v, project) for v in value)
    if isinstance(value, dict):
        return {k: _resolve(repo, v, project) for k, v in value.items()}
    return value


def _upstream_runs() -> list[str]:
    """Task runs and flow runs (subflows) whose results this task run received (Prefect's
    recorded task inputs, found through futures, states and nested lists and dicts)."""
    from prefect.client.schemas.objects import FlowRunResult, TaskRunResult
    from prefect.context import TaskRunContext

    ctx = TaskRunContext.get()
    if ctx is None:
        return []
    ids = set()
    for name, inputs in (ctx.task_run.task_inputs or {}).items():
        if name == "__parents__":
            continue
        for item in inputs:
            if isinstance(item, (TaskRunResult, FlowRunResult)):
                ids.add(str(item.id))
    return sorted(ids)


T = TypeVar("T")


def _format_key(template: str, parameters: dict[str, Any]) -> str:
    if "{" not in template:
        return template
    from prefect.runtime import flow_run, task_run

    hint = "Templates can use {parameters[name]}, {flow_run.name} and {task_run.name}"
    values = {"parameters": parameters, "flow_run": flow_run, "task_run": task_run}
    return _render(template, values, "artifact key", validate_key, InvalidKeyError, hint)


def _render(
    template: str,
    values: dict[str, Any],
    what: str,
    check: Callable[[str], T],
    error: type[InvalidArgumentError],
    hint: str,
) -> T:
    """``template`` formatted with ``values``, then checked; an error names the template."""
    try:
        text = template.format(**values)
    except (KeyError, AttributeError, IndexError, ValueError) as exc:
        raise error(
            f"{what} template {template!r} failed: {type(exc).__name__}: {exc}. {hint}"
        ) from exc
    try:
        return check(text)
    except InvalidArgumentError as exc:
        raise error(f"{what} template {template!r} rendered: {exc}") from None


def _check_iteration(iteration: Any) -> Any:
    """A number (checked now) or a template over the parameters (checked when it runs)."""
    from ..core.repository.validators import check_iteration

    if iteration is None or (isinstance(iteration, str) and "{" in iteration):
        if isinstance(iteration, str):
            try:
                parts = list(string.Formatter().parse(iteration))
            except ValueError as exc:
                raise InvalidArgumentError(
                    f"iteration template {iteration!r} is malformed: {exc}"
                ) from exc
            for _, name, _, _ in parts:
                if name is not None and _root(name) != "parameters":
                    raise InvalidArgumentError(
                        f"iteration template {iteration!r}: {{{name}}} is not available; "
                        "iteration templates see the task's parameters, e.g. '{parameters[i]}'"
                    )
        return iteration
    return check_iteration(iteration)


def _format_iteration(iteration: int | str | None, parameters: dict[str, Any]) -> int | None:
    from ..core.repository.validators import check_iteration

    if not isinstance(iteration, str):
        return iteration
    hint = "Templates see the task's parameters, e.g. '{parameters[i]}'"
    values = {"parameters": parameters}
    return _render(iteration, values, "iteration", check_iteration, InvalidArgumentError, hint)


def _check_keys(key: Any) -> Any:
    if isinstance(key, (tuple, list)):
        return tuple(_check_template(k) if k is not None else None for k in key)
    if isinstance(key, dict):
        return {name: _check_template(k) if k is not None else None for name, k in key.items()}
    return _check_template(key)


TEMPLATE_ROOTS = ("parameters", "flow_run", "task_run")


def _check_template(template: Any) -> str:
    if not isinstance(template, str):
        raise InvalidKeyError(
            f"key must be a string, a tuple of strings or a dict of strings, got {template!r}"
        )
    if "{" not in template:
        return validate_key(template)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidKeyError(f"artifact key template {template!r} is malformed: {exc}") from exc
    for literal, name, _, _ in parts:
        if literal and not re.fullmatch(r"[A-Za-z0-9._-]+", literal):
            raise InvalidKeyError(
                f"artifact key template {template!r}: {literal!r} has characters a key cannot "
                "hold; keys are letters, digits, '.', '_' and '-'"
            )
        if name is not None and _root(name) not in TEMPLATE_ROOTS:
            raise InvalidKeyError(
                f"artifact key template {template!r}: {{{name}}} is not available. Templates "
                "can use {parameters[name]}, {flow_run.name} and {task_run.name}"
            )
    return template


def _check_kind(kind: str | None) -> str | None:
    from ..core.materializers import registry

    known = registry.kinds()
    if kind is not None and kind not in known:
        raise InvalidArgumentError(f"unknown kind {kind!r}; use one of {', '.join(sorted(known))}")
    return kind


def _key_from_name(name: str) -> str:
    key = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:128]
    return key or "task"
