"""The MLRun-style context: ``get_context().log_dataset(key='my_data', df=df)`` and friends.

MLRun's keywords are accepted with the same meaning where one exists (``db_key``,
``local_path``, ``model_dir``, ``inputs``/``outputs``, ``training_set``, ``label_column``,
format aliases such as ``pq``) and refused with a ``TypeError`` naming the alternative where
none does (see :mod:`.mlrun`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import mlrun, runs, tracking
from .dataitem import DataItem
from .errors import ArtifactNotFoundError, InvalidArgumentError
from .keys import validate_filename
from .models import ArtifactVersion, DatasetVersion, ModelVersion, PlotVersion
from .repository import Repository

PLOT_TYPES = ("matplotlib.figure", "plotly.graph_objs", "plotly.graph_objects")


@dataclass
class PlotArtifact:
    """MLRun's ``PlotArtifact``: ``ctx.log_artifact(PlotArtifact("roc", body=fig))`` logs the
    figure (matplotlib, plotly, image bytes or HTML) as a plot, as ``log_plot`` does."""

    key: str
    body: Any = None
    title: str | None = None
    format: str | None = None
    labels: dict[str, Any] = field(default_factory=dict)


class ArtifactContext:
    """Logs artifacts to a repository, attributed to the current Prefect run (if any)."""

    def __init__(
        self, repository: Repository, project: str | None = None, iteration: int | None = None
    ) -> None:
        self.repository = repository
        self.project = project
        self.iteration = iteration  # MLRun's context.iteration: the default of log_*(iteration=)
        self._run_ids: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"ArtifactContext({self.repository!r}, project={self.project!r})"

    # -- MLRun's handler surface (MLClientCtx) --------------------------------------------------
    @property
    def run_id(self) -> str:
        """The Prefect task run id (else flow run id), or this process's run id outside Prefect."""
        return tracking.current_run_id()

    uid = run_id  # MLRun's name

    @property
    def name(self) -> str:
        """The run's name (task run, else flow run), or ``local`` outside Prefect."""
        run = runs.current_run()
        return (run.task_run_name or run.flow_run_name or "local") if run else "local"

    @property
    def parameters(self) -> dict[str, Any]:
        """The flow run's parameters, overridden by the task run's (MLRun's ``parameters``)."""
        run = runs.current_run()
        return {**run.parameters, **run.task_parameters} if run is not None else {}

    def get_param(self, key: str, default: Any = None) -> Any:
        """A parameter of the current task run, else of its flow run, else ``default``."""
        return self.parameters.get(key, default)

    @property
    def logger(self) -> Any:
        """Prefect's run logger (lines show on the run's page), or ``logging`` outside a run."""
        return runs.run_logger()

    def log_result(self, key: str, value: Any, commit: bool = False) -> None:
        """Record a result of this run (JSON-safe; the last value per name is kept), shown on
        the run's page and card. ``commit`` is accepted for MLRun's signature."""
        tracking.log_result(self.repository, key, value, project=self.project)

    def log_results(self, results: dict[str, Any], commit: bool = False) -> None:
        if not isinstance(results, dict):
            raise InvalidArgumentError(f"log_results takes a dict, got {type(results).__name__}")
        for key, value in results.items():
            self.log_result(key, value)

    @property
    def results(self) -> dict[str, Any]:
        """This run's results (``log_result``), by name."""
        return self.repository.catalog.run_results(self.run_id)

    def artifact_subpath(self, *subpaths: str) -> str:
        """A local working folder for this run (created), as MLRun's path under the artifact
        path: write files there and log them (``model_dir=``, ``local_path=``)."""
        import tempfile

        for part in subpaths:
            if not isinstance(part, str) or part.startswith("/") or ".." in part.split("/"):
                raise InvalidArgumentError(
                    f"artifact_subpath parts are relative names, got {part!r}"
                )
        folder = Path(tempfile.gettempdir()) / "prefect-artifacts" / "runs" / self.run_id
        folder = folder.joinpath(*subpaths)
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)

    def get_input(self, key: str, url: str | None = None) -> DataItem:
        """MLRun's ``get_input``: a DataItem for ``url`` (a ``store://`` URI or an artifact ref),
        else for the task/flow parameter ``key`` (a ref, store URI, ``ArtifactRef`` or version),
        else for the artifact ref ``key`` itself. Records this run as a consumer."""
        value: Any = url
        if value is None:
            value = self.get_param(key, None)
        if value is None:
            value = key
        if isinstance(value, DataItem):
            return value
        if isinstance(value, ArtifactVersion):
            version = value
        elif isinstance(getattr(value, "ref", None), str):  # an ArtifactRef
            version = self.repository.get(value.ref, project=getattr(value, "project", None))
        elif isinstance(value, str):
            try:
                version = self.get_artifact(value)
            except ArtifactNotFoundError as exc:
                raise ArtifactNotFoundError(
                    f"get_input({key!r}): {exc}"
                    + ("" if url or key in self.parameters else f"; no parameter {key!r} either")
                ) from None
        else:
            raise InvalidArgumentError(
                f"get_input({key!r}): the parameter is a {type(value).__name__}; pass a store:// "
                "URI, an artifact ref ('key:3') or pa.ArtifactRef"
            )
        self.repository.record_consumer(version)
        return DataItem(version, key)

    def commit(self, message: str = "", completed: bool = False) -> None:
        """Write buffered metric points now (MLRun's ``commit``); inside a Prefect run its card
        then summarises the run's metrics and results."""
        tracking.finish(self.repository)

    # -- step metrics (MLflow's log_metric) -------------------------------------------------------
    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: Any = None
    ) -> None:
        """One point of a metric curve of this run (``step``: the next one for this name when
        omitted; ``timestamp``: a datetime or MLflow's epoch milliseconds). Buffered and
        written in batches; ``pa.run_metrics(ctx.run_id)`` reads them."""
        tracking.log_metrics(
            self.repository, {key: value}, step=step, timestamp=timestamp,
            run_id=self._metrics_run(), project=self.project,
        )  # fmt: skip

    def log_metrics(
        self, metrics: dict[str, float], step: int | None = None, timestamp: Any = None
    ) -> None:
        """Several metrics at one step."""
        tracking.log_metrics(
            self.repository, metrics, step=step, timestamp=timestamp,
            run_id=self._metrics_run(), project=self.project,
        )  # fmt: skip

    def _metrics_run(self) -> str:
        """The run id points are logged under: looked up once per context and thread (a
        context is made per run; finding the run costs more than buffering a point)."""
        ident = threading.get_ident()
        cached = self._run_ids.get(ident)
        if cached is None:
            cached = self._run_ids[ident] = tracking.current_run_id()
        return cached

    def log_dataset(
        self,
        key: str | None = None,
        df: Any = None,
        *,
        tag: str | None = None,
        labels: dict[str, Any] | None = None,
        preview: int | bool | None = None,
        stats: bool | None = None,
        format: str | None = None,
        description: str | None = None,
        extra_data: dict[str, Any] | None = None,
        iteration: int | None = None,
        db_key: str | None = None,
        local_path: str | Path | None = None,
        label_column: str | list[str] | None = None,
        target_path: str | None = None,
        upload: bool | None = None,
        lossy: str | None = None,
        options: dict[str, Any] | None = None,
        index: bool | None = None,
        **kwargs: Any,
    ) -> DatasetVersion:
        """Log a pandas/polars DataFrame or pyarrow Table: Parquet bytes, schema, a preview of the
        first ``preview`` rows (20; 0 for none) and column statistics (``stats=None``: unless the
        frame has more than 50 million cells). MLRun's ``local_path`` logs a Parquet/CSV file
        (or, with ``df``, picks the format by its suffix), ``label_column`` is recorded,
        ``db_key`` is the key. A frame the format cannot give back exactly is refused
        (``LossyFormatError``) unless ``lossy="allow"``: then it is stored marked lossy.
        MLRun's ``index=False`` drops a pandas index (``True``, the default: it is kept, and
        restored on load).

        Args:
            key: The key: letters, digits, ``.``, ``_``, ``-`` (at most 128).
            df: A pandas or polars DataFrame, a pyarrow Table, or a stream (a Dask DataFrame,
                an iterator of frames or record batches, a ``RecordBatchReader``, a pyarrow
                Dataset, a polars ``LazyFrame``) logged in parts.
            tag: A tag to point at the new version (e.g. ``"prod"``).
            labels: Name → value labels.
            preview: How many first rows to keep as a preview (20; 0 for none).
            stats: Compute column statistics (``None``: unless over 50 million cells).
            format: ``"parquet"`` (default), ``"csv"`` or ``"arrow"``.
            description: Free text.
            extra_data: Name → bytes, a local file path, a version or a ``target_path``.
            iteration: Which candidate of a hyperparameter run this is (default: the
                context's ``iteration``).
            target_path: With ``upload=False``: register bytes already in storage, uncopied.
            lossy: ``"allow"`` stores a frame the format cannot give back exactly, marked lossy.
            options: ``part_size`` (bytes of Arrow data per part of a stream or Dask DataFrame;
                default 128 MB), ``preview``, ``stats``.
            index: ``False`` drops a pandas index (MLRun's keyword).

        Returns:
            The new version, or the latest one when the content is identical to it.

        Raises:
            InvalidKeyError: The key, tag or a label is malformed; nothing is stored.
            InvalidArgumentError: A bad format or argument; nothing is stored.
            TypeError: A pandas writer keyword (MLRun passes them on; here the repository
                writes the bytes) or an unknown keyword.
            LossyFormatError: The format would not give the frame back exactly (the message
                names what would be lost); nothing is stored.
            StorageError: The storage refused the bytes; no version is created.
            CatalogError: The catalog was unreachable past the retry window.
        """
        iteration = self.iteration if iteration is None else iteration
        mlrun.check_writer_kwargs("log_dataset", kwargs)
        mlrun.check_kwargs("log_dataset", kwargs)
        options = {"preview": preview, "stats": stats, "lossy": lossy, **_dataset_options(options)}
        source = mlrun.check_upload("log_dataset", target_path, upload)
        key = mlrun.catalog_key(key, db_key)
        fmt = mlrun.format_name(format)
        if source is not None:
            if df is not None or local_path is not None:
                raise InvalidArgumentError("target_path registers existing bytes: give no df=")
            return self.repository.log(
                key, None, kind="dataset", format=fmt, labels=labels, tag=tag,
                description=description, extra_data=extra_data, project=self.project,
                options=options, source=source,
                fields={"iteration": iteration, "label_column": _labels(label_column)},
            )  # fmt: skip
        if local_path is not None:
            path = Path(local_path).expanduser()
            fmt = fmt or mlrun.format_name(path.suffix.lstrip(".")) or "parquet"
            if df is None:
                df = _read_table(path, fmt)
        if df is None:
            raise InvalidArgumentError(
                "log_dataset needs df= (a DataFrame) or local_path= (a file)"
            )
        if options["preview"] is False:
            options["preview"] = 0
        if index is False and hasattr(df, "reset_index") and hasattr(df, "iloc"):
            df = df.reset_index(drop=True)
        return self.repository.log(
            key,
            df,
            kind="dataset",
            format=fmt or "parquet",
            labels=labels,
            tag=tag,
            description=description,
            extra_data=extra_data,
            project=self.project,
            options=options,
            fields={"iteration": iteration, "label_column": _labels(label_column)},
        )

    def log_model(
        self,
        key: str | None = None,
        body: bytes | None = None,
        *,
        model: Any = None,
        model_file: str | None = None,
        framework: str | None = None,
        algorithm: str | None = None,
        metrics: dict[str, float] | None = None,
        parameters: dict[str, Any] | None = None,
        extra_data: dict[str, Any] | None = None,
        labels: dict[str, Any] | None = None,
        tag: str | None = None,
        description: str | None = None,
        format: str | None = None,
        iteration: int | None = None,
        db_key: str | None = None,
        model_dir: str | Path | None = None,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        training_set: Any = None,
        label_column: str | list[str] | None = None,
        target_path: str | None = None,
        upload: bool | None = None,
        lossy: str | None = None,
        **kwargs: Any,
    ) -> ModelVersion:
        """Log a model: serialized ``body`` bytes (e.g. ``pickle.dumps(model)``) or a ``model``
        object, pickled unless ``format`` names a safe one (``"skops"`` for scikit-learn,
        ``"safetensors"`` for a dict of arrays), with finite ``metrics``, ``parameters`` and
        ``extra_data`` (bytes, file paths, artifacts or their ``target_path``). ``iteration``
        (MLRun's ``iter``): which candidate of a hyperparameter run this is — versions of one
        run compare in iteration order (``pa.compare(key, run=...)``).

        As in MLRun: ``model_file`` may be a local file to log (without ``body``),
        ``model_dir`` a folder logged as one tar archive (``version.extract()`` unpacks it),
        ``inputs``/``outputs`` the model's schema, ``training_set`` a frame whose column
        statistics become ``feature_stats`` (and whose columns the inputs/outputs, split by
        ``label_column``), ``db_key`` the key.

        Args:
            key: The key: letters, digits, ``.``, ``_``, ``-`` (at most 128).
            body: The serialized model, as bytes.
            model: A model object (instead of ``body``).
            model_file: The model's file name (or a local file to log, without ``body``).
            framework: E.g. ``"sklearn"`` (inferred for ``model=``).
            algorithm: E.g. ``"LogisticRegression"`` (inferred for ``model=``).
            metrics: Name → finite real number.
            parameters: Name → JSON-able value (``get_params()`` is used for ``model=``).
            extra_data: Name → bytes, a local file path, a version or a ``target_path``.
            labels: Name → value labels.
            tag: A tag to point at the new version (e.g. ``"prod"``).
            description: Free text.
            format: ``"pkl"`` (default for ``model=``), ``"skops"``, ``"safetensors"``, or the
                format of ``body``.
            iteration: Which candidate of a hyperparameter run this is.
            model_dir: A folder to log as one version (a tar archive).

        Returns:
            The new version, or the latest one when the content (bytes, metrics, parameters,
            extra data) is identical to it.

        Raises:
            InvalidArgumentError: A metric that is not a finite real number, conflicting
                arguments, a bad format; nothing is stored.
            TypeError: An MLRun keyword with no equivalent here (the message names the
                alternative).
            StorageError: The storage refused the bytes; no version is created.
        """
        iteration = self.iteration if iteration is None else iteration
        mlrun.check_kwargs("log_model", kwargs)
        source = mlrun.check_upload("log_model", target_path, upload)
        key = mlrun.catalog_key(key, db_key)
        payload: bytes | Path | mlrun.FolderArchive | None = body  # what gets stored
        fmt = mlrun.format_name(format)
        if source is not None and (payload is not None or model is not None or model_dir):
            raise InvalidArgumentError("target_path registers existing bytes: give no body=")
        if model_dir is not None:
            if payload is not None or model is not None:
                raise InvalidArgumentError("give model_dir= or body=/model=, not both")
            payload, fmt = mlrun.FolderArchive(model_dir), "tar"
            if model_file is not None:
                validate_filename(model_file, "model_file (the main file inside model_dir)")
        elif source is None and payload is None and model is None and model_file is not None:
            path = Path(model_file).expanduser()
            if not path.is_file():
                raise InvalidArgumentError(
                    f"log_model got no body= or model=, and model_file {str(model_file)!r} is not "
                    "a local file to log"
                )
            payload, model_file = path, path.name  # streamed from the file when stored
        if source is None and (payload is None) == (model is None):
            raise InvalidArgumentError(
                "log_model needs exactly one of body= (serialized bytes) or model= (an object "
                "to pickle), or MLRun's model_file= (a local file) or model_dir= (a folder)"
            )
        if model_file is not None:
            validate_filename(model_file, "model_file")
        if payload is not None and not isinstance(
            payload, (bytes, bytearray, memoryview, Path, mlrun.FolderArchive)
        ):
            raise InvalidArgumentError(
                f"body must be the serialized model bytes (or the Path of a local file), got "
                f"{type(payload).__name__}; pass the object itself as model= to have it pickled"
            )
        feature_stats = None
        schema_in, schema_out = mlrun.features(inputs, "inputs"), mlrun.features(outputs, "outputs")
        if training_set is not None:
            feature_stats, derived_in, derived_out = mlrun.training_set_fields(
                training_set, label_column
            )
            schema_in = schema_in if schema_in is not None else derived_in
            schema_out = schema_out if schema_out is not None else (derived_out or None)
        return self.repository.log(
            key,
            payload if payload is not None else model,
            kind="model",
            format=fmt,
            labels=labels,
            tag=tag,
            description=description,
            extra_data=extra_data,
            project=self.project,
            options={
                "model_file": model_file if model_dir is None else f"{key}.tar",
                "lossy": lossy,
            },
            fields={
                "model_file": model_file,
                "framework": framework,
                "algorithm": algorithm,
                "metrics": metrics,
                "parameters": parameters,
                "iteration": iteration,
                "inputs": schema_in,
                "outputs": schema_out,
                "feature_stats": feature_stats,
                "label_column": _labels(label_column),
            },
            source=source,
        )

    def log_plot(
        self,
        key: str,
        figure: Any,
        *,
        format: str | None = None,
        labels: dict[str, Any] | None = None,
        tag: str | None = None,
        description: str | None = None,
        iteration: int | None = None,
    ) -> PlotVersion:
        """Log a matplotlib figure (PNG/SVG/PDF), a plotly figure (HTML/JSON), image bytes or
        HTML (``format="html"``, bytes or text).

        Args:
            key: The key.
            figure: A matplotlib or plotly figure, image bytes, or HTML.
            format: ``"png"``, ``"svg"``, ``"pdf"`` (matplotlib), ``"html"``, ``"json"``
                (plotly), or the format of image bytes.
            labels: Name → value labels.
            tag: A tag to point at the new version.
            description: Free text.
            iteration: Which candidate of a hyperparameter run this is.

        Returns:
            The new version (or the identical latest one).

        Raises:
            UnsupportedTypeError: ``figure`` is not a figure, image or HTML.
        """
        iteration = self.iteration if iteration is None else iteration
        fmt = mlrun.format_name(format)
        if isinstance(figure, str) and fmt == "html":
            figure = figure.encode()
        return self.repository.log(
            key,
            figure,
            kind="plot",
            format=fmt,
            labels=labels,
            tag=tag,
            description=description,
            project=self.project,
            fields={"iteration": iteration},
        )

    def log_artifact(
        self,
        item: str | PlotArtifact | None = None,
        body: Any = None,
        *,
        local_path: str | Path | None = None,
        format: str | None = None,
        labels: dict[str, Any] | None = None,
        tag: str | None = None,
        description: str | None = None,
        iteration: int | None = None,
        db_key: str | None = None,
        target_path: str | None = None,
        upload: bool | None = None,
        key: str | None = None,
        lossy: str | None = None,
        **kwargs: Any,
    ) -> ArtifactVersion:
        """Log bytes, text, a JSON-able value or a local file (``local_path``); any other object
        with ``format="pkl"`` (pickled). HTML (``format="html"``) and a ``PlotArtifact`` are
        stored as plots and rendered. ``item`` is the key (MLRun's name for it) or a
        ``PlotArtifact``; ``db_key`` is the key. JSON that would not load back exactly (keys
        that are not strings, tuples) is refused unless ``lossy="allow"``.

        Args:
            item: The key, or a ``PlotArtifact``.
            body: Bytes, text, a JSON-able value, or any object with ``format="pkl"``.
            local_path: A local file to log instead of ``body``.
            format: The stored format (inferred from the value or the file's suffix).
            labels: Name → value labels.
            tag: A tag to point at the new version.
            description: Free text.
            iteration: Which candidate of a hyperparameter run this is.
            target_path: With ``upload=False``: register bytes already in storage, uncopied.
            key: The key, when ``item`` is not given.
            lossy: ``"allow"`` stores a value the format cannot give back exactly, marked lossy.

        Returns:
            The new version (or the identical latest one).

        Raises:
            InvalidArgumentError: Neither or both of ``body`` and ``local_path``.
            UnsupportedTypeError: No materializer stores this object (the message says how to
                register one).
            LossyFormatError: The format would not give the value back exactly; nothing is
                stored.
        """
        iteration = self.iteration if iteration is None else iteration
        mlrun.check_kwargs("log_artifact", kwargs)
        source = mlrun.check_upload("log_artifact", target_path, upload)
        if isinstance(item, PlotArtifact):
            return self.log_plot(
                mlrun.catalog_key(item.key, db_key),
                item.body,
                format=format or item.format,
                labels={**item.labels, **(labels or {})},
                tag=tag,
                description=description or item.title,
                iteration=iteration,
            )
        if item is not None and key is not None:
            raise InvalidArgumentError("give the key once: log_artifact('name', ...) or key=")
        key = mlrun.catalog_key(item if item is not None else key, db_key)
        if source is not None:
            if body is not None or local_path is not None:
                raise InvalidArgumentError("target_path registers existing bytes: give no body=")
            fmt = mlrun.format_name(format)
            return self.repository.log(
                key, None, kind="plot" if fmt == "html" else "artifact", format=fmt,
                labels=labels, tag=tag, description=description, project=self.project,
                fields={"iteration": iteration}, source=source,
            )  # fmt: skip
        if (body is None) == (local_path is None):
            raise InvalidArgumentError("log_artifact needs exactly one of body= or local_path=")
        if _is_figure(body):
            raise InvalidArgumentError(
                f"log_artifact({key!r}, ...) got a {type(body).__module__.split('.')[0]} figure: "
                f"log figures with log_plot({key!r}, fig) (or log_artifact(PlotArtifact({key!r}, "
                "body=fig))), which stores them as plots"
            )
        fmt = mlrun.format_name(format)
        obj = Path(local_path).expanduser() if local_path is not None else body
        if fmt == "html":  # HTML is a plot: stored as one and rendered
            data = obj.read_bytes() if isinstance(obj, Path) else body
            if isinstance(data, str):
                data = data.encode()
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise InvalidArgumentError(
                    f"format='html' needs HTML text or bytes, got {type(data).__name__}"
                )
            return self.log_plot(
                key, bytes(data), format="html", labels=labels, tag=tag,
                description=description, iteration=iteration,
            )  # fmt: skip
        kind = None if fmt in ("pkl",) else "artifact"
        return self.repository.log(
            key,
            obj,
            kind=kind,
            format=fmt,
            labels=labels,
            tag=tag,
            description=description,
            project=self.project,
            options={"lossy": lossy},
            fields={"iteration": iteration},
        )

    def get_artifact(
        self, ref: str, *, version: int | None = None, tag: str | None = None
    ) -> ArtifactVersion:
        return self.repository.get(ref, version=version, tag=tag, project=self.project)

    def get_store_resource(self, uri: str) -> ArtifactVersion:
        """MLRun's name for :meth:`get_artifact` (a ref or a ``store://`` URI)."""
        return self.get_artifact(uri)

    def get_dataitem(self, uri: str) -> ArtifactVersion:
        """MLRun's name for :meth:`get_artifact`: the version is the data item
        (``get()``, ``local()``, ``url``, ``as_df()``)."""
        return self.get_artifact(uri)


def _labels(label_column: str | list[str] | None) -> str | list[str] | None:
    if label_column is None or isinstance(label_column, str):
        return label_column
    if isinstance(label_column, (list, tuple)) and all(isinstance(c, str) for c in label_column):
        return list(label_column)
    raise InvalidArgumentError("label_column must be a column name or a list of them")


def _is_figure(value: Any) -> bool:
    return type(value).__module__.startswith(PLOT_TYPES)


def _read_table(path: Path, fmt: str) -> Any:
    from .materializers.dataset import TABLE_FILES, read_table_file

    if not path.is_file():
        raise InvalidArgumentError(f"local_path {str(path)!r} is not a file")
    if fmt not in TABLE_FILES:
        raise InvalidArgumentError(
            f"log_dataset reads Parquet or CSV files from local_path, not {fmt!r}; load it into "
            "a DataFrame and pass df="
        )
    return read_table_file(path, fmt)


DATASET_OPTIONS = ("part_size", "preview", "stats")


def _dataset_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """``log_dataset(options=)``: the documented names only, each with a value."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise InvalidArgumentError(
            f"options must be a dict, e.g. {{'part_size': 64 << 20}}; got {type(options).__name__}"
        )
    for name in options:
        if name not in DATASET_OPTIONS:
            raise InvalidArgumentError(
                f"log_dataset: unknown option {name!r}; the options are {', '.join(DATASET_OPTIONS)}"
            )
    part_size = options.get("part_size")
    if part_size is not None and (isinstance(part_size, bool) or not isinstance(part_size, int)):
        raise InvalidArgumentError(
            f"part_size must be a whole number of bytes, e.g. 64 << 20; got {part_size!r:.40}"
        )
    return {k: v for k, v in options.items() if v is not None}
