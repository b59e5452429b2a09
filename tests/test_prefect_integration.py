"""Lineage, Prefect UI registration, the repository block and the artifact-aware cache policy,
against a real Prefect server."""

import importlib.metadata
import logging
import time

import numpy as np
import pandas as pd
import pytest
from prefect import flow, task
from prefect.cache_policies import TASK_SOURCE
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.filesystems import LocalFileSystem, RemoteFileSystem

import prefect_artifacts as pa
from prefect_artifacts.core.events import VersionLogged
from prefect_artifacts.prefect import assets as pa_assets
from prefect_artifacts.prefect import registration
from prefect_artifacts.prefect.keys import prefect_key, preview_key

pytestmark = pytest.mark.usefixtures("prefect_server")


def frame(n: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "y": rng.integers(0, 2, n)})


@pa.artifact_task(key="raw")
def ingest(seed: int) -> pd.DataFrame:
    return frame(30, seed)


@pa.artifact_task(key="features")
def featurize(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.assign(x2=raw["x"] ** 2)


@pa.artifact_task(key="model")
def train(features: pd.DataFrame):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(features[["x", "x2"]], features["y"])
    return pa.Model(model, metrics={"accuracy": 0.5})


@flow(name="lineage-train")
def train_flow(seed: int = 1):
    raw = ingest(seed, return_state=True)
    feats = featurize(raw.result(), return_state=True)
    model = train(feats.result(), return_state=True)
    return {
        name: str(state.state_details.task_run_id)
        for name, state in (("ingest", raw), ("featurize", feats), ("train", model))
    }


@pa.artifact_task(key="scores", capture=True)
def score(features: pd.DataFrame, model) -> pd.DataFrame:
    return features.assign(p=model.predict_proba(features[["x", "x2"]])[:, 1])


@flow(name="lineage-reuse")
def reuse_flow():
    model = pa.get_artifact("model").load()  # consumed by the flow run itself
    state = score(pa.ArtifactRef("features:latest"), model, return_state=True)
    state.result()
    return str(state.state_details.task_run_id)


def test_producer_and_consumer_lineage_match_real_run_ids(env_repo):
    state = train_flow(return_state=True)
    runs = state.result()
    flow_run_id = str(state.state_details.flow_run_id)
    raw, feats, model = (pa.get_artifact(k) for k in ("raw", "features", "model"))
    assert raw.producer.task_run_id == runs["ingest"] and raw.producer.flow_run_id == flow_run_id
    assert feats.producer.task_run_id == runs["featurize"]
    # featurize received ingest's result: raw is an input of featurize's task run
    assert [c.task_run_id for c in raw.consumers()] == [runs["featurize"]]
    assert [c.task_run_id for c in feats.consumers()] == [runs["train"]]

    reuse_state = reuse_flow(return_state=True)
    score_run = reuse_state.result()
    reuse_run = str(reuse_state.state_details.flow_run_id)
    consumers = model.consumers()
    assert [(c.flow_run_id, c.task_run_id) for c in consumers] == [(reuse_run, None)]
    assert score_run in {c.task_run_id for c in feats.consumers()}

    up = pa.lineage("scores", direction="up", depth=5)
    assert set(up.artifacts()) >= {"default/scores:1", "default/features:1", "default/raw:1"}
    assert any(
        e.source == f"task-run/{runs['ingest']}" and e.target == "default/raw:1" for e in up.edges
    )
    down = pa.lineage("raw", direction="down", depth=5)
    assert {"default/features:1", "default/model:1", "default/scores:1"} <= set(down.artifacts())
    shallow = pa.lineage("raw", direction="down", depth=1)
    assert set(shallow.artifacts()) == {"default/raw:1", "default/features:1"}
    with pytest.raises(ValueError):
        pa.lineage("raw", direction="sideways")


def test_identical_relog_in_a_new_run_records_the_run(env_repo):
    train_flow()
    train_flow()  # same seed: same content
    raw = pa.get_artifact("raw")
    assert raw.version == 1 and len(raw.producers()) == 2
    assert len({p.flow_run_id for p in raw.producers()}) == 2


def read_prefect_artifacts(key: str):
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )


def test_versions_are_registered_on_the_task_run(env_repo):
    state = train_flow(return_state=True, seed=5)
    runs = state.result()
    pa.flush_registrations()
    cards = read_prefect_artifacts(prefect_key("default", "raw"))
    card = next(c for c in cards if str(c.task_run_id) == runs["ingest"])
    assert card.type == "markdown" and str(card.flow_run_id) == str(state.state_details.flow_run_id)
    raw = pa.get_artifact("raw")
    assert f"version {raw.version}" in card.data and raw.hash in card.data
    assert "**Columns**" in card.data and raw.target_path in card.data
    preview = card.data.split("### Preview")[1]  # inside the card (preview_cards="inline")
    rows = [line for line in preview.splitlines() if line.startswith("| ")]
    assert len(rows) == 21 and rows[0] == "| `x` | `y` |"  # header + 20 rows
    assert read_prefect_artifacts(preview_key("default", "raw")) == []
    model_card = next(
        c for c in read_prefect_artifacts("model") if str(c.task_run_id) == runs["train"]
    )
    assert "**Metrics**" in model_card.data and "accuracy" in model_card.data


def test_plot_cards_embed_a_thumbnail(env_repo):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    @task
    def draw():
        fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
        ax.plot([1, 3, 2])
        version = pa.log_plot("line-plot", fig)
        plt.close(fig)
        return version

    @flow
    def plots():
        return draw()

    version = plots()
    pa.flush_registrations()
    card = read_prefect_artifacts("line-plot")[0]
    assert "data:image/png;base64," in card.data
    assert len(card.data) < 200_000  # a thumbnail, not the full figure
    assert version.width == 800


def test_logged_event_and_asset_materialization_are_emitted(env_repo):
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    state = train_flow(return_state=True, seed=9)
    runs = state.result()
    pa.flush_registrations()
    resource = "prefect-artifacts.artifact.default.raw.1"
    features_asset = pa_assets.asset_key(env_repo, "default", "features")
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_events(
                filter=EventFilter(
                    event=EventNameFilter(name=[registration.LOGGED]),
                    resource=EventResourceFilter(id=[resource]),
                ),
                limit=50,
            )
            assets = client.read_events(
                filter=EventFilter(
                    event=EventNameFilter(name=["prefect.asset.materialization.succeeded"]),
                    resource=EventResourceFilter(id=[features_asset]),
                ),
                limit=50,
            )
            ours = [  # raw:1 of earlier tests' repositories is on the same server
                e for e in page.events if f"prefect.task-run.{runs['ingest']}" in related_ids(e)
            ]
            if (ours and assets.events) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert ours, "no prefect-artifacts.artifact.logged event arrived"
    event = ours[0]
    related = {r.id for r in event.related}
    assert f"prefect.task-run.{runs['ingest']}" in related
    assert f"prefect.flow-run.{state.state_details.flow_run_id}" in related
    assert assets.events, "no asset materialization event arrived"
    features_event = assets.events[0]
    assert pa_assets.asset_key(env_repo, "default", "raw") in {r.id for r in features_event.related}


def related_ids(event) -> set[str]:
    return {r.id for r in event.related}


def test_registration_outage_loses_nothing(env_repo, caplog):
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    @task
    def log_it():
        from prefect_artifacts.prefect.runtime import current_run

        return pa.log_artifact("survivor", b"still here"), current_run()

    @flow
    def pipeline():
        return log_it()

    env_repo.settings = env_repo.settings.model_copy(update={"registration": "off"})
    version, run = pipeline()
    caplog.set_level(logging.WARNING, logger="prefect_artifacts.prefect.registration")
    with temporary_settings(
        {PREFECT_API_URL: "http://127.0.0.1:9/api", PREFECT_CLIENT_MAX_RETRIES: 0}
    ):
        env_repo.settings = env_repo.settings.model_copy(update={"registration": "sync"})
        registration.on_event(VersionLogged(env_repo, version, run, True))
    assert "Prefect's UI could not be updated" in caplog.text and "survivor" in caplog.text
    assert pa.get_artifact("survivor").load() == b"still here"


def test_repository_block_saved_and_loaded_by_name(tmp_path, monkeypatch):
    from prefect_artifacts import ArtifactRepository

    block = ArtifactRepository(
        storage=LocalFileSystem(basepath=str(tmp_path / "block-store")),
        catalog_url=f"sqlite:///{tmp_path / 'block.db'}",
        project="blocky",
    )
    block.save("test-repo", overwrite=True)
    loaded = ArtifactRepository.load("test-repo")
    assert loaded.project == "blocky" and loaded.catalog_url.get_secret_value().endswith("block.db")

    monkeypatch.setenv("PREFECT_ARTIFACTS_REPOSITORY", "test-repo")
    version = pa.log_artifact("via-setting", b"1")
    assert version.project == "blocky"
    assert version.target_path.startswith(f"file://{tmp_path / 'block-store'}")
    monkeypatch.delenv("PREFECT_ARTIFACTS_REPOSITORY")

    @pa.artifact_task(key="via-task", repository="test-repo")
    def produce():
        return "hello"

    @flow
    def pipeline():
        return produce()

    pipeline()
    assert pa.get_repository("test-repo").get("via-task").load() == "hello"
    assert pa.get_context(repository=loaded).get_artifact("via-setting").version == 1
    with pytest.raises(LookupError, match="no saved ArtifactRepository"):
        pa.get_repository("no-such-block")


def test_block_keeps_credentials_secret(s3_storage, tmp_path):
    from prefect_artifacts import ArtifactRepository

    url, options = s3_storage
    block = ArtifactRepository(
        storage=RemoteFileSystem(basepath=url, settings=options),
        catalog_url=f"sqlite:///{tmp_path / 's3.db'}",
    )
    block.save("s3-repo", overwrite=True)
    repo = pa.get_repository("s3-repo")
    version = pa.get_context(repository=repo).log_model("m", body=b"weights", metrics={"a": 1.0})
    manifest = repo.storage.fs.cat_file(repo.storage.manifest_path("default", "m", 1)).decode()
    assert "testing" not in manifest and "endpoint_url" not in manifest
    from prefect_artifacts.prefect.cards import card

    assert "testing" not in card(version)
    secret_block = ArtifactRepository(storage_url=url, storage_options=options)
    assert "testing" not in repr(secret_block) and "testing" not in str(secret_block.model_dump())


def test_block_is_a_prefect_collection():
    names = {ep.name for ep in importlib.metadata.entry_points(group="prefect.collections")}
    assert "prefect_artifacts" in names
    from prefect.blocks.core import Block
    from prefect.plugins import load_prefect_collections

    load_prefect_collections()
    assert Block.get_block_class_from_key("artifact-repository").__name__ == "ArtifactRepository"


def test_artifact_inputs_cache_reruns_only_when_content_changes(env_repo, tmp_path):
    runs = tmp_path / "runs"

    @pa.artifact_task(
        capture=False, cache_policy=pa.ARTIFACT_INPUTS + TASK_SOURCE, persist_result=True
    )
    def summarize(weights) -> str:
        runs.write_text(str(int(runs.read_text()) + 1) if runs.exists() else "1")
        return f"summary of {weights!r}"

    @flow
    def pipeline():
        return summarize(pa.ArtifactRef("weights@prod"))

    ctx = pa.get_context()
    ctx.log_model("weights", body=b"w1", metrics={"auc": 0.5}, tag="prod")
    assert pipeline() == "summary of b'w1'" and runs.read_text() == "1"
    assert pipeline() == "summary of b'w1'" and runs.read_text() == "1"  # cache hit
    # a new version with identical bytes (only the metrics differ): still a cache hit
    v2 = ctx.log_model("weights", body=b"w1", metrics={"auc": 0.6}, tag="prod")
    assert v2.version == 2
    assert pipeline() == "summary of b'w1'" and runs.read_text() == "1"
    ctx.log_model("weights", body=b"w2", metrics={"auc": 0.7}, tag="prod")
    assert pipeline() == "summary of b'w2'" and runs.read_text() == "2"  # content changed


def test_artifact_ref_is_visible_in_task_parameters(env_repo):
    pa.log_artifact("config", {"alpha": 1})

    @pa.artifact_task(capture=False)
    def use(config) -> int:
        return config["alpha"]

    @flow
    def pipeline():
        return use(pa.ArtifactRef("config"), return_state=True)

    state = pipeline()
    assert state.result() == 1
    with get_client(sync_client=True) as client:
        task_run = client.read_task_run(state.state_details.task_run_id)
    assert "config" in task_run.task_inputs
    assert repr(pa.ArtifactRef("config@prod")) == "ArtifactRef('config@prod')"
    with pytest.raises(ValueError):
        pa.ArtifactRef("../bad")


def test_a_completed_flow_run_shows_its_cards(env_repo, monkeypatch):
    """``flow()`` returns with the card of every version its run logged registered — tasks
    called directly, a mapped task, a subflow — with no flush: the run's end sends what is
    waiting (batched), from the registrar's own client, not the run's."""
    monkeypatch.setattr(registration, "GATHER", 600)  # nothing is sent before the run ends

    @pa.artifact_task(key="chunk-{parameters[i]}")
    def chunk(i: int) -> pd.DataFrame:
        return frame(50, seed=i)

    @flow
    def part(i: int) -> str:
        return str(chunk(i, return_state=True).state_details.task_run_id)

    @flow
    def many() -> list[str]:
        direct = [str(chunk(i, return_state=True).state_details.task_run_id) for i in range(3)]
        mapped = chunk.map(range(3, 12))
        mapped.wait()
        return [*direct, *(str(f.task_run_id) for f in mapped), part(12)]

    @flow
    def nothing_logged() -> int:
        return 1

    task_runs = many()  # no flush_registrations() from here on
    assert len(task_runs) == 13
    with get_client(sync_client=True) as client:
        cards = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[f"chunk-{i}" for i in range(13)])
            )
        )
    assert sorted(str(c.task_run_id) for c in cards) == sorted(task_runs)
    assert registration._registrar._runs == set()  # every run's jobs were sent at its end
    assert registration.send_prefect_artifacts_cards in many.on_completion_hooks
    assert nothing_logged() == 1
    assert registration.send_prefect_artifacts_cards not in nothing_logged.on_completion_hooks
