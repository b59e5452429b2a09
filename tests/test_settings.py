"""Zero-configuration default and PREFECT_ARTIFACTS_* settings."""

import json
from pathlib import Path

import pytest

import prefect_artifacts as pa
from prefect_artifacts.core.settings import ArtifactSettings


def test_embedded_default_lives_under_prefect_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    for name in ("STORAGE_URL", "CATALOG_URL", "PROJECT", "OWNER", "STORAGE_OPTIONS"):
        monkeypatch.delenv(f"PREFECT_ARTIFACTS_{name}", raising=False)
    settings = ArtifactSettings()
    assert settings.resolved_storage_url() == str(tmp_path / "home/artifacts/store")
    assert settings.resolved_catalog_url() == f"sqlite:///{tmp_path / 'home/artifacts/catalog.db'}"
    assert settings.project == "default" and settings.resolved_owner()
    v = pa.log_artifact("hello", "world")
    assert v.target_path.startswith(f"file://{tmp_path / 'home/artifacts/store'}")
    assert (tmp_path / "home/artifacts/catalog.db").is_file()
    assert pa.get_artifact("hello").load() == "world"


def test_settings_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_ARTIFACTS_STORAGE_URL", f"file://{tmp_path / 'elsewhere'}")
    monkeypatch.setenv("PREFECT_ARTIFACTS_STORAGE_OPTIONS", json.dumps({"auto_mkdir": True}))
    monkeypatch.setenv("PREFECT_ARTIFACTS_CATALOG_URL", f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("PREFECT_ARTIFACTS_PROJECT", "research")
    monkeypatch.setenv("PREFECT_ARTIFACTS_OWNER", "ada")
    v = pa.log_artifact("x", b"1")
    assert v.project == "research" and v.owner == "ada"
    assert Path(v.target_path.removeprefix("file://")).is_relative_to(tmp_path / "elsewhere")
    assert pa.get_artifact("research/x").version == 1
    assert [a.key for a in pa.list_artifacts()] == ["x"]


def test_module_level_api_matches_context(env_repo):
    import pandas as pd

    pa.log_dataset("d", pd.DataFrame({"a": [1, 2]}), labels={"k": "v"})
    pa.log_model("m", body=b"bytes", metrics={"auc": 0.7})
    pa.log_plot("p", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    pa.log_artifact("g", {"a": 1})
    assert {v.kind for v in pa.list_artifacts()} == {"dataset", "model", "plot", "artifact"}
    pa.tag_artifact("d:1", "prod")
    assert pa.get_artifact("d@prod").labels == {"k": "v"}
    assert pa.set_labels("d", {"k": "w"}).labels == {"k": "w"}
    assert pa.untag_artifact("d@prod") == 1
    assert pa.delete_artifact("g") == [1]
    assert pa.log_dataset.__doc__ and "log_dataset" in pa.log_dataset.__name__


def test_bad_storage_and_catalog_urls_say_what_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_ARTIFACTS_STORAGE_URL", "nosuchproto://bucket/x")
    with pytest.raises(pa.StorageError, match="PREFECT_ARTIFACTS_STORAGE_URL"):
        pa.get_repository()
    monkeypatch.setenv("PREFECT_ARTIFACTS_STORAGE_URL", str(tmp_path))
    monkeypatch.setenv("PREFECT_ARTIFACTS_CATALOG_URL", "mysql://x/y")
    with pytest.raises(pa.CatalogError, match="only sqlite"):
        pa.get_repository()
    monkeypatch.setenv(
        "PREFECT_ARTIFACTS_CATALOG_URL", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    )
    monkeypatch.setenv("PREFECT_ARTIFACTS_CATALOG_RETRY_SECONDS", "0.5")
    with pytest.raises(pa.CatalogError, match="PREFECT_ARTIFACTS_CATALOG_URL"):
        pa.log_artifact("x", b"1")


def test_a_bad_setting_names_its_variable(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from prefect_artifacts.cli import app

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setenv("PREFECT_ARTIFACTS_FSYNC", "sometimes")
    with pytest.raises(pa.InvalidArgumentError, match="PREFECT_ARTIFACTS_FSYNC='sometimes'"):
        pa.list_artifacts()
    result = CliRunner().invoke(app, ["ls"])
    assert result.exit_code == 2 and "PREFECT_ARTIFACTS_FSYNC" in result.stderr
    monkeypatch.delenv("PREFECT_ARTIFACTS_FSYNC")
    monkeypatch.setenv("PREFECT_ARTIFACTS_STORAGE_OPTIONS", "{not json")
    with pytest.raises(pa.InvalidArgumentError, match=r"PREFECT_ARTIFACTS_STORAGE_OPTIONS.*JSON"):
        pa.list_artifacts()
