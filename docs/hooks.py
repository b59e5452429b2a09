"""MkDocs hooks: the reference pages generated from the code, and the performance tables from
``benchmarks/results/latest.json``. A page asks for a generated part with a line
``<!-- generate: NAME -->``; nothing here reaches the network."""

from __future__ import annotations

import json
import re
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- generate: ([a-z-]+) -->$", re.MULTILINE)
# pytest-markdown-docs' fence words (```python continuation, ```python notest) are for the
# tests; superfences would not recognize such a fence, so the site sees only the language
TEST_WORDS = re.compile(r"^([ \t]*(?:`{3,}|~{3,})(?:python3?|py))(?:[ \t]+[\w:-]+)+[ \t]*$", re.M)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    markdown = TEST_WORDS.sub(r"\1", markdown)
    return MARKER.sub(lambda m: GENERATORS[m.group(1)](), markdown)


def on_files(files: Any, config: Any) -> Any:
    """Serve the JSON API's OpenAPI document beside its reference page."""
    from mkdocs.structure.files import File

    files.append(
        File.generated(config, "reference/openapi.json", content=json.dumps(_openapi(), indent=2))
    )
    return files


# --- the CLI, from the Typer app -----------------------------------------------------------


def cli() -> str:
    import typer
    from typer.cli import get_docs_for_click

    from prefect_artifacts.cli import app

    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="prefect-artifacts")
    text = get_docs_for_click(obj=command, ctx=ctx, name="prefect-artifacts", indent=1)
    # typer writes "# `cmd`" headings from ``indent``; keep them under the page's title
    return text.replace("\n# ", "\n## ")


# --- settings, from the settings model -----------------------------------------------------


def settings() -> str:
    from prefect_artifacts.core.settings import ArtifactSettings

    rows = ["| environment variable | type | default | meaning |", "|---|---|---|---|"]
    for name, field in ArtifactSettings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "—" if default is None else f"`{json.dumps(default, default=str)}`"
        kind = _type_name(field.annotation)
        meaning = _cell(field.description or "")
        rows.append(f"| `PREFECT_ARTIFACTS_{name.upper()}` | {kind} | {shown} | {meaning} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    """Text for a markdown table cell: one line, no pipes, no HTML."""
    return text.replace("\n", " ").replace("|", "\\|").replace("<", "&lt;")


def _type_name(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "").replace("pydantic.types.", "")
    text = re.sub(r"<class '([^']+)'>", r"\1", text)
    return f"`{text}`".replace("|", "\\|")


# --- the JSON API, from the FastAPI app ----------------------------------------------------

_OPENAPI: dict[str, Any] = {}


def _openapi() -> dict[str, Any]:
    if not _OPENAPI:
        from prefect_artifacts.core.catalog import Catalog
        from prefect_artifacts.core.repository import Repository
        from prefect_artifacts.core.storage import Storage
        from prefect_artifacts.web.app import create_app

        with tempfile.TemporaryDirectory() as tmp:
            catalog = Catalog(f"sqlite:///{tmp}/catalog.db")
            repo = Repository(Storage.from_url(f"{tmp}/store"), catalog, owner="docs")
            _OPENAPI.update(create_app(repo).openapi())
            catalog.dispose()
    return _OPENAPI


def json_api() -> str:
    spec = _openapi()
    out = [f"OpenAPI {spec['openapi']}, API version {spec['info']['version']}.", ""]
    for path, methods in spec["paths"].items():
        if not path.startswith("/api"):
            continue
        for method, op in methods.items():
            out += [f"### `{method.upper()} {path}`", ""]
            if op.get("summary"):
                out += [op["summary"] + ".", ""]
            if op.get("description"):
                out += [op["description"].strip(), ""]
            params = op.get("parameters", [])
            if params:
                out += ["| parameter | in | type | description |", "|---|---|---|---|"]
                for p in params:
                    schema = p.get("schema", {})
                    kind = schema.get("type") or " or ".join(
                        s.get("type", "?") for s in schema.get("anyOf", [])
                    )
                    desc = _cell(p.get("description") or "")
                    required = " (required)" if p.get("required") else ""
                    out.append(f"| `{p['name']}`{required} | {p['in']} | {kind} | {desc} |")
                out.append("")
            responses = []
            for status, response in op.get("responses", {}).items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                model = _schema_name(schema) if schema else ""
                responses.append(f"`{status}` {response.get('description', '')} {model}".strip())
            if responses:
                out += ["Responses: " + "; ".join(responses) + ".", ""]
    models = sorted(spec.get("components", {}).get("schemas", {}))
    out += ["### Response models", "", ", ".join(f"`{m}`" for m in models), ""]
    return "\n".join(out)


def _schema_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return f"(`{schema['$ref'].rsplit('/', 1)[-1]}`)"
    if schema.get("type") == "array" and "items" in schema:
        return _schema_name(schema["items"]).replace("(`", "(list of `")
    if "anyOf" in schema:
        names = [_schema_name(s).strip("()") for s in schema["anyOf"]]
        return "(" + " or ".join(n for n in names if n) + ")"
    return ""


# --- error classes and exit codes ----------------------------------------------------------


def errors() -> str:
    from prefect_artifacts.cli.app import EXIT_CODES
    from prefect_artifacts.core import errors as module

    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, module.ArtifactError)
    ]
    rows = ["| error | is also a | CLI exit code | meaning |", "|---|---|---|---|"]
    for cls in classes:
        bases = ", ".join(
            f"`{b.__name__}`"
            for b in cls.__mro__[1:]
            if b not in (object, BaseException, Exception)
        )
        code = next((c for t, c in EXIT_CODES if issubclass(cls, t)), 1)
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        rows.append(f"| `{cls.__name__}` | {bases} | {code} | {doc} |")
    return "\n".join(rows)


# --- performance, from benchmarks/results/latest.json --------------------------------------


def performance() -> str:
    results = json.loads((ROOT / "benchmarks" / "results" / "latest.json").read_text())
    machines = sorted({r["machine"] for r in results})
    cores = sorted({m.group(1) for r in results if (m := re.search(r"(\d+) cores?", r["machine"]))})
    dates = sorted(r["at"] for r in results)
    out = [
        f"Measured on **{', '.join(machines)}** ({', '.join(cores) or '?'} cores), "
        f"between {dates[0][:16].replace('T', ' ')} and {dates[-1][:16].replace('T', ' ')} UTC "
        f"(`benchmarks/results/latest.json`, {len(results)} rows).",
        "",
    ]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        groups[r["group"]].append(r)
    for group, rows in groups.items():
        out += [
            f"### {group}",
            "",
            "| benchmark | result | target | verdict | ours | baseline | run at |",
            "|---|---:|---:|---|---:|---:|---|",
        ]
        for r in rows:
            ratio = r["baseline"] is not None or r["unit"] == "x"
            result = f"{r['value']:.2f}×" if ratio else f"{r['value']:,.1f} {r['unit']}"
            verdict = {"ok": "met", "MISSED": "**missed**", "missed": "**missed**"}.get(
                r["verdict"], r["verdict"]
            )
            target = "" if r["target"] is None else (f"≤ {r['target']}" + ("×" if ratio else ""))
            ours = "" if r["baseline"] is None else f"{r['ours']:,.1f} {r['unit']}"
            base = "" if r["baseline"] is None else f"{r['baseline']:,.1f} {r['unit']}"
            name = r["name"].strip().replace("|", "\\|")
            if r.get("note"):
                name += f" — {r['note']}".replace("|", "\\|")
            if r.get("quick"):
                name += " (quick scale)"
            out.append(
                f"| {name} | {result} | {target} | {verdict} | {ours} | {base} "
                f"| {r['at'][:16].replace('T', ' ')} |"
            )
        out.append("")
    return "\n".join(out)


GENERATORS = {
    "cli": cli,
    "settings": settings,
    "json-api": json_api,
    "errors": errors,
    "performance": performance,
}
