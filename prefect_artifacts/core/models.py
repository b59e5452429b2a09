"""Pydantic records shared by every layer: versions (one class per kind), producers, extra data."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, overload

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .runfields import RUN_FIELDS

if TYPE_CHECKING:
    from .storage import Storage


class RepositoryLike(Protocol):
    """What a record needs of the repository it came from (the :class:`~prefect_artifacts.
    Repository` class is one): the read path, lineage records and metadata revisions. A
    protocol, so the records never import the repository that imports them."""

    storage: Storage

    def home(self) -> dict[str, Any]: ...
    def get(self, ref: str, *, project: str | None = None) -> ArtifactVersion: ...
    def record_consumer(self, version: ArtifactVersion) -> None: ...
    def load(
        self,
        version: ArtifactVersion,
        *,
        as_pandas: bool = False,
        trusted: bool | None = None,
        verify: bool | None = None,
    ) -> Any: ...
    def load_dataset(
        self,
        version: ArtifactVersion,
        *,
        columns: list[str] | None = None,
        filters: Any = None,
        as_type: str | None = None,
    ) -> Any: ...
    def open_dataset(self, version: ArtifactVersion, how: str, **options: Any) -> Any: ...
    def read_blob(self, digest: str) -> bytes: ...
    def open_blob(self, digest: str, size: int | None = None) -> BinaryIO: ...
    def open_file(self, version: ArtifactVersion, name: str) -> BinaryIO: ...
    def download_blob(self, digest: str, path: str | Path | None, filename: str) -> Path: ...
    def download(
        self, version: ArtifactVersion, path: str | Path | None = None, *, parts: bool = False
    ) -> Path: ...
    def folder_files(self, version: ArtifactVersion) -> list[dict[str, Any]]: ...
    def runs_of(self, version: ArtifactVersion, *, role: str) -> list[LineageRecord]: ...
    def inputs_of_run(self, run_id: str | None) -> list[ArtifactVersion]: ...
    def outputs_of_run(self, run_id: str | None) -> list[ArtifactVersion]: ...
    def revisions(self, version: ArtifactVersion) -> list[Revision]: ...


_run_linker: Callable[[Any], str | None] | None = None


def set_run_linker(linker: Callable[[Any], str | None] | None) -> None:
    """How to link a run (anything with ``flow_run_id``/``task_run_id``) to its page in the
    orchestrator's UI, decided when the link is shown (not when the run was recorded)."""
    global _run_linker
    _run_linker = linker


def run_link(run: Any) -> str | None:
    """The run's page, per the installed linker; else the link recorded with it, if any."""
    link = _run_linker(run) if _run_linker is not None else None
    return link or getattr(run, "recorded_url", None)


class RepositoryFinder(Protocol):
    """How a record finds a repository it does not hold: the default one (for a record or
    reference made by hand), or the one an unpickled record's ``home`` names (its id and
    locations). The module API installs the one that reads the settings."""

    def default(self) -> RepositoryLike: ...
    def locate(self, home: dict[str, Any]) -> RepositoryLike: ...


_finder: RepositoryFinder | None = None


def find_repositories_with(finder: RepositoryFinder) -> None:
    """Install how records without a repository find one (see :class:`RepositoryFinder`)."""
    global _finder
    _finder = finder


def repository_finder() -> RepositoryFinder:
    if _finder is None:
        raise RuntimeError("no repository finder: import prefect_artifacts first")
    return _finder


def default_repository() -> RepositoryLike:
    return repository_finder().default()


class RunInfo(BaseModel):
    """An orchestrator run: ids, names, and what a producer record keeps of it."""

    flow_name: str | None = None
    flow_id: str | None = None
    flow_run_id: str | None = None
    flow_run_name: str | None = None
    task_name: str | None = None
    task_run_id: str | None = None
    task_run_name: str | None = None
    deployment_id: str | None = None
    deployment_name: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    ui_url: str | None = None
    attempt: int | None = None  # which attempt of a retried task run (1 = the first)
    task_parameters: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)

    @property
    def run_id(self) -> str | None:
        """The most specific run id (task run, else flow run)."""
        return self.task_run_id or self.flow_run_id

    @property
    def recorded_url(self) -> str | None:
        return self.ui_url

    @property
    def link(self) -> str | None:
        """The run's page in the orchestrator's UI, by today's settings."""
        return run_link(self)

    def lineage(self) -> dict[str, Any]:
        """The fields a lineage row records."""
        return {k: getattr(self, k) for k in RUN_FIELDS}


class Producer(RunInfo):
    """Who logged a version: a Prefect run, or a local process outside any run."""

    kind: str = "local"
    host: str | None = None
    pid: int | None = None
    user: str | None = None

    def describe(self) -> str:
        if self.kind != "prefect":
            return f"local process {self.pid} on {self.host}" if self.host else "local process"
        text = f"flow {self.flow_name} / run {self.flow_run_name}"
        return text + (f" / task {self.task_run_name}" if self.task_run_name else "")


class LineageRecord(BaseModel):
    """One run that produced or consumed a version."""

    role: str  # "producer" | "consumer"
    project: str
    key: str
    version: int
    flow_name: str | None = None
    flow_run_id: str | None = None
    flow_run_name: str | None = None
    task_run_id: str | None = None
    task_run_name: str | None = None
    at: datetime

    @property
    def link(self) -> str | None:
        """The run's page in the orchestrator's UI, by today's settings."""
        return run_link(self)

    @property
    def ui_url(self) -> str | None:
        return self.link


class Revision(BaseModel):
    """A change to a version's metadata after it was logged (``update_model``): who made it,
    when, from which run, and each field's old and new values. The bytes, hash, version
    number, tags and producer never change."""

    project: str
    key: str
    version: int
    revision: int
    at: datetime
    updater: Producer = Field(description="The run (or local process) that made the change.")
    changes: dict[str, dict[str, Any]] = Field(
        description="field (metrics, parameters, labels, description, extra_data) → old/new"
    )

    def describe(self) -> str:
        parts = []
        for name, change in self.changes.items():
            if name == "signature":
                continue
            if name == "description":
                parts.append("description")
            elif name == "extra_data":
                parts.append("extra data " + ", ".join(change["new"]))
            else:
                parts.append(
                    ", ".join(
                        f"{name[:-1] if name != 'labels' else 'label'} {k}: "
                        f"{change['old'].get(k)} → {v}"
                        for k, v in change["new"].items()
                    )
                )
        return "; ".join(parts)


class _Bound(BaseModel):
    """A record that can reach the repository it came from."""

    _repo: RepositoryLike | None = PrivateAttr(None)
    _row_id: int | None = PrivateAttr(None)
    _home: dict[str, Any] | None = PrivateAttr(None)  # its repository's id and locations

    def _bind(self, repo: RepositoryLike) -> None:
        self._repo = repo

    def __getstate__(self) -> dict[str, Any]:
        """Pickles (process pools, Dask) carry the record and its repository's id and
        locations (without credentials), not the repository's connections: unpickled, the
        record reads and records lineage in its own repository (see :meth:`_repository`)."""
        state = super().__getstate__()
        home = self._repo.home() if self._repo is not None else self._home
        state["__pydantic_private__"] = {"_repo": None, "_row_id": None, "_home": home}
        return state

    def _repository(self) -> RepositoryLike:
        """The repository the record came from; unpickled, found again by its id: one this
        process has open, the default one, or re-opened from the carried locations — never
        another repository holding a same-named version."""
        if self._repo is None:
            finder = repository_finder()
            self._repo = finder.default() if self._home is None else finder.locate(self._home)
        return self._repo


class ExtraData(_Bound):
    """A named extra file stored with a version (e.g. a model's confusion matrix)."""

    name: str
    hash: str
    size: int
    target_path: str
    source: str  # "bytes" | "file" | "artifact" | "url"
    filename: str | None = None
    artifact: str | None = None  # reference of the artifact it came from, if any

    def open(self) -> BinaryIO:
        """A file object over the bytes; the sha256 is checked when it reaches the end."""
        return self._repository().open_blob(self.hash, self.size)

    def read(self) -> bytes:
        """The bytes, verified against their sha256."""
        return self._repository().read_blob(self.hash)

    def download(self, path: str | Path | None = None) -> Path:
        """Write the bytes to ``path`` (a file or a folder; default: the current folder)."""
        name = self.filename or self.name
        return self._repository().download_blob(self.hash, path, name)


class ArtifactVersion(_Bound):
    """One immutable, numbered version of an artifact key."""

    model_config = ConfigDict(extra="ignore")

    key: str
    version: int
    kind: str
    project: str
    format: str
    hash: str
    size: int
    target_path: str
    uri: str
    uid: str
    labels: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    producer: Producer = Field(default_factory=Producer)
    owner: str | None = None
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    materializer: str
    filename: str
    content_type: str = "application/octet-stream"
    fingerprint: str | None = Field(None, repr=False)
    signature: dict[str, str] | None = Field(
        None, repr=False, description="The repository key's signature of this version's identity."
    )
    extra_data: dict[str, ExtraData] = Field(default_factory=dict)
    iteration: int | None = Field(
        None, description="Which iteration (hyperparameter run) of its producing run it is."
    )
    source: dict[str, Any] | None = Field(
        None,
        description="Registered in place (not copied): the object's URL and its pin (ETag, "
        "version id, size), checked before every read.",
    )
    lossy: list[str] | None = Field(
        None,
        description="Logged with lossy='allow': what loading it does not give back exactly.",
    )
    meta: dict[str, Any] = Field(default_factory=dict, description="Custom materializer metadata.")
    repository_id: str | None = Field(
        None, description="The id of the repository this version belongs to (a uuid)."
    )

    def __str__(self) -> str:
        return f"{self.kind} {self.project}/{self.key}:{self.version}"

    @property
    def ref(self) -> str:
        """The reference that names exactly this version (``project/key:N``)."""
        return f"{self.project}/{self.key}:{self.version}"

    @property
    def repository(self) -> RepositoryLike:
        return self._repository()

    def load(self, *, trusted: bool | None = None, verify: bool | None = None) -> Any:
        """The stored object (DataFrame, model, image bytes, text/JSON/bytes), hash-verified
        (once per blob by default, see the ``verify`` setting; ``verify=True`` hashes now).
        A pickle loads only when trusted (``trusted=True``, or the ``trust_pickles`` setting)
        and, with a signing key, signed."""
        return self.repository.load(self, trusted=trusted, verify=verify)

    def open(self, name: str | None = None) -> BinaryIO:
        """A file object over the stored bytes (a folder artifact: over its file ``name``); the
        sha256 is checked when it reaches the end."""
        if name is not None:
            return self.repository.open_file(self, name)
        return self.repository.open_blob(self.hash, self.size)

    def files(self) -> list[dict[str, Any]]:
        """A folder artifact's files, ``{path, hash, size, mode}`` each, sorted by path."""
        if self.format != "folder":
            raise ValueError(f"{self.ref} is a {self.format} file, not a folder: use open()")
        return self.repository.folder_files(self)

    def download(self, path: str | Path | None = None, *, parts: bool = False) -> Path:
        """Write the data to ``path`` (a file or a folder; default: the current folder),
        verified: the stored file; a multi-part dataset as one Parquet file ``key-vN.parquet``
        (``parts=True``: a folder of its part files)."""
        return self.repository.download(self, path, parts=parts)

    # -- MLRun DataItem compatibility ---------------------------------------------------------
    @property
    def url(self) -> str:
        """Where the bytes live (MLRun's ``DataItem.url``): the content-addressed blob URL."""
        return self.target_path

    @overload
    def get(self, size: int | None = None, offset: int = 0, encoding: None = None) -> bytes: ...
    @overload
    def get(self, size: int | None = None, offset: int = 0, *, encoding: str) -> str: ...
    @overload
    def get(self, size: int | None, offset: int, encoding: str) -> str: ...
    def get(
        self, size: int | None = None, offset: int = 0, encoding: str | None = None
    ) -> bytes | str:
        """The stored bytes (MLRun's ``DataItem.get``), verified against their sha256;
        ``offset``/``size`` cut a range of them, ``encoding`` decodes them to text."""
        data = self.repository.read_blob(self.hash)
        data = data[offset : None if size is None else offset + size]
        return data.decode(encoding) if encoding else data

    def local(self) -> str:
        """The path of a verified local copy of the bytes (MLRun's ``DataItem.local``), kept in
        a per-content cache folder under the system's temporary directory."""
        from .keys import safe_filename
        from .storage.localcache import temp_root, verified_copy

        folder = temp_root() / self.hash[:2] / self.hash
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            folder.unlink()  # not what this private cache puts there: never trusted
        target = folder / safe_filename(self.filename, self.hash[:16])
        repo = self.repository
        fetch = lambda path: repo.download_blob(self.hash, path, path.name)  # noqa: E731
        return str(verified_copy(repo.storage.verified, target, self.hash, fetch))

    @property
    def store_uri(self) -> str:
        """MLRun's form of this version's URI: ``store://<kind>s/<project>/<key>#<iter>:<n>@<tree>``
        (``<tree>``: the producing run's id, else the version's uid); accepted wherever a ref is."""
        kind = {"dataset": "datasets", "model": "models", "plot": "plots"}.get(
            self.kind, "artifacts"
        )
        tree = self.producer.flow_run_id or self.uid
        return (
            f"store://{kind}/{self.project}/{self.key}#{self.iteration or 0}:{self.version}@{tree}"
        )

    def to_dataitem(self) -> ArtifactVersion:
        """MLRun's ``artifact.to_dataitem()``: a version already offers ``get``, ``local``,
        ``url`` (and ``as_df`` on datasets)."""
        return self

    def consumers(self) -> list[LineageRecord]:
        """The runs that loaded this version."""
        return self.repository.runs_of(self, role="consumer")

    def producers(self) -> list[LineageRecord]:
        """Every run that logged this content (re-logging identical content adds a run here)."""
        return self.repository.runs_of(self, role="producer")

    def revisions(self) -> list[Revision]:
        """The metadata revisions of this version (``update_model``), oldest first."""
        return self.repository.revisions(self)


class DatasetPart(BaseModel):
    """One Parquet part of a multi-part dataset (a content-addressed blob)."""

    position: int
    hash: str
    size: int
    rows: int
    target_path: str


with warnings.catch_warnings():  # `schema` is the field name the product promises
    warnings.simplefilter("ignore", UserWarning)

    class DatasetVersion(ArtifactVersion):
        """A table: Parquet (or CSV/Arrow) bytes, its schema, a preview and column statistics.
        Large datasets are stored in parts (``part_count``, ``parts``); every Parquet dataset
        reads lazily or in part (``load(columns=, filters=)``, ``to_arrow_dataset()``,
        ``to_dask()``, ``to_polars(lazy=True)``, ``to_duckdb()``)."""

        rows: int | None = None
        columns: int | None = None
        schema: list[dict[str, Any]] = Field(default_factory=list)  # type: ignore[assignment]  # shadows BaseModel.schema() (deprecated): the promised name
        preview: list[dict[str, Any]] | None = None
        stats: dict[str, dict[str, Any]] | None = None
        python_type: str = "pandas"
        label_column: str | list[str] | None = None
        part_count: int | None = Field(None, description="Parts of a multi-part dataset.")
        parts: list[DatasetPart] = Field(
            default_factory=list, description="The parts, in order (full records only)."
        )

        def as_df(self, *, verify: bool | None = None) -> Any:
            """The dataset as a pandas DataFrame, whatever type it was logged from."""
            return self.repository.load(self, as_pandas=True, verify=verify)

        def load(
            self,
            *,
            columns: list[str] | None = None,
            filters: Any = None,
            trusted: bool | None = None,
            verify: bool | None = None,
        ) -> Any:
            """The dataset (as the type it was logged from). ``columns`` and ``filters``
            (``[("col", ">", 3)]`` tuples or a pyarrow expression) are pushed down: only the
            needed columns and row groups are read, each page checked against its checksum;
            without them the bytes are sha256-checked (once per blob by default, see the
            ``verify`` setting; ``verify=True`` hashes now)."""
            if columns is None and filters is None:
                return self.repository.load(self, trusted=trusted, verify=verify)
            return self.repository.load_dataset(self, columns=columns, filters=filters)

        def to_arrow_dataset(self) -> Any:
            """A ``pyarrow.dataset.Dataset`` over the stored Parquet (nothing read yet)."""
            return self.repository.open_dataset(self, "arrow")

        def to_dask(self) -> Any:
            """A lazy Dask DataFrame, one partition per part, read where it runs."""
            return self.repository.open_dataset(self, "dask")

        def to_polars(self, lazy: bool = True) -> Any:
            """A polars LazyFrame scanning the stored Parquet (``lazy=False``: a DataFrame)."""
            if not lazy:
                return self.repository.load_dataset(self, as_type="polars")
            return self.repository.open_dataset(self, "polars")

        def to_duckdb(self, connection: Any = None) -> Any:
            """A DuckDB relation over the stored Parquet (needs the ``duckdb`` package)."""
            return self.repository.open_dataset(self, "duckdb", connection=connection)


class ModelVersion(ArtifactVersion):
    """A trained model: its file, metrics, parameters and extra data."""

    model_file: str | None = None
    framework: str | None = None
    algorithm: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    inputs: list[dict[str, Any]] | None = Field(None, description="The model's input features.")
    outputs: list[dict[str, Any]] | None = Field(None, description="The model's outputs.")
    feature_stats: dict[str, dict[str, Any]] | None = Field(
        None, description="Column statistics of the training set (MLRun's feature_stats)."
    )
    label_column: str | list[str] | None = None

    def extract(self, path: str | Path | None = None) -> Path:
        """Unpack a model logged from a folder (``model_dir=``, format ``tar``) into ``path``
        (default: a cached folder under the system's temporary directory); returns the
        folder. The archive's bytes are verified first."""
        import io
        import tarfile

        from .storage.localcache import temp_root

        if self.format != "tar":
            raise ValueError(f"{self.ref} is a {self.format} file, not a folder: use local()")
        target = Path(path) if path is not None else (temp_root() / "dirs" / self.hash)
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(self.get()), mode="r") as tar:
            if not hasattr(tarfile, "data_filter"):  # Python without extraction filters
                raise RuntimeError("extract() needs Python 3.10.12+ (tarfile's data filter)")
            tar.extractall(target, filter="data")
        return target


class PlotVersion(ArtifactVersion):
    """A figure stored as PNG, SVG or HTML."""

    width: int | None = None
    height: int | None = None


VERSION_CLASSES: dict[str, type[ArtifactVersion]] = {
    "dataset": DatasetVersion,
    "model": ModelVersion,
    "plot": PlotVersion,
}


def version_from_record(
    record: dict[str, Any], repo: RepositoryLike | None = None
) -> ArtifactVersion:
    """Build the kind-specific version class from a catalog or manifest record."""
    cls = VERSION_CLASSES.get(record.get("kind", ""), ArtifactVersion)
    version = cls.model_validate(record)
    if repo is not None:
        version._bind(repo)
        for extra in version.extra_data.values():
            extra._bind(repo)
    return version
