"""Backend contracts (as Dagster's storage test classes): one class per contract, run on every
backend by a subclass that only says how to make one. ``StorageContract`` runs on local files,
fsspec's memory filesystem and S3 (moto's server, through s3fs); ``CatalogContract`` on SQLite and
PostgreSQL, including the schema the migrations build, compared with ``tests/schemas/*.sql``."""

from __future__ import annotations

import difflib
import hashlib
import pickle
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from prefect_artifacts import ArtifactContext, IntegrityError, Repository
from prefect_artifacts.core.catalog import Catalog, migrate
from prefect_artifacts.core.storage import Storage, WriteCancelled
from tests.schemas.dump import HERE as SCHEMAS
from tests.schemas.dump import dump

DATA = b"contract bytes " * 1000
DIGEST = hashlib.sha256(DATA).hexdigest()


class StorageContract:
    """What the repository relies on from any storage."""

    @pytest.fixture
    def storage(self) -> Storage:
        raise NotImplementedError

    def test_a_blob_is_stored_at_its_content_address_once(self, storage):
        blob = storage.write_blob(lambda sink: sink.write(DATA))
        again = storage.write_blob(lambda sink: [sink.write(DATA[:7]), sink.write(DATA[7:])])
        assert (blob.hash, blob.size) == (again.hash, again.size) == (DIGEST, len(DATA))
        assert storage.blob_exists(DIGEST)
        assert [digest for digest, _ in storage.iter_blobs()] == [DIGEST]
        assert storage.hash_of_url(storage.blob_url(DIGEST)) == DIGEST

    def test_reads_return_the_bytes_and_catch_corruption(self, storage):
        storage.write_blob(lambda sink: sink.write(DATA))
        assert storage.read_blob(DIGEST) == DATA
        with storage.open_blob(DIGEST) as reader:
            assert reader.read() == DATA
        storage.fs.pipe_file(storage.blob_path(DIGEST), DATA[:-1] + b"!")
        storage.verified.forget(DIGEST)
        with pytest.raises(IntegrityError):
            storage.read_blob(DIGEST)
        with pytest.raises(IntegrityError), storage.open_blob(DIGEST) as reader:
            reader.read()

    def test_a_download_is_whole_or_absent(self, storage, tmp_path):
        storage.write_blob(lambda sink: sink.write(DATA))
        target = storage.download_blob(DIGEST, tmp_path / "out" / "data.bin")
        assert target.read_bytes() == DATA
        storage.fs.pipe_file(storage.blob_path(DIGEST), b"x" * len(DATA))
        with pytest.raises(IntegrityError):
            storage.download_blob(DIGEST, tmp_path / "out" / "bad.bin")
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["data.bin"]

    def test_a_failed_or_cancelled_write_leaves_no_blob(self, storage):
        def fail(sink):
            sink.write(DATA)
            raise RuntimeError("materializer failed")

        with pytest.raises(RuntimeError, match="materializer failed"):
            storage.write_blob(fail)
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(WriteCancelled):
            storage.write_blob(lambda sink: sink.write(DATA), cancel)
        assert list(storage.iter_blobs()) == []
        assert not storage.blob_exists(DIGEST)

    def test_a_missing_blob_is_not_found(self, storage):
        with pytest.raises(FileNotFoundError):
            storage.read_blob(DIGEST)
        assert not storage.blob_exists(DIGEST)

    def test_delete_removes_a_blob_and_tolerates_a_missing_one(self, storage):
        storage.write_blob(lambda sink: sink.write(DATA))
        storage.delete_blob(DIGEST)
        storage.delete_blob(DIGEST)
        assert list(storage.iter_blobs()) == []

    def test_iter_blobs_gives_aware_modification_times(self, storage):
        before = datetime.now(UTC) - timedelta(minutes=5)
        storage.write_blob(lambda sink: sink.write(DATA))
        [(digest, modified)] = list(storage.iter_blobs())
        assert digest == DIGEST and modified is not None and modified.tzinfo is not None
        assert before <= modified <= datetime.now(UTC) + timedelta(minutes=5)

    def test_json_documents_round_trip_and_list(self, storage):
        document = {"key": "k", "labels": {"note": "héllo wörld"}, "n": [1, 2.5, None]}
        path = storage.manifest_path("default", "k", 1)
        storage.write_json(path, document)
        storage.write_json(storage.manifest_path("default", "k", 2), {"v": 2})
        assert storage.read_json(path) == document
        found = storage.find("manifests")
        assert len(found) == 2 and all(f.endswith(".json") for f in found)
        storage.delete(path)
        storage.delete(path)  # already gone: not an error
        assert len(storage.find("manifests")) == 1

    def test_a_document_that_is_not_json_is_a_value_error(self, storage):
        path = storage.manifest_path("default", "k", 1)
        storage.fs.pipe_file(path, b"{not json")
        with pytest.raises(ValueError):
            storage.read_json(path)

    def test_a_pickled_storage_reads_the_same_blobs(self, storage):
        storage.write_blob(lambda sink: sink.write(DATA))
        copy = pickle.loads(pickle.dumps(storage))
        assert copy.url == storage.url and copy.read_blob(DIGEST) == DATA


class TestLocalStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> Storage:
        return Storage.from_url(str(tmp_path / "store"))


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    def storage(self) -> Storage:
        storage = Storage.from_url(f"memory://pa-{uuid.uuid4().hex[:8]}/artifacts")
        yield storage
        if storage.fs.exists(storage.root):
            storage.fs.rm(storage.root, recursive=True)


class TestS3Storage(StorageContract):
    @pytest.fixture
    def storage(self, s3_storage) -> Storage:
        url, options = s3_storage
        return Storage.from_url(url, options)


class CatalogContract:
    """What the repository relies on from any catalog database."""

    schema_file: str

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def repo(self, url, tmp_path) -> Repository:
        catalog = Catalog(url)
        yield Repository(Storage.from_url(str(tmp_path / "store")), catalog, owner="tester")
        catalog.dispose()

    def test_the_migrations_build_the_checked_in_schema(self, repo):
        repo.catalog.latest("default", "probe")  # opened: created by the migrations
        assert repo.catalog.revision() == (migrate.head(), migrate.head())
        expected = (SCHEMAS / self.schema_file).read_text()
        actual = dump(repo.catalog.engine)
        if actual != expected:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    actual.splitlines(keepends=True),
                    f"tests/schemas/{self.schema_file} (checked in)",
                    "built by the migrations",
                )
            )
            pytest.fail(
                f"the catalog schema differs from tests/schemas/{self.schema_file}:\n{diff}\n"
                "How to fix: if the change is intended (a new migration), run "
                "`.venv/bin/python tests/schemas/dump.py` and commit the updated files with it; "
                "otherwise make the migration build what the files say."
            )

    def test_versions_are_numbered_once_under_concurrent_writers(self, repo):
        ctx = ArtifactContext(repo)
        errors: list[BaseException] = []

        def log(worker: int) -> None:
            try:
                for i in range(5):
                    ctx.log_artifact("shared", f"{worker}-{i}".encode())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=log, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(v.version for v in repo.versions("shared")) == list(range(1, 21))

    def test_a_tag_moves_and_labels_search(self, repo):
        ctx = ArtifactContext(repo)
        ctx.log_artifact("k", b"1", labels={"team": "ml", "note": "hello wörld"})
        ctx.log_artifact("k", b"2", labels={"team": "data"})
        ctx.log_artifact("other", b"3", labels={"team": "ml"})
        repo.tag("k:1", "prod")
        repo.tag("k:2", "prod")
        assert repo.get("k@prod").version == 2 and repo.get("k:1").tags == []
        found = repo.list(labels={"team": "ml"}, all_versions=True)
        assert sorted((v.key, v.version) for v in found) == [("k", 1), ("other", 1)]
        found = repo.list(labels={"note": "hello wörld"}, all_versions=True)
        assert [(v.key, v.version) for v in found] == [("k", 1)]
        assert [v.key for v in repo.list(labels=["note"], all_versions=True)] == ["k"]

    def test_time_search_and_deletion(self, repo):
        ctx = ArtifactContext(repo)
        ctx.log_artifact("old", b"1", labels={"a": "b"})
        middle = repo.get("old").updated_at
        ctx.log_artifact("new", b"2")
        assert [v.key for v in repo.list(since=middle + timedelta(microseconds=1))] == ["new"]
        repo.tag("old:1", "prod")
        repo.delete("old")
        assert [v.key for v in repo.list()] == ["new"]
        assert repo.list(labels={"a": "b"}, all_versions=True) == []
        assert repo.list(tag="prod") == []
        assert ArtifactContext(repo).log_artifact("old", b"again").version == 2


class TestSQLiteCatalog(CatalogContract):
    schema_file = "sqlite.sql"

    @pytest.fixture
    def url(self, tmp_path) -> str:
        return f"sqlite:///{tmp_path / 'catalog.db'}"


class TestPostgresCatalog(CatalogContract):
    schema_file = "postgresql.sql"

    @pytest.fixture
    def url(self, pg_url) -> str:
        return pg_url

    def test_sessions_plan_without_parallel_workers(self, repo):
        """A parallel worker's start costs more than a catalog query (a label + time search of
        1M versions: 30 ms with one, 1 ms without): every pooled session has them off, also
        after a rolled-back transaction and on a fresh connection."""
        import sqlalchemy as sa

        engine = repo.catalog.engine
        for _ in range(2):
            with engine.connect() as conn:
                setting = conn.execute(sa.text("SHOW max_parallel_workers_per_gather")).scalar()
                conn.rollback()
                assert setting == "0"
            engine.dispose()
