"""The MLRun-style context: ``get_context().log_dataset(key='my_data', df=df)`` and friends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import InvalidArgumentError
from .keys import validate_filename
from .models import ArtifactVersion, DatasetVersion, ModelVersion, PlotVersion
from .repository import Repository


class ArtifactContext:
    """Logs artifacts to a repository, attributed to the current Prefect run (if any)."""

    def __init__(self, repository: Repository, project: str | None = None) -> None:
        self.repository = repository
        self.project = project

    def __repr__(self) -> str:
        return f"ArtifactContext({self.repository!r}, project={self.project!r})"

    def log_dataset(
        self,
        key: str,
        df: Any,
        *,
        tag: str | None = None,
        labels: dict[str, Any] | None = None,
        preview: int | bool | None = None,
        stats: bool | None = None,
        format: str = "parquet",
        description: str | None = None,
        extra_data: dict[str, Any] | None = None,
        iteration: int | None = None,
    ) -> DatasetVersion:
        """Log a pandas/polars DataFrame or pyarrow Table: Parquet bytes, schema, a preview of the
        first ``preview`` rows (20; 0 for none) and column statistics (``stats=None``: unless the
        frame has more than 50 million cells)."""
        if preview is False:
            preview = 0
        return self.repository.log(
            key,
            df,
            kind="dataset",
            format=format,
            labels=labels,
            tag=tag,
            description=description,
            extra_data=extra_data,
            project=self.project,
            options={"preview": preview, "stats": stats},
            fields={"iteration": iteration},
        )

    def log_model(
        self,
        key: str,
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
    ) -> ModelVersion:
        """Log a model: serialized ``body`` bytes (e.g. ``pickle.dumps(model)``) or a ``model``
        object, pickled unless ``format`` names a safe one (``"skops"`` for scikit-learn,
        ``"safetensors"`` for a dict of arrays), with finite ``metrics``, ``parameters`` and
        ``extra_data`` (bytes, file paths, artifacts or their ``target_path``). ``iteration``
        (MLRun's ``iter``): which candidate of a hyperparameter run this is — versions of one
        run compare in iteration order (``pa.compare(key, run=...)``)."""
        if (body is None) == (model is None):
            raise InvalidArgumentError(
                "log_model needs exactly one of body= (serialized bytes) or model= (an object "
                "to pickle)"
            )
        if model_file is not None:
            validate_filename(model_file, "model_file")
        if body is not None and not isinstance(body, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(
                f"body must be the serialized model bytes, got {type(body).__name__}; pass the "
                "object itself as model= to have it pickled"
            )
        return self.repository.log(
            key,
            body if body is not None else model,
            kind="model",
            format=format,
            labels=labels,
            tag=tag,
            description=description,
            extra_data=extra_data,
            project=self.project,
            options={"model_file": model_file},
            fields={
                "model_file": model_file,
                "framework": framework,
                "algorithm": algorithm,
                "metrics": metrics,
                "parameters": parameters,
                "iteration": iteration,
            },
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
        """Log a matplotlib figure (PNG/SVG/PDF), a plotly figure (HTML/JSON) or image bytes."""
        return self.repository.log(
            key,
            figure,
            kind="plot",
            format=format,
            labels=labels,
            tag=tag,
            description=description,
            project=self.project,
            fields={"iteration": iteration},
        )

    def log_artifact(
        self,
        key: str,
        body: Any = None,
        *,
        local_path: str | Path | None = None,
        format: str | None = None,
        labels: dict[str, Any] | None = None,
        tag: str | None = None,
        description: str | None = None,
        iteration: int | None = None,
    ) -> ArtifactVersion:
        """Log bytes, text, a JSON-able value or a local file (``local_path``); any other object
        with ``format="pkl"`` (pickled)."""
        if (body is None) == (local_path is None):
            raise InvalidArgumentError("log_artifact needs exactly one of body= or local_path=")
        obj = Path(local_path).expanduser() if local_path is not None else body
        kind = None if format in ("pkl",) else "artifact"
        return self.repository.log(
            key,
            obj,
            kind=kind,
            format=format,
            labels=labels,
            tag=tag,
            description=description,
            project=self.project,
            fields={"iteration": iteration},
        )

    def get_artifact(
        self, ref: str, *, version: int | None = None, tag: str | None = None
    ) -> ArtifactVersion:
        return self.repository.get(ref, version=version, tag=tag, project=self.project)
