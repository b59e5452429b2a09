"""The package's public names: all resolvable, typed for checkers, and cheap to import
(``import prefect_artifacts`` and ``prefect-artifacts --help`` load no heavy library)."""

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import prefect_artifacts as pa

INIT = Path(pa.__file__)
HEAVY = ("pandas", "pyarrow", "numpy", "sqlalchemy", "prefect", "fastapi", "fsspec", "alembic")


def _loaded_after(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    modules = json.loads(out.strip().splitlines()[-1])
    return [m for m in heavy if m in modules]


def test_importing_the_package_loads_no_heavy_library():
    assert _loaded_after("import prefect_artifacts") == []


def test_the_cli_help_loads_no_heavy_library():
    code = (
        "import sys\nsys.argv = ['prefect-artifacts', '--help']\n"
        "from prefect_artifacts.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert _loaded_after(code, (*HEAVY, "pydantic")) == []  # help texts need no filter model


def test_every_public_name_resolves_to_its_module():
    for module, names in pa._MODULES.items():
        source = importlib.import_module(f"prefect_artifacts.{module}")
        for name in names:
            assert getattr(pa, name) is getattr(source, name), name
    assert sorted(pa._EXPORTS) == sorted(pa.__all__)
    assert set(pa.__all__) <= set(dir(pa))


def test_the_type_checking_imports_name_the_same_modules():
    """Type checkers read the ``if TYPE_CHECKING:`` imports; at run time ``_MODULES`` is used."""
    tree = ast.parse(INIT.read_text())
    block = next(
        n
        for n in tree.body
        if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"
    )
    static: dict[str, set[str]] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1
        static.setdefault(node.module, set()).update(a.name for a in node.names)
    assert static == {module: set(names) for module, names in pa._MODULES.items()}


def _installed_after(code: str) -> list[str]:
    probe = (
        "import prefect_artifacts\n"
        "from prefect_artifacts.core import runs\n"
        "before = runs._provider is None\n"
        f"{code}\n"
        "print(before, runs._provider is not None)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout.split()


@pytest.mark.slow
def test_the_first_public_name_used_plugs_the_prefect_edge_in():
    assert _installed_after("prefect_artifacts.ArtifactError") == ["True", "True"]


@pytest.mark.slow
def test_a_repository_opened_without_the_public_names_plugs_it_in_too(tmp_path):
    """E.g. a Dask worker unpickling a version: only core modules are touched."""
    code = (
        "from prefect_artifacts.core.repository import Repository\n"
        "from prefect_artifacts.core.storage import Storage\n"
        "from prefect_artifacts.core.catalog import Catalog\n"
        f"Repository(Storage.from_url({str(tmp_path / 's')!r}), "
        f"Catalog('sqlite:///{tmp_path / 'c.db'}'))"
    )
    assert _installed_after(code) == ["True", "True"]


def test_an_unknown_name_is_an_attribute_error():
    try:
        pa.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("no AttributeError")
