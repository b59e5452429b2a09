"""Two repositories reporting to one Prefect server (issue 21): the same project, key and
version number in both, each moving a tag and setting labels — each run's card still describes
its own repository's version, and events name the repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

import prefect_artifacts as pa
from prefect_artifacts.core.catalog import Catalog
from prefect_artifacts.core.storage import Storage
from prefect_artifacts.prefect import registration
from prefect_artifacts.prefect.keys import prefect_key

pytestmark = pytest.mark.usefixtures("prefect_server")


def _repository(folder: Path) -> pa.Repository:
    return pa.Repository(
        Storage.from_url(str(folder / "store")),
        Catalog(f"sqlite:///{folder / 'catalog.db'}"),
        owner="tester",
    )


def _cards(key: str) -> list:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), limit=200
        )


def _row(card, name: str) -> str:
    return card.data.split(f"| {name} |")[1].split("\n")[0]


def test_each_repository_keeps_its_own_cards(tmp_path):
    first, second = _repository(tmp_path / "a"), _repository(tmp_path / "b")
    key = "shared-by-two-repositories"

    @flow
    def log_in_the_first() -> pa.ArtifactVersion:
        return pa.ArtifactContext(first).log_artifact(key, b"content of the first repository")

    @flow
    def log_in_the_second() -> pa.ArtifactVersion:
        return pa.ArtifactContext(second).log_artifact(key, b"content of the second repository")

    a, b = log_in_the_first(), log_in_the_second()
    assert (a.version, b.version) == (1, 1) and a.repository_id != b.repository_id

    @flow
    def change_the_second() -> None:
        second.tag(f"{key}:1", "prod")
        second.set_labels(f"{key}:1", {"team": "second-only"})

    change_the_second()
    pa.flush_registrations()

    cards = _cards(prefect_key("default", key))
    by_repository = {c.metadata_[registration.META_REPOSITORY]: c for c in cards}
    assert set(by_repository) == {a.repository_id, b.repository_id}
    card_a, card_b = by_repository[a.repository_id], by_repository[b.repository_id]
    assert card_a.metadata_[registration.META_UID] == a.uid
    assert "prod" not in _row(card_a, "tags") and "second-only" not in card_a.data
    assert a.hash[:12] in card_a.data and b.hash[:12] not in card_a.data
    assert "prod" in _row(card_b, "tags") and "second-only" in card_b.data
    assert registration.version_resource(b)["prefect-artifacts.repository"] == b.repository_id


def test_one_run_sweeping_the_same_key_in_two_repositories_makes_a_card_for_each(tmp_path):
    first, second = _repository(tmp_path / "a"), _repository(tmp_path / "b")
    key = "swept-in-two-repositories"

    @flow
    def sweep_both() -> None:
        for i in range(3):
            for repo in (first, second):
                pa.ArtifactContext(repo).log_model(
                    key, body=f"{repo.catalog.url} {i}".encode(), metrics={"auc": i}, iteration=i
                )

    sweep_both()
    pa.flush_registrations()
    cards = _cards(prefect_key("default", key))
    assert sorted(c.metadata_[registration.META_REPOSITORY] for c in cards) == sorted(
        [first.repository_id, second.repository_id]
    )
    assert all("3 iterations logged by this run" in c.data for c in cards)
