"""The Prefect edge against a real Prefect server: registration is exact (events relate to their
own run, fan-in never loses the event), keys map one-to-one, user values render as text, cards
follow tag moves and deletes, blocks never mix two repositories, consumption shows in Prefect,
and artifacts line up with Prefect's assets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

import prefect_artifacts as pa
from prefect_artifacts.core.keys import KEY_MAX
from prefect_artifacts.prefect import assets, cards, registration
from prefect_artifacts.prefect.keys import prefect_key, preview_key
from tests.conftest import examples

pytestmark = pytest.mark.usefixtures("prefect_server")
HOSTILE = "**bold** [link](http://evil.example) <b>x</b> `code` _u_ # h | pipe \\ www.evil.com"


def prefect_artifacts(key: str) -> list:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), limit=200
        )


def events(name: str, resource: str, *, count: int = 1, timeout: float = 90) -> list:
    """Events of ``name`` about ``resource``, waiting until ``count`` arrived."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_events(
                filter=EventFilter(
                    event=EventNameFilter(name=[name]), resource=EventResourceFilter(id=[resource])
                ),
                limit=50,
            )
            if len(page.events) >= count or time.monotonic() > deadline:
                return page.events
            time.sleep(0.3)


def related_ids(event) -> set[str]:
    return {r.id for r in event.related}


# -- registration is exact ----------------------------------------------------------------------
def test_events_relate_only_to_their_own_run(env_repo):
    @task
    def make(name: str):
        return pa.log_artifact(name, name.encode())

    @flow(name="first-flow")
    def first():
        return make("made-by-first")

    @flow(name="second-flow")
    def second():
        return make("made-by-second")

    a, b = first(return_state=True), second(return_state=True)
    pa.flush_registrations()
    for state, key in ((a, "made-by-first"), (b, "made-by-second")):
        version = state.result()
        (event,) = events(registration.LOGGED, f"prefect-artifacts.artifact.default.{key}.1")
        ids = related_ids(event)
        run = version.producer
        assert ids == {
            f"prefect.flow-run.{run.flow_run_id}",
            f"prefect.task-run.{run.task_run_id}",
            f"prefect.flow.{run.flow_id}",
        }, ids
        assert str(state.state_details.flow_run_id) == run.flow_run_id


def test_a_110_way_fan_in_keeps_its_event_and_lists_each_upstream_once(env_repo):
    """More upstream assets than an event may relate (100): the event keeps what fits."""

    @task
    def shard(i: int):
        return pa.log_artifact(f"shard-{i}", f"part {i}".encode())

    @task
    def combine(parts):
        for part in parts:  # each consumed twice: listed once
            pa.get_artifact(part.ref).load()
            pa.get_artifact(part.ref).load()
        return pa.log_artifact("combined", b"all of them")

    @flow
    def fan_in():
        return combine([shard(i) for i in range(110)])

    fan_in()
    pa.flush_registrations()
    asset = assets.asset_key(env_repo, "default", "combined")
    (event,) = events("prefect.asset.materialization.succeeded", asset, timeout=60)
    roles = [r.role for r in event.related]
    upstream = [r.id for r in event.related if r.role == "asset"]
    assert len(event.related) <= 100 and len(upstream) == len(set(upstream))
    assert roles.count("flow-run") == 1 and roles.count("task-run") == 1
    assert event.payload["upstream_assets"] == 110
    assert event.payload["upstream_assets_listed"] == len(upstream) >= 90


# -- keys ---------------------------------------------------------------------------------------
KEYS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True)
PROJECTS = st.one_of(
    st.just("default"), st.from_regex(r"[a-z0-9][a-z0-9._-]{0,12}", fullmatch=True)
)


@settings(max_examples=examples(3000), deadline=None)
@given(st.lists(st.tuples(PROJECTS, KEYS), min_size=2, max_size=40, unique=True))
def test_the_prefect_key_mapping_is_one_to_one(pairs):
    mapped = [prefect_key(p, k) for p, k in pairs] + [preview_key(p, k) for p, k in pairs]
    assert len(set(mapped)) == len(mapped)
    import re

    assert all(re.fullmatch(r"[a-z0-9-]+", m) and len(m) <= 110 for m in mapped)


def test_prefect_keys_are_readable_and_disambiguated_only_where_needed():
    assert prefect_key("default", "churn-model") == "churn-model"
    collisions = {prefect_key("default", k) for k in ("my_data", "my.data", "My-Data", "my-data")}
    assert len(collisions) == 4 and "my-data" in collisions
    assert all(k.startswith("my-data") for k in collisions)
    assert prefect_key("a-b", "c") != prefect_key("a", "b-c")
    assert prefect_key("default", "x") + "--preview" == preview_key("default", "x")
    assert prefect_key("default", "y" * KEY_MAX).startswith("y" * 80)


# -- escaping -------------------------------------------------------------------------------------
def test_user_values_are_literal_text_in_cards_and_previews(env_repo):
    @task
    def hostile():
        return pa.log_dataset(
            "hostile",
            pd.DataFrame({HOSTILE: [HOSTILE, "plain"], "n": [1, 2]}),
            labels={"note": HOSTILE[:200]},
            description=HOSTILE,
        )

    @flow
    def run():
        return hostile()

    run()  # the preview inside the card (the default, preview_cards="inline")
    pa.flush_registrations()  # sent before the setting changes (a card is made when it is sent)
    env_repo.settings = env_repo.settings.model_copy(update={"preview_cards": "separate"})
    run()  # the same content: a second card, and a separate preview (markdown: hostile cells)
    pa.flush_registrations()
    inline, card = sorted(prefect_artifacts(prefect_key("default", "hostile")), key=created)
    (table,) = prefect_artifacts(preview_key("default", "hostile"))
    assert table.type == "markdown" and "### Preview" not in card.data
    preview = "### Preview" + inline.data.split("### Preview")[1]
    for markdown in (inline.data.split("**Location**")[0], preview, card.data, table.data):
        outside_code = re.sub(r"(`+).*?\1", "", markdown.split("**Location**")[0])
        for raw in ("**bold**", "[link]", "http://evil", "<b>", "_u_", "www.evil"):
            assert raw not in outside_code, (raw, markdown[:300])
    assert cards.text(HOSTILE, 500, cell=False) in card.data  # one literal code span
    for markdown in (preview, table.data):
        assert cards.text(HOSTILE, 40) in markdown and "| 1 |" in markdown


def created(artifact):
    return artifact.created


# -- cards follow tags and deletes -----------------------------------------------------------------
def test_cards_follow_tag_moves_and_deletes(env_repo):
    @task
    def make(i: int):
        return pa.log_artifact("tagged", f"content {i}".encode(), tag="prod" if i == 1 else None)

    @flow
    def two():
        make(1)
        make(2)

    two()
    pa.flush_registrations()

    def card_of(number: int):
        found = [
            a
            for a in prefect_artifacts(prefect_key("default", "tagged"))
            if a.metadata_ and a.metadata_.get(registration.META_REF) == f"default/tagged:{number}"
        ]
        return found[0] if found else None

    assert "prod" in card_of(1).data.split("| tags |")[1].split("\n")[0]

    @flow
    def promote():
        pa.tag_artifact("tagged:2", "prod")

    promote()
    pa.flush_registrations()
    assert "prod" not in card_of(1).data.split("| tags |")[1].split("\n")[0]
    assert "prod" in card_of(2).data.split("| tags |")[1].split("\n")[0]
    moved = events(registration.TAG_MOVED, "prefect-artifacts.artifact.default.tagged.2")
    assert moved and moved[0].payload == {"tag": "prod", "version": 2, "previous": 1}

    @flow
    def drop():
        pa.delete_artifact("tagged:1")

    drop()
    pa.flush_registrations()
    assert card_of(1) is None and card_of(2) is not None


def test_an_identical_relog_names_the_run_that_relogged(env_repo):
    @task
    def make():
        return pa.log_artifact("same", b"identical")

    @flow(name="relogger")
    def again():
        return make()

    first, second = again(), again()
    assert first.version == second.version == 1
    pa.flush_registrations()
    found = prefect_artifacts(prefect_key("default", "same"))
    assert len(found) == 2
    latest = max(found, key=lambda a: a.created)
    second_run = max(second.producers(), key=lambda r: r.at)
    assert str(latest.task_run_id) == second_run.task_run_id
    assert "first logged" in latest.data


# -- flush ------------------------------------------------------------------------------------------
def test_flush_with_nothing_pending_returns_at_once():
    """Nothing to wait for: no registrar thread is started and no Prefect client is loaded (a
    structural check; the subprocess timeout only guards against a hang)."""
    probe = (
        "import sys\n"
        "import prefect_artifacts as pa\n"
        "from prefect_artifacts.prefect import registration\n"
        "pa.flush_registrations()\n"
        "print(registration._registrar._thread is None, 'prefect.client' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], timeout=120, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"], result.stdout + result.stderr


def test_a_script_that_ends_right_after_its_flow_loses_nothing(tmp_path):
    from prefect.settings import PREFECT_API_URL

    script = """
import prefect_artifacts as pa
from prefect import flow

@flow(name="ends-at-once")
def quick():
    pa.log_artifact("last-words", b"sent at exit")

quick()
"""
    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "PREFECT_ARTIFACTS_STORAGE_URL": str(tmp_path / "store"),
        "PREFECT_ARTIFACTS_CATALOG_URL": f"sqlite:///{tmp_path / 'c.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, timeout=120, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "can't register atexit" not in result.stderr and "Traceback" not in result.stderr
    assert prefect_artifacts("last-words"), "the card sent at exit did not arrive"
    assert events(registration.LOGGED, "prefect-artifacts.artifact.default.last-words.1")


# -- blocks -------------------------------------------------------------------------------------------
def test_a_block_with_only_local_storage_keeps_its_own_catalog(tmp_path, monkeypatch):
    from prefect.filesystems import LocalFileSystem

    block = pa.ArtifactRepository(storage=LocalFileSystem(basepath=str(tmp_path / "store")))
    block.save("storage-only", overwrite=True)
    repo = pa.get_repository("storage-only")
    assert repo.catalog.url == f"sqlite:///{(tmp_path / 'store' / 'catalog.db').resolve()}"
    version = pa.get_context(repository=repo).log_artifact("only-in-block", b"here")
    with pytest.raises(LookupError):
        pa.get_repository().get("only-in-block")  # nothing leaks into the default catalog
    assert repo.get("only-in-block").load() == b"here" and version.version == 1


def test_a_block_with_object_storage_and_no_catalog_is_refused(s3_storage):
    from prefect.filesystems import RemoteFileSystem

    url, options = s3_storage
    block = pa.ArtifactRepository(storage=RemoteFileSystem(basepath=url, settings=options))
    with pytest.raises(pa.InvalidArgumentError, match="set catalog_url"):
        block.settings()
    with pytest.raises(pa.InvalidArgumentError, match="set catalog_url"):
        block.save("no-catalog", overwrite=True)  # refused at save, not first at load
    with pytest.raises(ValueError, match="Unable to find block document named no-catalog"):
        pa.ArtifactRepository.load("no-catalog")


def test_a_prefect_aws_s3_bucket_is_storage(s3_storage, tmp_path):
    from prefect_aws import AwsCredentials, S3Bucket
    from prefect_aws.client_parameters import AwsClientParameters

    url, options = s3_storage
    bucket_name = url.removeprefix("s3://").split("/")[0]
    credentials = AwsCredentials(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(
            endpoint_url=options["client_kwargs"]["endpoint_url"]
        ),
    )
    block = pa.ArtifactRepository(
        storage=S3Bucket(
            bucket_name=bucket_name, bucket_folder="aws-block", credentials=credentials
        ),
        catalog_url=f"sqlite:///{tmp_path / 'c.db'}",
    )
    repo = pa.get_repository(block)
    version = pa.get_context(repository=repo).log_dataset("via-s3bucket", pd.DataFrame({"x": [1]}))
    assert version.target_path.startswith(f"s3://{bucket_name}/aws-block/blobs/sha256/")
    assert repo.get("via-s3bucket").load()["x"].tolist() == [1]


# -- consumption and assets ---------------------------------------------------------------------------
def run_logs(flow_run_id, *expected: str) -> str:
    """The log lines Prefect stored for a flow run (its task runs included), once every
    ``expected`` text is among them (or after 30 s: log batches arrive late under load)."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
            text = "\n".join(log.message for log in logs)
            if all(e in text for e in expected) or time.monotonic() > deadline:
                return text
            time.sleep(0.3)


@pytest.fixture
def task_run_info_logs():
    """Task-run loggers at INFO for one test. ``setLevel`` (not assigning ``level``) clears
    logging's per-logger ``isEnabledFor`` cache, which an earlier test in the same process may
    have filled with "INFO is off"."""
    import logging

    logger = logging.getLogger("prefect.task_runs")
    before = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(before)


def test_consumption_shows_in_the_run_logs_and_as_asset_references(env_repo, task_run_info_logs):
    pa.log_artifact("input-data", b"in")

    @pa.artifact_task(key="output-data")
    def use(data: bytes) -> bytes:
        return data + b" out"

    @flow(name="consumer-flow")
    def consume():
        return use(pa.ArtifactRef("input-data"))

    state = consume(return_state=True)
    pa.flush_registrations()
    loaded = "loaded artifact default/input-data:1"
    logged = "logged artifact default/output-data:1 (new version)"
    logs = run_logs(state.state_details.flow_run_id, loaded, logged)
    assert loaded in logs, logs
    assert logged in logs, logs
    referenced = events(
        "prefect.asset.referenced", assets.asset_key(env_repo, "default", "input-data")
    )
    assert referenced and any(r.role == "task-run" for r in referenced[0].related)
    (producer,) = pa.get_artifact("output-data").producers()
    assert producer.link and producer.link.endswith(f"/runs/task-run/{producer.task_run_id}")


def test_a_materialize_task_sees_an_artifact_as_upstream(env_repo):
    from prefect.assets import Asset, materialize

    report = Asset(key="file:///reports/churn-summary")

    @pa.artifact_task(key="asset-features")
    def features() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2]})

    @materialize(report)
    def summarize(df: pd.DataFrame) -> int:
        return len(df)

    @flow
    def pipeline():
        summarize(features())

    pipeline()

    @materialize("file:///reports/other", asset_deps=[pa.asset("asset-features")])
    def other() -> int:
        return 1

    flow(other)()
    ours = assets.asset_key(env_repo, "default", "asset-features")
    for downstream in (report.key, "file:///reports/other"):
        (event,) = events("prefect.asset.materialization.succeeded", downstream)
        assert ours in {r.id for r in event.related if r.role == "asset"}, downstream
    asset = pa.asset("asset-features")
    assert asset.properties.name == "asset-features" and asset.properties.owners == ["tester"]


def test_an_asset_dep_can_name_a_key_not_logged_yet(env_repo):
    """``@materialize(..., asset_deps=[pa.asset("k@prod")])`` is evaluated when the module is
    imported, before the first run has logged ``k``."""
    early = pa.asset("later-features@prod")
    assert early.key == assets.asset_key(env_repo, "default", "later-features")
    assert early.properties.name == "later-features"
    pa.log_dataset("later-features", pd.DataFrame({"x": [1]}), tag="prod")
    assert pa.asset("later-features@prod").key == early.key
    with pytest.raises(pa.InvalidKeyError):
        pa.asset("../bad")
