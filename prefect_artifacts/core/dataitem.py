"""MLRun's ``DataItem``: what ``context.get_input(...)`` returns — a handle on a version with
``as_df()``, ``get()``, ``local()``, ``url`` and ``meta`` (the version itself)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, BinaryIO

from .errors import InvalidArgumentError

if TYPE_CHECKING:  # duck-typed at run time: refs hand out DataItems (ArtifactRef(as_item=))
    from typing_extensions import TypeIs

    from .models import ArtifactVersion, ExtraData

TABLE_FORMATS = ("parquet", "csv", "arrow", "feather")


class DataItem:
    """One version (or a model's extra-data file) seen as MLRun's DataItem; ``meta`` is it."""

    def __init__(self, item: ArtifactVersion | ExtraData, key: str | None = None) -> None:
        self.meta = item
        self.key = key or (item.name if _is_extra(item) else item.key)

    def __repr__(self) -> str:
        return f"DataItem({getattr(self.meta, 'ref', self.key)!r})"

    @property
    def kind(self) -> str:
        return getattr(self.meta, "kind", "artifact")

    @property
    def url(self) -> str:
        """Where the bytes live (the content-addressed blob URL)."""
        return self.meta.target_path

    @property
    def artifact_url(self) -> str | None:
        """The version's ``store://`` URI (None for an extra-data file)."""
        return getattr(self.meta, "store_uri", None)

    @property
    def _filename(self) -> str:
        return getattr(self.meta, "filename", None) or self.key

    @property
    def suffix(self) -> str:
        name = self._filename
        return "." + name.rpartition(".")[2] if "." in name else ""

    def get(self, size: int | None = None, offset: int = 0, encoding: str | None = None) -> Any:
        """The bytes (verified), a range of them, or text with ``encoding``."""
        if _is_extra(self.meta):
            data = self.meta.read()[offset : None if size is None else offset + size]
            return data.decode(encoding) if encoding else data
        return self.meta.get(size=size, offset=offset, encoding=encoding)

    def local(self) -> str:
        """The path of a verified local copy."""
        if _is_extra(self.meta):
            import tempfile
            from pathlib import Path

            folder = Path(tempfile.gettempdir()) / "prefect-artifacts" / "extra" / self.meta.hash
            target = folder / self._filename
            if not (target.is_file() and target.stat().st_size == self.meta.size):
                folder.mkdir(parents=True, exist_ok=True)
                self.meta.download(target)
            return str(target)
        return self.meta.local()

    def open(self, mode: str = "rb") -> BinaryIO:
        if mode != "rb":
            raise InvalidArgumentError(f"a DataItem opens for reading ('rb'), not {mode!r}")
        return self.meta.open()

    def as_df(self, columns: list[str] | None = None, **kwargs: Any) -> Any:
        """The data as a pandas DataFrame: a dataset, or a Parquet/CSV artifact."""
        if kwargs:
            raise TypeError(
                f"as_df() does not take {next(iter(kwargs))}=: pass columns= to read some "
                "columns, or load the bytes with get() and parse them yourself"
            )
        if not _is_extra(self.meta) and self.kind == "dataset" and hasattr(self.meta, "as_df"):
            if columns is not None:
                return self.meta.repository.load_dataset(
                    self.meta, columns=columns, as_type="pandas"
                )
            return self.meta.as_df()
        import pandas as pd

        fmt = getattr(self.meta, "format", None) or self.suffix.lstrip(".")
        data = self.get()
        if fmt == "csv":
            return pd.read_csv(io.BytesIO(data), usecols=columns)
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data), columns=columns)
        raise InvalidArgumentError(
            f"{self!r} is a {self.kind} in format {fmt!r}, not a table: as_df() reads "
            "datasets and Parquet/CSV artifacts; use get() for its bytes or meta.load()"
        )

    def show(self) -> None:
        """Print a short description (MLRun shows the item in a notebook)."""
        print(f"{self!r} ({self.meta.size} bytes) {self.url}")


def _is_extra(item: ArtifactVersion | ExtraData) -> TypeIs[ExtraData]:
    """A model's extra-data file, not a version (duck-typed: versions have a ``ref``)."""
    return not hasattr(item, "ref")
