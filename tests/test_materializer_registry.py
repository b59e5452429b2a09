"""Materializers: a declared contract checked at registration, discovery through the
``prefect_artifacts.materializers`` entry point, and stored names that survive a rename."""

from __future__ import annotations

import sys
import textwrap
from typing import Any, BinaryIO

import pytest

from prefect_artifacts import ArtifactContext, Materializer
from prefect_artifacts.core.materializers import ENTRY_POINT_GROUP, MaterializerRegistry, registry


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


class PointMaterializer(Materializer):
    name = "point"
    kind = "geometry"
    types = (Point,)
    formats = ("txt",)

    def save(self, prepared: Point, sink: BinaryIO, fmt: str) -> None:
        sink.write(f"{prepared.x},{prepared.y}".encode())

    def load(self, data: bytes, version: Any) -> Point:
        return Point(*map(int, data.decode().split(",")))


@pytest.fixture
def point_materializer():
    registry.register(PointMaterializer)
    yield
    registry.unregister(PointMaterializer)


def test_a_broken_materializer_is_refused_with_every_problem_named():
    class Broken(Materializer):
        kind = "Not A Kind"
        types = ()
        formats = ("Bad Format",)

        def load(self, data):  # one argument short
            return data

    with pytest.raises(TypeError) as caught:
        registry.register(Broken)
    message = str(caught.value)
    assert "does not keep the materializer contract" in message
    for problem in (
        "kind 'Not A Kind' must be a lowercase name",
        "types must list classes",
        "formats ('Bad Format',) must be lowercase names",
        "save() is not implemented",
        "load() must accept 2 positional arguments",
    ):
        assert problem in message
    with pytest.raises(TypeError, match="is not a Materializer"):
        registry.register(object)


def test_a_custom_kind_round_trips_and_is_a_filter(repo, point_materializer):
    version = ArtifactContext(repo).log_artifact("origin", Point(3, 4), format="txt")
    assert version.kind == "geometry" and version.materializer == "point"
    assert vars(repo.get("origin").load()) == {"x": 3, "y": 4}
    assert [v.key for v in repo.list(kind="geometry")] == ["origin"]
    assert [v.key for v in repo.list(kind="other")] == ["origin"]


def test_the_stored_name_survives_renaming_the_class(repo, point_materializer):
    ArtifactContext(repo).log_artifact("origin", Point(1, 2), format="txt")
    registry.unregister(PointMaterializer)

    class RenamedPointMaterializer(PointMaterializer):  # moved and renamed; same stored name
        name = "point"

    registry.register(RenamedPointMaterializer)
    try:
        assert vars(repo.get("origin").load()) == {"x": 1, "y": 2}
    finally:
        registry.unregister(RenamedPointMaterializer)


def test_release_0_1_names_still_load(repo):
    import pandas as pd

    version = ArtifactContext(repo).log_dataset("d", pd.DataFrame({"x": [1]}))
    assert version.materializer == "dataset"
    legacy = "prefect_artifacts.materializers.dataset.DatasetMaterializer"  # 0.1 stored this
    assert registry.by_name(legacy) is registry.by_name("dataset")
    assert version.model_copy(update={"materializer": legacy}).load()["x"].tolist() == [1]


def test_packages_register_materializers_through_an_entry_point(tmp_path, monkeypatch, repo):
    package = tmp_path / "pointplugin"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from prefect_artifacts import Materializer

            class Pair:
                def __init__(self, a, b):
                    self.a, self.b = a, b

            class PairMaterializer(Materializer):
                name = "pair"
                kind = "pair"
                types = ("pointplugin.Pair",)
                formats = ("txt",)

                def save(self, prepared, sink, fmt):
                    sink.write(f"{prepared.a}|{prepared.b}".encode())

                def load(self, data, version):
                    return Pair(*data.decode().split("|"))
            """
        )
    )
    dist = tmp_path / "pointplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pointplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\npair = pointplugin:PairMaterializer\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    fresh = MaterializerRegistry()  # plugins load on first use
    assert fresh.by_name("pair") is not None and fresh.kinds() == {"pair"}
    import pointplugin

    monkeypatch.setattr(registry, "_plugins", None)  # the shared registry rescans too
    try:
        version = ArtifactContext(repo).log_artifact("ab", pointplugin.Pair("a", "b"), format="txt")
        assert version.kind == "pair" and vars(version.load()) == {"a": "a", "b": "b"}
    finally:
        sys.modules.pop("pointplugin", None)
