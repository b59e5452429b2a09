"""``ArtifactRef``: a task argument naming an artifact, loaded when the task runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from .dataitem import DataItem
from .keys import parse_ref
from .models import default_repository

if TYPE_CHECKING:
    from .models import ArtifactVersion, RepositoryLike

LAZY_LOADS = (None, "pandas", "dask", "arrow", "polars", "duckdb")


class ArtifactRef(BaseModel):
    """A task argument naming an artifact: ``ArtifactRef("features@prod")``. ``@artifact_task``
    loads it when the task runs (recording the consumer); it shows in the run's parameters."""

    model_config = ConfigDict(frozen=True)

    ref: str
    project: str | None = None
    load: str | None = None  # None: the stored object; "dask" | "arrow" | "polars" | "duckdb": lazy
    as_item: bool = False  # True: the task receives MLRun's DataItem (as_df(), get(), local())

    def __init__(
        self, ref: str, project: str | None = None, load: str | None = None, **kwargs: Any
    ) -> None:
        parse_ref(ref, project=project)  # fail at construction, not when the task runs
        if load not in LAZY_LOADS:
            raise ValueError(
                f"load={load!r} is not a way to load a dataset; use one of "
                f"{', '.join(repr(x) for x in LAZY_LOADS)}"
            )
        super().__init__(ref=ref, project=project, load=load, **kwargs)

    def resolve(self, repository: RepositoryLike | None = None, project: str | None = None) -> Any:
        """The value a task receives: the loaded object, or with ``load=`` a lazy dataset
        (``"dask"``: a Dask DataFrame whose partitions read the parts where they run)."""
        repo = repository or default_repository()
        version = repo.get(self.ref, project=self.project or project)
        if self.as_item:
            repo.record_consumer(version)
            return DataItem(version)
        if self.load is None:
            return version.load()
        if self.load == "pandas":
            return repo.load_dataset(version, as_type="pandas")
        return repo.open_dataset(version, self.load)

    def __repr__(self) -> str:
        return f"ArtifactRef({self.ref!r})"

    __str__ = __repr__

    def get(self, repository: RepositoryLike | None = None) -> ArtifactVersion:
        """The version this reference names now."""
        return (repository or default_repository()).get(self.ref, project=self.project)
