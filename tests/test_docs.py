"""The documentation: every Python block in README.md and docs/ runs as written, the site builds
with ``mkdocs build --strict``, the reference covers the public API, the README stays short.

Blocks use pytest-markdown-docs' fence syntax: ```` ```python ```` runs (in a fresh namespace),
```` ```python continuation ```` continues the previous block's namespace, ```` ```python notest ````
is not run. Each file runs against its own fresh repository (``PREFECT_ARTIFACTS_STORAGE_URL`` /
``PREFECT_ARTIFACTS_CATALOG_URL`` in a temporary folder, which is also the working directory);
a file whose blocks use Prefect (``prefect``, ``@flow``, ``artifact_task``, a block) runs with the
session's Prefect test server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
PYTHON = {"python", "py", "python3"}
NEEDS_PREFECT = re.compile(r"\bprefect\b|@flow|artifact_task|ArtifactRepository|ARTIFACT_INPUTS")


@dataclass
class Block:
    line: int  # 1-based line of the first code line
    code: str
    continuation: bool


def python_blocks(text: str) -> list[Block]:
    """The blocks to run, in order (``notest`` ones left out)."""
    blocks = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type != "fence" or not token.map:
            continue
        words = token.info.split()
        if not words or words[0] not in PYTHON or "notest" in words[1:]:
            continue
        blocks.append(Block(token.map[0] + 2, token.content, "continuation" in words[1:]))
    return blocks


def _documents() -> list[Path]:
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [p for p in paths if python_blocks(p.read_text(encoding="utf-8"))]


def _needs_prefect(path: Path) -> bool:
    return any(NEEDS_PREFECT.search(b.code) for b in python_blocks(path.read_text("utf-8")))


DOCUMENTS = _documents()
PAGES = [  # a page that uses Prefect gets the test server: slow
    pytest.param(
        p,
        id=p.relative_to(ROOT).as_posix(),
        marks=[pytest.mark.slow] if _needs_prefect(p) else [],
    )
    for p in DOCUMENTS
]


@pytest.mark.parametrize("path", PAGES)
def test_python_blocks_run(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
):
    blocks = python_blocks(path.read_text(encoding="utf-8"))
    monkeypatch.setenv("PREFECT_ARTIFACTS_STORAGE_URL", str(tmp_path / "store"))
    monkeypatch.setenv("PREFECT_ARTIFACTS_CATALOG_URL", f"sqlite:///{tmp_path / 'catalog.db'}")
    monkeypatch.setenv("PREFECT_ARTIFACTS_VERIFIED_STATE", str(tmp_path / "verified.db"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    if _needs_prefect(path):
        request.getfixturevalue("prefect_server")
    from prefect_artifacts.core.materializers import registry

    environment = dict(os.environ)  # a page may set variables (a signing key): undo it after
    request.addfinalizer(lambda: (os.environ.clear(), os.environ.update(environment)))

    registered = list(registry._registered)  # a page may register a materializer: undo it after
    request.addfinalizer(lambda: setattr(registry, "_registered", registered))
    namespace: dict[str, object] = {}
    monkeypatch.setitem(sys.modules, "__docs__", types.ModuleType("__docs__"))
    where = path.relative_to(ROOT).as_posix()
    for block in blocks:
        if not block.continuation:
            module = types.ModuleType("__docs__")  # a real module: dataclasses, pickling
            sys.modules["__docs__"] = module
            namespace = module.__dict__
        # padded so that tracebacks (and inspect.getsource) point at the file's own lines
        code = compile("\n" * (block.line - 1) + block.code, str(path), "exec", dont_inherit=True)
        try:
            exec(code, namespace)
        except BaseException as exc:
            exc.add_note(f"in the python block at {where}:{block.line}")
            raise
    import prefect_artifacts as pa

    pa.flush_registrations()  # nothing left to send once the Prefect server is gone


def test_fence_parsing_follows_pytest_markdown_docs_syntax():
    text = (
        "```python\na = 1\n```\n\ntext\n\n```python continuation\nb = a\n```\n"
        "```python notest\nboom()\n```\n```bash\nls\n```\n"
    )
    blocks = python_blocks(text)
    assert [(b.line, b.code, b.continuation) for b in blocks] == [
        (2, "a = 1\n", False),
        (8, "b = a\n", True),
    ]


def test_the_readme_is_short_and_its_quickstart_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) <= 12 * 1024, f"README.md is {len(readme.encode())} bytes"
    assert ROOT / "README.md" in DOCUMENTS
    assert "./run.sh demo" in readme and "./run.sh test" in readme
    assert "No test is skipped" in readme


def test_the_reference_documents_every_public_name():
    import prefect_artifacts

    pages = "\n".join(p.read_text() for p in (ROOT / "docs" / "reference").glob("*.md"))
    documented = set(re.findall(r"^::: prefect_artifacts\.(?:[\w.]+\.)?(\w+)$", pages, re.M))
    missing = sorted(set(prefect_artifacts.__all__) - documented)
    assert not missing, f"not in docs/reference: {missing}"


def test_every_nav_entry_exists():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)

    def pages(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from pages(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from pages(value)

    missing = [p for p in pages(config["nav"]) if not (ROOT / "docs" / p).is_file()]
    assert not missing


@pytest.mark.slow
def test_the_site_builds_offline_and_strict(tmp_path: Path):
    """``./run.sh docs``: a warning (a broken link, a missing docstring target) fails it."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    performance = (tmp_path / "explanation" / "performance" / "index.html").read_text()
    assert "cores" in performance and "log_dataset" in performance
    cli = (tmp_path / "reference" / "cli" / "index.html").read_text()
    assert "prefect-artifacts ls" in cli
    from prefect_artifacts.core.settings import ArtifactSettings

    settings = (tmp_path / "reference" / "settings" / "index.html").read_text()
    for field in ArtifactSettings.model_fields:
        assert f"PREFECT_ARTIFACTS_{field.upper()}" in settings
    spec = json.loads((tmp_path / "reference" / "openapi.json").read_text())
    api = (tmp_path / "reference" / "json-api" / "index.html").read_text()
    for path in spec["paths"]:
        assert not path.startswith("/api") or path in api, path
    unrendered = [
        page.relative_to(tmp_path).as_posix()
        for page in tmp_path.rglob("*.html")
        if "```" in page.read_text()  # a fence the site did not recognize shows as text
    ]
    assert not unrendered
    outside = [  # nothing the pages load comes from elsewhere (no CDN, no web fonts)
        page.relative_to(tmp_path).as_posix()
        for page in tmp_path.rglob("*.html")
        if re.search(r"""(src=|@import |url\()["']?https?://""", page.read_text())
    ]
    assert not outside
