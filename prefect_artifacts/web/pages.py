"""The HTML pages: projects, the artifact list with its search form and sortable columns, a
version's detail page (usage, content, metric charts, versions, lineage graph, editing), the diff
of two versions, the comparison of N versions, and (with ``--allow-writes``) the edit forms."""

from __future__ import annotations

import hmac
import json
import shlex
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..core.access import rank
from ..core.compare import compare, lower_is_better, metric_direction
from ..core.diff import diff_versions
from ..core.errors import ArtifactError, ArtifactNotFoundError, InvalidArgumentError
from ..core.filters import ArtifactFilter
from ..core.keys import validate_key, validate_project, validate_tag
from ..core.models import ArtifactVersion, DatasetVersion, run_link
from ..core.repository.reader import download_name
from ..core.tracking import run_metrics
from . import charts
from .assets import light_plot
from .auth import SESSION_COOKIE, audit, identity_of, require
from .display import pretty_json, sorted_drift
from .serve import form, text_preview
from .views import (
    PAGE_SIZE,
    error_response,
    find_version,
    repo_of,
    search,
    search_project,
    split_labels,
    visible_projects,
)

router = APIRouter(include_in_schema=False)
IMAGE_FORMATS = {"png", "jpeg", "gif", "webp", "svg"}
TABS = {"all": None, "datasets": "dataset", "models": "model", "plots": "plot", "other": "other"}
SPANS = ("1h", "24h", "7d", "30d")
DESCENDING_FIRST = {"updated", "created", "size", "version", "keys"}
VERSION_SORTS = {"version", "created", "updated", "size"}
VERSIONS_SHOWN = 30
VERSIONS_PAGE = 100
MAX_COMPARE = 50
LIGHT_PLOT_MAX = 64 << 20
EXTRA_PREVIEW_MAX = 1 << 20
MORE_ROWS = 50
AUDIT_PAGE = 100
MAX_COLUMNS = 24
CURVE_POINTS = 1000
COUNT_TO = 2_000  # the list counts its matches this far ("2,000+ versions")


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("allow_writes", request.app.state.allow_writes)
    context.setdefault("csrf", request.app.state.csrf)
    context.setdefault("who", identity_of(request))
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, template, context, status_code=status
    )
    return response


def sort_url(kept: list[tuple[str, str]], current: str, column: str, name: str = "sort") -> str:
    """The link of a column header: sort by it (numbers and times newest/largest first), and
    the reverse when it is already the sort."""
    if current.lstrip("-") == column:
        target = column if current.startswith("-") else f"-{column}"
    else:
        target = f"-{column}" if column in DESCENDING_FIRST else column
    rest = [(k, v) for k, v in kept if k not in (name, "offset")]
    return "?" + urlencode([*rest, (name, target)])


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/projects", status_code=303)


@router.get("/projects")
def projects_page(request: Request, sort: str = "project") -> HTMLResponse:
    column = sort.lstrip("-")
    if column not in ("project", "keys", "updated"):
        raise InvalidArgumentError(
            f"cannot sort projects by {sort[:40]!r}; use project, keys or updated"
        )
    attr = "updated_at" if column == "updated" else column
    found = sorted(
        visible_projects(request), key=lambda p: getattr(p, attr), reverse=sort.startswith("-")
    )
    kept = [("sort", sort)]
    return render(
        request,
        "projects.html",
        projects=found,
        sort=sort,
        sort_url=lambda c: sort_url(kept, sort, c),
    )


@router.get("/projects/{project}/artifacts")
def artifacts_page(request: Request, project: str) -> HTMLResponse:
    """The search form and its results; a bad filter shows its message above the form, which
    keeps the input."""
    params: dict[str, Any] = {}
    for name, value in request.query_params.multi_items():
        if name == "labels":
            params.setdefault("labels", []).extend(split_labels(value))
        elif name in ("col", "done"):
            continue  # the Models tab's chosen columns, a confirmation: not filters
        elif value:
            params[name] = value
    kept = [
        (k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "done") and v
    ]
    current = str(params.get("sort") or "-updated")
    context: dict[str, Any] = {
        "project": project,
        "params": params,
        "tab": next((t for t, k in TABS.items() if params.get("kind") in (t, k)), "all"),
        "tabs": TABS,
        "spans": SPANS,
        "kept": kept,
        "label_text": " ".join(label_word(i) for i in params.get("labels", [])),
        "done": request.query_params.get("done", "")[:200],
        "sort": current,
        "sort_url": lambda column: sort_url(kept, current, column),
        "page_url": lambda offset: "?" + urlencode([*kept, ("offset", offset)]),
        "tab_url": lambda t: (
            "?"
            + urlencode(
                [(k, v) for k, v in kept if k != "kind"] + ([("kind", t)] if t != "all" else [])
            )
        ),
    }
    try:
        filters = ArtifactFilter.of(**params)
        result = search(repo_of(request), project, filters, count_to=COUNT_TO)
    except (InvalidArgumentError, ArtifactNotFoundError) as exc:
        status = 404 if isinstance(exc, ArtifactNotFoundError) else 400
        message = str(exc).strip("'\"")
        return render(request, "artifacts.html", status, error=message, result=None, **context)
    models = [v for v in result.items if v.kind == "model"]
    all_metrics = sorted({m for v in models for m in getattr(v, "metrics", {}) or {}})
    all_params = sorted({p for v in models for p in getattr(v, "parameters", {}) or {}})
    try:
        chosen = chosen_columns(request.query_params.getlist("col"))
    except InvalidArgumentError as exc:
        return render(request, "artifacts.html", 400, error=str(exc), result=None, **context)
    metric_names = [n for kind, n in chosen if kind == "metric"] if chosen else all_metrics[:6]
    param_names = [n for kind, n in chosen if kind == "param"]
    if filters.sort_metric and filters.sort_metric not in metric_names:  # the sorted one shows
        metric_names = [filters.sort_metric, *metric_names]
    if filters.sort_param and filters.sort_param not in param_names:
        param_names = [filters.sort_param, *param_names]
    label_names = label_names_in(request, search_project(project))
    if filters.sort_label and filters.sort_label not in label_names:  # the sorted one shows
        label_names = [filters.sort_label, *label_names]
    return render(
        request,
        "artifacts.html",
        result=result,
        counted_all=result.total < max(COUNT_TO, result.offset + result.limit + 1),
        page_size=PAGE_SIZE,
        label_names=label_names,
        metric_names=metric_names if context["tab"] == "models" else [],
        param_names=param_names if context["tab"] == "models" else [],
        all_metrics=sorted({*all_metrics, *metric_names}),
        all_params=sorted({*all_params, *param_names}),
        directions={n: metric_direction(n) for n in {*all_metrics, *metric_names}},
        **context,
    )


def chosen_columns(values: list[str]) -> list[tuple[str, str]]:
    """The Models tab's ``?col=metric:auc&col=param:lr`` as (kind, name) pairs, in order."""
    if len(values) > MAX_COLUMNS:
        raise InvalidArgumentError(f"choose at most {MAX_COLUMNS} columns, got {len(values)}")
    out: list[tuple[str, str]] = []
    for value in values:
        kind, _, name = value.partition(":")
        if kind not in ("metric", "param") or not 0 < len(name) <= 128:
            raise InvalidArgumentError(
                f"invalid column {value[:60]!r}: use metric:<name> or param:<name>"
            )
        if (kind, name) not in out:
            out.append((kind, name))
    return out


def label_word(item: str) -> str:
    """A label filter as the form's field shows it: ``note="hello world"`` keeps its spaces."""
    name, _, value = item.partition("=")
    if not (set(value) & {" ", '"', "'"}):
        return item
    return f'{name}="{value}"' if '"' not in value else shlex.quote(item)


def label_names_in(request: Request, project: str) -> list[str]:
    """The label names of a project, or of every visible project for ``*`` (one skip scan
    when the caller sees every project)."""
    catalog = repo_of(request).catalog
    if project != "*":
        return catalog.label_names(project)
    visible = visible_projects(request)
    if len(visible) == len(repo_of(request).projects()):
        return catalog.label_names(None)
    found = {n for p in visible for n in catalog.label_names(p.project)}
    return sorted(found)[:100]


@router.get("/projects/{project}/artifacts/{key}")
def detail_page(
    request: Request,
    project: str,
    key: str,
    version: int | None = None,
    tag: str | None = None,
    depth: int = 2,
    vsort: str = "-version",
    versions: str | None = None,
    voffset: int = 0,
    vlimit: int = 0,
    rows_from: int | None = None,
) -> HTMLResponse:
    repo = repo_of(request)
    v = find_version(repo, project, key, version, tag)
    more_rows = more_rows_of(repo, v, rows_from)
    if not 0 <= depth <= 6:
        raise InvalidArgumentError(f"depth must be between 0 and 6, got {depth}")
    if vsort.lstrip("-") not in VERSION_SORTS and not vsort.lstrip("-").startswith("metric:"):
        raise InvalidArgumentError(
            f"cannot sort versions by {vsort[:40]!r}; use {', '.join(sorted(VERSION_SORTS))} "
            "or metric:<name> (a leading '-' sorts descending)"
        )
    vlimit = vlimit or (VERSIONS_PAGE if versions == "all" else VERSIONS_SHOWN)
    if not 1 <= vlimit <= VERSIONS_PAGE or voffset < 0:
        raise InvalidArgumentError(
            f"vlimit must be between 1 and {VERSIONS_PAGE} and voffset at least 0, got "
            f"{vlimit} and {voffset}"
        )
    # the metrics of every version (only they are read) feed a model's charts; the table is
    # one page through the shared filter, sorted (by a metric too) and cut by the catalog
    history = repo.metric_history(v.ref) if v.kind == "model" else []
    if v.kind != "model" and vsort.lstrip("-").startswith("metric:"):
        vsort = "-version"
    f = ArtifactFilter.of(project=v.project, key=v.key, all_versions=True, sort=vsort)
    shown = repo.list(ArtifactFilter.of(f, limit=vlimit, offset=voffset))
    version_count = len(history) if history else repo.count(f)
    metric_names = sorted({m for _, metrics in history for m in metrics})
    chosen = [m for m in request.query_params.getlist("metric") if m in metric_names]
    shown_metrics = chosen or metric_names[:8]
    up = repo.lineage(v.ref, direction="up", depth=depth)
    down = repo.lineage(v.ref, direction="down", depth=depth)
    page = page_base(v)
    metric_charts = [
        (
            name,
            lower_is_better(name),
            charts.line_chart(
                name,
                [
                    charts.Point(f"v{n}", metrics[name], f"{page}?version={n}")
                    for n, metrics in history
                    if isinstance(metrics.get(name), (int, float))
                ],
                lower_better=lower_is_better(name),
            ),
        )
        for name in shown_metrics
    ]
    kept = [(k, val) for k, val in request.query_params.multi_items() if val and k != "done"]
    text = text_preview(repo, v)
    older = [x.version for x in shown if x.version < v.version]
    role = identity_of(request).role(v.project)
    run_id = v.producer.run_id if v.kind == "model" else None
    return render(
        request,
        "detail.html",
        project=project,
        v=v,
        revisions=v.revisions(),
        versions=shown,
        version_count=version_count,
        voffset=voffset,
        vlimit=vlimit,
        vpage_url=lambda at, size=vlimit: (
            "?"
            + urlencode(
                [(k, x) for k, x in kept if k not in ("voffset", "vlimit", "versions")]
                + [("voffset", max(at, 0)), ("vlimit", size)]
            )
            + "#versions"
        ),
        vsort=vsort,
        vsort_url=lambda column: sort_url(kept, vsort, column, "vsort"),
        metric_names=metric_names,
        shown_metrics=shown_metrics,
        metric_charts=metric_charts,
        depth=depth,
        graph=charts.lineage_graph(
            up, down, lambda n: artifact_href(n.ref or n.id), lambda n: run_link(n)
        ),
        up=up,
        down=down,
        text=text,
        more_rows=more_rows,
        rows_from=rows_from,
        more_rows_size=MORE_ROWS,
        json_text=pretty_json(text.encode()) if v.format == "json" and text else None,
        extras=extra_previews(repo, v),
        api=api_base(v),
        page=page,
        download_name=download_name(v),
        image=v.format in IMAGE_FORMATS,
        histogram=charts.histogram,
        run_link=run_link,
        ticked={v.version, max(older, default=v.version)},
        history=[e for _, e in repo.catalog.audit(v.project, v.key, v.version, limit=50)],
        can_write=rank(role) >= rank("writer"),
        can_delete=rank(role) >= rank("admin"),
        done=request.query_params.get("done", "")[:200],
        form_error=getattr(request.state, "form_error", None),
        draft=getattr(request.state, "draft", None) or {},
        run_id=run_id,
        run_curves=run_curves(repo, run_id, limit=6) if run_id else [],
        tag_history=repo.catalog.tag_history(v.project, v.key, None)[-50:],
        folder_files=repo.folder_files(v)[:500] if v.format == "folder" else None,
    )


def run_curves(repo: Any, run_id: str, limit: int = 24) -> list[tuple[str, int, Any]]:
    """A run's step metrics as line charts (step on the x axis): (name, points, svg)."""
    frame = run_metrics(repo, run_id)
    curves = []
    for name, rows in list(frame.groupby("key", sort=True))[:limit]:
        every = max(1, len(rows) // CURVE_POINTS)  # a long curve: every k-th step, and the last
        steps, values = rows["step"].tolist(), rows["value"].tolist()
        keep = sorted({*range(0, len(steps), every), len(steps) - 1})
        points = [charts.Point(f"step {steps[i]}", values[i]) for i in keep]
        svg = charts.line_chart(
            str(name), points, lower_better=lower_is_better(str(name)), what="steps"
        )
        curves.append((str(name), len(steps), svg))
    return curves


@router.get("/projects/{project}/runs/{run_id}")
def run_page(request: Request, project: str, run_id: str) -> HTMLResponse:
    """A run's curves (step metrics), results and the versions it logged."""
    repo = repo_of(request)
    if len(run_id) > 64:
        raise InvalidArgumentError("a run id has at most 64 characters")
    outputs = repo.outputs_of_run(run_id) if not run_id.startswith("local-") else []
    producer = outputs[0].producer if outputs else None
    return render(
        request,
        "run.html",
        project=validate_project(project),
        run_id=run_id,
        curves=run_curves(repo, run_id),
        results=repo.catalog.run_results(run_id),
        outputs=outputs,
        prefect_link=producer.link if producer is not None else None,
    )


def more_rows_of(
    repo: Any, v: ArtifactVersion, rows_from: int | None
) -> list[dict[str, Any]] | None:
    """The next MORE_ROWS rows of a Parquet dataset from ``rows_from`` on (the preview's
    columns only), read from storage through the verified read path; None when not asked."""
    if rows_from is None:
        return None
    if not isinstance(v, DatasetVersion) or v.format != "parquet":
        raise InvalidArgumentError(f"{v.ref} is not a Parquet dataset; rows_from needs one")
    if not 0 <= rows_from <= 10**12:
        raise InvalidArgumentError(f"rows_from must be between 0 and 10**12, got {rows_from}")
    preview = getattr(v, "preview", None) or []
    names = list(preview[0]) if preview else [c["name"] for c in v.schema][:30]
    found = repo.dataset_rows(v, offset=rows_from, limit=MORE_ROWS, columns=names)
    plain = (str, int, float, bool, type(None))
    return [{k: x if isinstance(x, plain) else str(x) for k, x in row.items()} for row in found]


def extra_previews(repo: Any, v: ArtifactVersion) -> dict[str, dict[str, Any]]:
    """What the detail page shows of each extra-data item: an image, a table, JSON or text."""
    from .views import extra_type

    out: dict[str, dict[str, Any]] = {}
    for name, item in v.extra_data.items():
        kind = extra_type(repo, item)
        preview: dict[str, Any] = {"type": kind, "name": download_name(v, name, kind)}
        if kind.startswith("image/") and kind != "image/svg+xml":
            preview["image"] = True
        elif item.size <= EXTRA_PREVIEW_MAX and (
            kind.startswith("text/") or kind == "application/json"
        ):
            try:
                data = repo.read_blob(item.hash)
            except ArtifactError:
                data = b""
            pretty = pretty_json(data)
            if pretty is not None:
                preview["json"] = pretty
            elif kind in ("text/csv", "text/tab-separated-values"):
                sep = "\t" if "tab" in kind else ","
                lines = data.decode("utf-8", "replace").splitlines()[:21]
                preview["table"] = [line.split(sep)[:30] for line in lines]
            else:
                preview["text"] = data[:20_000].decode("utf-8", "replace")
        out[name] = preview
    return out


@router.get("/projects/{project}/artifacts/{key}/figure")
def figure_page(request: Request, project: str, key: str, version: int) -> Response:
    """A stored HTML plot for the detail page's frame, with plotly.js loaded from the package
    (cached once) instead of inlined in every figure."""
    from .serve import stream_blob

    repo = repo_of(request)
    v = find_version(repo, project, key, version)
    if v.format != "html" or v.size > LIGHT_PLOT_MAX:
        return stream_blob(request, repo, v.hash, v.size, v.content_type, download_name(v), True)
    body = light_plot(repo.read_blob(v.hash), v.extra_data, f"{api_base(v)}/extra/")
    return Response(
        body,
        media_type="text/html",
        headers={
            "Content-Security-Policy": "sandbox allow-scripts",
            "ETag": f'"light-{v.hash}"',
            "Cache-Control": "private, no-cache",
        },
    )


@router.get("/projects/{project}/artifacts/{key}/diff")
def diff_page(request: Request, project: str, key: str, a: int, b: int) -> HTMLResponse:
    repo = repo_of(request)
    old, new = find_version(repo, project, key, a), find_version(repo, project, key, b)
    d = diff_versions(old, new)
    return render(
        request,
        "diff.html",
        project=project,
        key=key,
        old=old,
        new=new,
        d=d,
        drift=sorted_drift(d),
        lower_is_better=lower_is_better,
    )


@router.get("/projects/{project}/compare")
def compare_page(request: Request, project: str) -> HTMLResponse:
    """N versions side by side (``?ref=churn:3&ref=churn:4&ref=churn-xl``): metrics with a chart
    each, parameters, and for datasets the schema and statistics against the first."""
    repo = repo_of(request)
    project = validate_project(project)
    refs = [r for r in request.query_params.getlist("ref") if r.strip()]
    if len(refs) > MAX_COMPARE:
        raise InvalidArgumentError(f"compare at most {MAX_COMPARE} references at a time")
    if not refs:
        return render(request, "compare.html", project=project, c=None, refs=[], versions=[])
    all_versions = request.query_params.get("all_versions", "").lower() in ("1", "true", "on")
    run = request.query_params.get("run") or None
    c = compare(repo, refs, project=project, all_versions=all_versions, run=run)
    chosen = [m for m in request.query_params.getlist("metric") if m in c.metrics]
    shown = chosen or c.metrics
    versions = [repo.get(row.ref) for row in c.versions]
    metric_charts = [
        (
            name,
            c.lower_is_better.get(name, lower_is_better(name)),
            charts.bar_chart(
                name,
                [
                    charts.Point(row.ref.split("/", 1)[-1], row.metrics[name], ref_href(row.ref))
                    for row in c.versions
                    if name in row.metrics
                ],
                lower_better=c.lower_is_better.get(name, lower_is_better(name)),
            ),
        )
        for name in shown
    ]
    best = {
        name: (min if c.lower_is_better.get(name) else max)(
            (row.metrics[name] for row in c.versions if name in row.metrics), default=None
        )
        for name in c.metrics
    }
    differs = {
        name: len(
            {json.dumps(r.parameters.get(name), sort_keys=True, default=str) for r in c.versions}
        )
        > 1
        for name in c.parameters
    }
    metric_differs = {
        name: len({row.metrics.get(name) for row in c.versions}) > 1 for name in c.metrics
    }
    only_differing = request.query_params.get("only_differing", "").lower() in ("1", "true", "on")
    sweep = sweep_charts(request, c, shown, differs)
    datasets = [x for x in versions if isinstance(x, DatasetVersion)]
    diffs = [diff_versions(datasets[0], x) for x in datasets[1:]] if len(datasets) > 1 else []
    columns = sorted({col["name"] for x in datasets for col in x.schema}) if datasets else []
    return render(
        request,
        "compare.html",
        project=project,
        refs=refs,
        c=c,
        all_versions=all_versions,
        run=run,
        versions=versions,
        shown_metrics=shown,
        metric_charts=metric_charts,
        best=best,
        differs=differs,
        datasets=datasets,
        diffs=diffs,
        columns=columns,
        ref_href=ref_href,
        sweep=sweep,
        metric_differs=metric_differs,
        only_differing=only_differing,
    )


def sweep_charts(
    request: Request, c: Any, metrics: list[str], differs: dict[str, bool]
) -> dict[str, Any] | None:
    """Parallel coordinates (the parameters that vary → the metrics) and a scatter of any two
    of them (``?x=`` and ``?y=``) for the compared versions: a sweep's runs side by side."""
    if len(c.versions) < 2:
        return None
    scalar = (int, float, str, bool)
    params = [n for n in c.parameters if differs.get(n)][:8]
    runs = [
        charts.Run(
            row.ref.split("/", 1)[-1],
            ref_href(row.ref),
            {
                **{
                    n: (str(v) if isinstance(v, bool) else v)
                    for n, v in row.parameters.items()
                    if n in params and isinstance(v, scalar)
                },
                **{n: v for n, v in row.metrics.items() if n in metrics},
            },
        )
        for row in c.versions
    ]
    axes = [*params, *metrics[:8]]
    if len(axes) < 2:
        return None
    colour = request.query_params.get("colour") or (metrics[0] if metrics else None)
    x = request.query_params.get("x") or axes[0]
    y = request.query_params.get("y") or (metrics[0] if metrics and metrics[0] != x else axes[1])
    for name, value in (("x", x), ("y", y), ("colour", colour)):
        if value is not None and value not in axes:
            raise InvalidArgumentError(
                f"cannot plot {value[:60]!r} as {name}: choose one of {', '.join(axes)}"
            )
    lower = bool(colour) and c.lower_is_better.get(colour, lower_is_better(colour or ""))
    return {
        "axes": axes,
        "x": x,
        "y": y,
        "colour": colour,
        "parallel": charts.parallel_coordinates(axes, runs, colour_by=colour, lower_better=lower),
        "scatter": charts.scatter(x, y, runs),
    }


# -- writes -----------------------------------------------------------------------------------------
async def checked_form(request: Request, project: str, action: str) -> dict[str, str]:
    """The posted form, after the caller's role for ``action`` and the CSRF token it carries."""
    require(request, validate_project(project), action)
    fields = await form(request)
    if not hmac.compare_digest(fields.get("csrf", "").encode(), request.app.state.csrf.encode()):
        raise PermissionError("the form's CSRF token is missing or stale: reload the page")
    return fields


def done(v: ArtifactVersion, message: str) -> RedirectResponse:
    """Back to the version's page, which confirms what was done."""
    query = urlencode({"version": v.version, "done": message})
    return RedirectResponse(f"{page_base(v)}?{query}", status_code=303)


def kept_input(
    request: Request, project: str, key: str, version: int, fields: dict[str, str], exc: Exception
) -> HTMLResponse:
    """The version's page again, with the error above the forms and what was typed still in
    them (a form error never loses the input)."""
    request.state.form_error = str(exc).strip("'\"")
    request.state.draft = {k: x for k, x in fields.items() if k != "csrf"}
    response = detail_page(request, project, key, version=version)
    response.status_code = 400
    return response


async def edit_form(
    request: Request,
    project: str,
    key: str,
    version: int,
    action: str,
    apply: Callable[[Request, ArtifactVersion, dict[str, str]], RedirectResponse],
) -> Response:
    """A version's edit form: checked (token and role), applied to the version, or — refused —
    the page again with the error and the input kept."""
    fields = await checked_form(request, project, action)
    try:
        v = find_version(repo_of(request), project, key, version)
        return apply(request, v, fields)
    except InvalidArgumentError as exc:
        return kept_input(request, project, key, version, fields, exc)


@router.post("/projects/{project}/artifacts/{key}/versions/{version}/tag")
async def tag_form(request: Request, project: str, key: str, version: int) -> Response:
    return await edit_form(request, project, key, version, "tag", tag_version)


def tag_version(request: Request, v: ArtifactVersion, fields: dict[str, str]) -> RedirectResponse:
    tag = fields.get("tag", "").strip()
    repo_of(request).tag(v.ref, tag)
    audit(request, "tag", v.project, v.key, v.version, tag=tag)
    return done(v, f"tagged {tag}")


@router.post("/projects/{project}/artifacts/{key}/tags/{tag}/remove")
async def untag_form(request: Request, project: str, key: str, tag: str) -> RedirectResponse:
    await checked_form(request, project, "untag")
    project, key = validate_project(project), validate_key(key)
    number = repo_of(request).untag(key, validate_tag(tag), project=project)
    audit(request, "untag", project, key, number, tag=tag)
    query = urlencode({"done": f"removed tag {tag}"})
    return RedirectResponse(f"/projects/{quote(project)}/artifacts/{quote(key)}?{query}", 303)


@router.post("/projects/{project}/artifacts/{key}/versions/{version}/labels")
async def labels_form(request: Request, project: str, key: str, version: int) -> Response:
    """Replace the labels with the ``name=value`` lines of the form."""
    return await edit_form(request, project, key, version, "labels", set_labels)


def set_labels(request: Request, v: ArtifactVersion, fields: dict[str, str]) -> RedirectResponse:
    labels: dict[str, str] = {}
    for line in fields.get("labels", "").splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise InvalidArgumentError(f"write each label as name=value, got {line.strip()[:60]!r}")
        labels[name.strip()] = value.strip()
    repo_of(request).set_labels(v.ref, labels, replace=True)
    audit(request, "labels", v.project, v.key, v.version, labels=labels)
    return done(v, "labels saved")


@router.post("/projects/{project}/artifacts/{key}/versions/{version}/description")
async def description_form(request: Request, project: str, key: str, version: int) -> Response:
    return await edit_form(request, project, key, version, "description", set_description)


def set_description(
    request: Request, v: ArtifactVersion, fields: dict[str, str]
) -> RedirectResponse:
    text = fields.get("description", "").strip() or None
    repo_of(request).set_description(v.ref, text)
    audit(request, "description", v.project, v.key, v.version, description=text)
    return done(v, "description saved")


@router.post("/projects/{project}/artifacts/{key}/versions/{version}/delete")
async def delete_form(request: Request, project: str, key: str, version: int) -> Response:
    fields = await checked_form(request, project, "delete")
    v = find_version(repo_of(request), project, key, version)
    if fields.get("confirm") != v.key:
        exc = InvalidArgumentError(f"type the key {v.key!r} to confirm deleting {v.ref}")
        return kept_input(request, project, key, version, fields, exc)
    repo_of(request).delete(v.ref)
    audit(request, "delete", v.project, v.key, v.version)
    query = urlencode({"done": f"deleted {v.ref}"})
    return RedirectResponse(f"/projects/{quote(project)}/artifacts?{query}", status_code=303)


# -- sign-in and the audit trail ------------------------------------------------------------------
@router.get("/login")
def login_page(request: Request, next: str = "/projects") -> HTMLResponse:
    return render(request, "login.html", next=local_path(next))


@router.post("/login")
async def login(request: Request) -> Response:
    """A token (the shared one, or a user's) for a signed session cookie that expires."""
    access = request.app.state.access
    client = request.client.host if request.client else ""
    wait = access.blocked(client)
    if wait:
        response = error_response(
            request, 429, f"too many wrong sign-ins from {client}: try again in {int(wait) + 1} s"
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    fields = await form(request)
    who = access.check_token(repo_of(request), fields.get("token", "").strip())
    if who is None:
        access.failed(client)
        return render(request, "login.html", 401, next=local_path(fields.get("next", "")),
                      error="wrong token")  # fmt: skip
    access.succeeded(client)
    response = RedirectResponse(local_path(fields.get("next", "/projects")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        access.new_session(who),
        max_age=int(access.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=access.secure(request),
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
    return response


@router.get("/projects/{project}/audit")
def audit_page(
    request: Request, project: str, key: str | None = None, before: int | None = None
) -> HTMLResponse:
    """Every write through the UI and the API in ``project``, newest first, with who made it."""
    project = validate_project(project)
    entries = repo_of(request).catalog.audit(
        project, validate_key(key) if key else None, before=before, limit=AUDIT_PAGE + 1
    )
    more = len(entries) > AUDIT_PAGE
    entries = entries[:AUDIT_PAGE]
    query = [("key", key)] if key else []
    next_url = "?" + urlencode([*query, ("before", entries[-1][0])]) if more else None
    return render(
        request,
        "audit.html",
        project=project,
        key=key,
        entries=[e for _, e in entries],
        next_url=next_url,
    )


# -- links ------------------------------------------------------------------------------------------
def api_base(v: ArtifactVersion) -> str:
    return f"/api/projects/{quote(v.project)}/artifacts/{quote(v.key)}/versions/{v.version}"


def page_base(v: ArtifactVersion) -> str:
    return f"/projects/{quote(v.project)}/artifacts/{quote(v.key)}"


def artifact_href(ref: str) -> str:
    """``project/key:N`` → its detail page."""
    project, _, rest = ref.partition("/")
    key, _, number = rest.rpartition(":")
    return f"/projects/{quote(project)}/artifacts/{quote(key)}?version={quote(number)}"


def ref_href(ref: str) -> str:
    return artifact_href(ref)


def local_path(target: str) -> str:
    """Only a path on this site: never ``//elsewhere`` or ``https://elsewhere``."""
    parts = urlsplit(target)
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if local and not parts.scheme and not parts.netloc else "/projects"
