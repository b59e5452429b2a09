"""The package is ready to publish: the wheel and sdist hold what they must (and no tests or
benchmarks), their metadata passes ``twine check``, and the version has one source."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds the wheel and the sdist

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "MANIFEST.in"]
FOLDERS = ["prefect_artifacts", "tests", "benchmarks", "docs", "flows"]


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build the wheel and sdist once, from a copy of the source tree (the build leaves
    ``build/`` and ``*.egg-info`` behind), without network access (``--no-isolation``)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "results")
    for name in FOLDERS:
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
        check=True,
        capture_output=True,
    )
    return {
        "wheel": next(out.glob("*.whl")),
        "sdist": next(out.glob("*.tar.gz")),
    }


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def _sdist_names(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as archive:
        return [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]


def _package_files() -> set[str]:
    """Every file of the package in the source tree that a user needs at run time."""
    package = ROOT / "prefect_artifacts"
    return {
        path.relative_to(ROOT).as_posix()
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_the_archives_hold_the_package_and_nothing_else(dists: dict[str, Path], kind: str):
    names = set(_wheel_names(dists["wheel"]) if kind == "wheel" else _sdist_names(dists["sdist"]))
    missing = _package_files() - names
    assert not missing, f"{kind} lacks {sorted(missing)[:10]}"
    for required in [
        "prefect_artifacts/py.typed",
        "prefect_artifacts/web/templates/base.html",
        "prefect_artifacts/web/static/style.css",
        "prefect_artifacts/web/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "prefect_artifacts/core/catalog/migrations/versions/0001_release_0_1.py",
    ]:
        assert required in names, f"{kind} lacks {required}"
    strays = [
        name
        for name in names
        if name.split("/")[0] in {"tests", "benchmarks", "docs", "flows"}
        or name.endswith((".pyc", "conftest.py"))
    ]
    assert not strays, f"{kind} holds {strays[:10]}"


def test_the_wheel_metadata(dists: dict[str, Path]):
    with zipfile.ZipFile(dists["wheel"]) as archive:
        meta_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(archive.read(meta_name).decode())
        licenses = [n for n in archive.namelist() if ".dist-info/licenses/" in n]
    declared = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert meta["Name"] == "prefect-artifacts"
    assert declared and meta["Version"] == declared.group(1) == version("prefect-artifacts")
    assert meta["License-Expression"] == "Apache-2.0"
    assert licenses and licenses[0].endswith("/LICENSE")
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert any(url.startswith("Documentation, ") for url in meta.get_all("Project-URL"))
    assert meta["Keywords"]


def test_twine_check_passes(dists: dict[str, Path]):
    """The README renders on PyPI and the metadata is complete."""
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dists.values())],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_version_has_one_source():
    import prefect_artifacts

    assert prefect_artifacts.__version__ == version("prefect-artifacts")
    hard_coded = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "prefect_artifacts").rglob("*.py")
        if "__version__ = " in path.read_text() and path.name != "__init__.py"
    ]
    assert not hard_coded
    init = (ROOT / "prefect_artifacts" / "__init__.py").read_text()
    assert 'version("prefect-artifacts")' in init.replace("_version", "version")


def test_the_license_is_apache_2():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_github_workflow_runs_what_ci_runs():
    """The public repository's CI runs the same command as ``.ci/run``, with PostgreSQL as a
    service container, and builds the docs."""
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    job = workflow["jobs"]["test"]
    steps = [step.get("run", "") for step in job["steps"]]
    assert "exec ./run.sh test" in (ROOT / ".ci" / "run").read_text()
    assert "./run.sh test" in steps and "./run.sh docs" in steps
    assert job["services"]["postgres"]["ports"] == ["5432:5432"]
    assert job["services"]["postgres"]["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"


def test_every_lower_bound_is_the_version_the_suite_runs():
    """The floors are what is tested: each direct requirement's ``>=`` is its pin in
    constraints.txt (raise both together), and requires-python is the one Python CI runs."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {
        canonicalize_name(m.group(1)): m.group(2)
        for m in re.finditer(
            r"^([A-Za-z0-9_.\-]+)==(\S+)", (ROOT / "constraints.txt").read_text(), re.M
        )
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    texts = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        texts += extra
    requirements = [Requirement(text) for text in texts]
    wrong = {
        str(r): pins.get(canonicalize_name(r.name))
        for r in requirements
        if r.name != "prefect-artifacts"
        and [s.version for s in r.specifier if s.operator == ">="]
        != [pins.get(canonicalize_name(r.name))]
    }
    assert wrong == {}, "lower bounds that are not the tested pins (requirement: pin)"
    assert project["requires-python"] == f">={sys.version_info.major}.{sys.version_info.minor}"


def test_s3_storage_without_s3fs_names_the_extra():
    script = (
        "import sys\n"
        "sys.modules['s3fs'] = None\n"  # as if the [s3] extra was not installed
        "from prefect_artifacts.core.storage import Storage\n"
        "try:\n"
        "    Storage.from_url('s3://bucket/prefix')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("StorageError cannot open artifact storage 's3://bucket/prefix'")
    assert "pip install 'prefect-artifacts[s3]'" in done.stdout
