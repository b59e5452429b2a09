"""The HTML pages: projects, the artifact list with its search form and sortable columns, a
version's detail page (usage, content, metric charts, versions, lineage graph, editing), the diff
of two versions, the comparison of N versions, and (with ``--allow-writes``) the edit forms."""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..core.compare import compare, lower_is_better
from ..core.diff import diff_versions
from ..core.errors import ArtifactError, ArtifactNotFoundError, InvalidArgumentError
from ..core.filters import ArtifactFilter
from ..core.keys import validate_key, validate_project, validate_tag
from ..core.models import ArtifactVersion, run_link
from ..core.repository.reader import download_name
from ..core.tracking import run_metrics
from . import charts
from .assets import light_plot
from .display import pretty_json, sorted_drift
from .serve import form, text_preview
from .views import PAGE_SIZE, error_response, find_version, repo_of, require_writes, search

router = APIRouter(include_in_schema=False)
IMAGE_FORMATS = {"png", "jpeg", "gif", "webp", "svg"}
TABS = {"all": None, "datasets": "dataset", "models": "model", "plots": "plot", "other": "other"}
SPANS = ("1h", "24h", "7d", "30d")
DESCENDING_FIRST = {"updated", "created", "size", "version", "keys"}
VERSION_SORTS = {"version", "created", "updated", "size"}
VERSIONS_SHOWN = 30
MAX_COMPARE = 50
LIGHT_PLOT_MAX = 64 << 20
EXTRA_PREVIEW_MAX = 1 << 20
MORE_ROWS = 50
CURVE_POINTS = 1000


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("allow_writes", request.app.state.allow_writes)
    context.setdefault("csrf", request.app.state.csrf)
    return request.app.state.templates.TemplateResponse(
        request, template, context, status_code=status
    )


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
        repo_of(request).projects(), key=lambda p: getattr(p, attr), reverse=sort.startswith("-")
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
            params.setdefault("labels", []).append(value)
        elif value:
            params[name] = value
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "offset" and v]
    current = str(params.get("sort") or "-updated")
    context: dict[str, Any] = {
        "project": project,
        "params": params,
        "tab": next((t for t, k in TABS.items() if params.get("kind") in (t, k)), "all"),
        "tabs": TABS,
        "spans": SPANS,
        "kept": kept,
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
        result = search(repo_of(request), validate_project(project), filters)
    except (InvalidArgumentError, ArtifactNotFoundError) as exc:
        status = 404 if isinstance(exc, ArtifactNotFoundError) else 400
        message = str(exc).strip("'\"")
        return render(request, "artifacts.html", status, error=message, result=None, **context)
    models = [v for v in result.items if v.kind == "model"]
    metric_names = sorted({m for v in models for m in getattr(v, "metrics", {}) or {}})[:6]
    if filters.sort_metric and filters.sort_metric not in metric_names:  # the sorted one shows
        metric_names = [filters.sort_metric, *metric_names[:5]]
    label_names = repo_of(request).catalog.label_names(validate_project(project))
    if filters.sort_label and filters.sort_label not in label_names:  # the sorted one shows
        label_names = [filters.sort_label, *label_names]
    return render(
        request,
        "artifacts.html",
        result=result,
        page_size=PAGE_SIZE,
        label_names=label_names,
        metric_names=metric_names if context["tab"] == "models" else [],
        **context,
    )


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
    show_all = versions == "all"
    # the metrics of every version (only they are read) feed a model's charts; the table is
    # one page through the shared filter, sorted (by a metric too) and cut by the catalog
    history = repo.metric_history(v.ref) if v.kind == "model" else []
    if v.kind != "model" and vsort.lstrip("-").startswith("metric:"):
        vsort = "-version"
    f = ArtifactFilter.of(project=v.project, key=v.key, all_versions=True, sort=vsort)
    shown = repo.list(f if show_all else ArtifactFilter.of(f, limit=VERSIONS_SHOWN))
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
    kept = [(k, val) for k, val in request.query_params.multi_items() if val]
    text = text_preview(repo, v)
    run_id = v.producer.run_id if v.kind == "model" else None
    return render(
        request,
        "detail.html",
        project=project,
        v=v,
        revisions=v.revisions(),
        versions=shown,
        version_count=version_count,
        show_all=show_all,
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


def more_rows_of(repo: Any, v: ArtifactVersion, rows_from: int | None) -> list[dict] | None:
    """The next MORE_ROWS rows of a Parquet dataset from ``rows_from`` on (the preview's
    columns only), read from storage through the verified read path; None when not asked."""
    if rows_from is None:
        return None
    if v.kind != "dataset" or v.format != "parquet":
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
    datasets = [x for x in versions if x.kind == "dataset"]
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
    )


# -- writes -----------------------------------------------------------------------------------------
async def checked_form(request: Request) -> dict[str, str]:
    """The posted form, after the write switch and the CSRF token it must carry."""
    require_writes(request)
    fields = await form(request)
    if not hmac.compare_digest(fields.get("csrf", "").encode(), request.app.state.csrf.encode()):
        raise PermissionError("the form's CSRF token is missing or stale: reload the page")
    return fields


@router.post("/projects/{project}/artifacts/{key}/versions/{version}/tag")
async def tag_form(request: Request, project: str, key: str, version: int) -> RedirectResponse:
    fields = await checked_form(request)
    v = find_version(repo_of(request), project, key, version)
    repo_of(request).tag(v.ref, fields.get("tag", ""))
    return RedirectResponse(f"{page_base(v)}?version={version}", status_code=303)


@router.post("/projects/{project}/artifacts/{key}/tags/{tag}/remove")
async def untag_form(request: Request, project: str, key: str, tag: str) -> RedirectResponse:
    await checked_form(request)
    repo_of(request).untag(validate_key(key), validate_tag(tag), project=validate_project(project))
    return RedirectResponse(f"/projects/{quote(project)}/artifacts/{quote(key)}", status_code=303)


@router.post("/projects/{project}/artifacts/{key}/versions/{version}/labels")
async def labels_form(request: Request, project: str, key: str, version: int) -> RedirectResponse:
    """Replace the labels with the ``name=value`` lines of the form."""
    fields = await checked_form(request)
    v = find_version(repo_of(request), project, key, version)
    labels: dict[str, str] = {}
    for line in fields.get("labels", "").splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise InvalidArgumentError(f"write each label as name=value, got {line.strip()[:60]!r}")
        labels[name.strip()] = value.strip()
    repo_of(request).set_labels(v.ref, labels, replace=True)
    return RedirectResponse(f"{page_base(v)}?version={version}", status_code=303)


@router.post("/projects/{project}/artifacts/{key}/versions/{version}/description")
async def description_form(
    request: Request, project: str, key: str, version: int
) -> RedirectResponse:
    fields = await checked_form(request)
    v = find_version(repo_of(request), project, key, version)
    repo_of(request).set_description(v.ref, fields.get("description", "").strip() or None)
    return RedirectResponse(f"{page_base(v)}?version={version}", status_code=303)


@router.post("/projects/{project}/artifacts/{key}/versions/{version}/delete")
async def delete_form(request: Request, project: str, key: str, version: int) -> RedirectResponse:
    fields = await checked_form(request)
    v = find_version(repo_of(request), project, key, version)
    if fields.get("confirm") != v.key:
        raise InvalidArgumentError(f"type the key {v.key!r} to confirm deleting {v.ref}")
    repo_of(request).delete(v.ref)
    return RedirectResponse(f"/projects/{quote(project)}/artifacts", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = "/projects") -> HTMLResponse:
    return render(request, "login.html", next=local_path(next))


@router.post("/login")
async def login(request: Request) -> Response:
    fields = await form(request)
    token, expected = fields.get("token", ""), request.app.state.token or ""
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return error_response(request, 401, "wrong token")
    response = RedirectResponse(local_path(fields.get("next", "/projects")), status_code=303)
    response.set_cookie("pa_token", token, httponly=True, samesite="strict")
    return response


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
