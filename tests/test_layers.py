"""The layers hold: the core runs with Prefect not importable; nothing imports a layer above it;
the package has no import cycle; no surface reaches into another module's private names."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "prefect_artifacts"
LAYERS = {"core": 0, "prefect": 1, "cli": 2, "web": 2}  # a module may import its level or below
MEETING = {("prefect_artifacts.cli.ui", "prefect_artifacts.web")}  # `ui` starts the web app

REFUSE_PREFECT = """
import sys
class Refuse:
    def find_spec(self, name, path, target=None):
        if name == "prefect" or name.startswith("prefect."):
            raise ImportError(f"{name} is refused in this test")
sys.meta_path.insert(0, Refuse())
"""


def run_without_prefect(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env_code = REFUSE_PREFECT + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", env_code],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PREFECT_HOME": str(tmp_path / "home"),
            "PYTHONPATH": str(PACKAGE.parent),
        },
    )


@pytest.mark.slow
def test_the_core_runs_with_prefect_refused(tmp_path):
    result = run_without_prefect(
        """
        import pandas as pd
        import prefect_artifacts as pa
        df = pd.DataFrame({"x": [1, 2, 3]})
        v = pa.log_dataset("my_data", df, labels={"team": "ml"}, tag="prod")
        pa.log_model("my_model", body=b"w", model_file="my_model.pkl", metrics={"auc": 0.9},
                     extra_data={"confusion": v.target_path})
        assert pa.get_artifact("my_data@prod").load()["x"].tolist() == [1, 2, 3]
        assert [a.key for a in pa.list_artifacts(since="24h", kind="datasets")] == ["my_data"]
        pa.tag_artifact("my_model:1", "prod")
        assert pa.verify().ok and pa.reindex().versions_restored == 0
        pa.delete_artifact("my_model")
        from typer.testing import CliRunner
        from prefect_artifacts.cli import app
        out = CliRunner().invoke(app, ["ls", "--label", "team=ml"])
        assert out.exit_code == 0 and "my_data" in out.output, out.output
        assert CliRunner().invoke(app, ["db", "current"]).exit_code == 0
        assert not [m for m in sys.modules if m == "prefect" or m.startswith("prefect.")]
        print("core without prefect: ok")
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "core without prefect: ok" in result.stdout


def test_a_prefect_feature_without_prefect_says_so(tmp_path):
    result = run_without_prefect(
        """
        import prefect_artifacts as pa
        try:
            pa.artifact_task(lambda: 1)
        except ImportError as exc:
            print("refused:", exc)
        """,
        tmp_path,
    )
    assert "refused: prefect is refused" in result.stdout, result.stderr


def _imports(path: Path) -> list[str]:
    """Prefect and modules of this package that ``path`` imports, at any depth in the file —
    in functions and under ``TYPE_CHECKING`` too (a type hint is a dependency as well)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        module = module.rsplit(".", 1)[0]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found += [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    return [f for f in found if f == "prefect" or f.startswith(("prefect.", "prefect_artifacts"))]


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 and parts[0] == "prefect_artifacts" else None


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_it(path):
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    own = _layer(module)
    if own is None:
        return  # the package's __init__: it assembles the public API from every layer
    for target in _imports(path):
        if target == "prefect" or target.startswith("prefect."):
            assert own >= LAYERS["prefect"], f"{module} imports {target}"
        layer = _layer(target)
        if layer is not None and (module, ".".join(target.split(".")[:2])) not in MEETING:
            assert layer <= own and not (
                layer == own and target.split(".")[1] != module.split(".")[1]
            ), f"{module} imports {target}"


ALLOWED_PRIVATE = {"_fields", "_asdict", "_mapping", "_replace"}  # namedtuple / Row API


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if p.relative_to(PACKAGE).parts[0] in ("cli", "web", "prefect")],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_surfaces_use_no_private_names_of_other_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and node.attr not in ALLOWED_PRIVATE
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            raise AssertionError(f"{path.name}:{node.lineno} uses the private name .{node.attr}")


# Prefect's private names this package relies on, each pinned by a test that fails loudly when
# Prefect changes it (tests/test_prefect_private.py).
PREFECT_PRIVATE = {("prefect.cache_policies", "_register_stable_transforms")}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_another_modules_private_names(path):
    """``from x import _name`` reaches into ``x``: share the name publicly instead."""
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        for alias in node.names:
            name = alias.name
            if not name.startswith("_") or name.startswith("__"):
                continue
            where = ("." * node.level) + (node.module or "")
            assert (node.module, name) in PREFECT_PRIVATE, (
                f"{path.name}:{node.lineno} imports the private name {name} from {where}"
            )


def _every_import(path: Path, module: str, modules: set[str]) -> set[str]:
    """Modules of this package that ``path`` imports anywhere: at the top, in functions and
    under ``TYPE_CHECKING``; ``from pkg import name`` counts pkg.name when that is a module."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join([*base, node.module] if node.module else base)
            if not node.level:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in modules else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {f for f in found if f in modules and f != module}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_there_is_no_import_cycle_counting_every_import():
    modules = {}
    for path in SOURCES:
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = {name: _every_import(path, name, set(modules)) for name, path in modules.items()}
    found = [[m.removeprefix("prefect_artifacts.") for m in c] for c in _cycles(graph)]
    assert found == [], f"import cycles (every import counted): {found}"
