"""MLRun's logging keywords mapped onto ours: accepted with the same meaning where one exists,
refused with a ``TypeError`` that names the alternative where none does."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any, BinaryIO

from .errors import InvalidArgumentError
from .keys import validate_key

FORMAT_ALIASES = {"pq": "parquet", "jpg": "jpeg", "htm": "html", "pickle": "pkl"}
REFUSED = {
    "artifact_path": "where bytes go is the repository's storage, not the call: set "
    "PREFECT_ARTIFACTS_STORAGE_URL or pass an ArtifactRepository block; drop artifact_path=",
    "feature_vector": "there is no feature store here: record it as a label "
    "(labels={'feature_vector': ...}) or a parameter",
    "feature_weights": "record the weights as parameters (parameters={'feature_weights': ...}) "
    "or as extra_data",
    "viewer": "the viewer follows the format here: log_plot for figures, format='html' for HTML",
    "is_inline": "every version is stored in the repository; drop is_inline=",
    "src_path": "use local_path= (src_path is MLRun's older name for it)",
    "key_prefix": "only update_model takes key_prefix=",
    "write_spec_copy": "manifests are always written; drop write_spec_copy=",
}


WRITER_KWARGS = {  # pandas to_parquet/to_csv options MLRun passes through
    "compression", "engine", "partition_cols", "row_group_size", "sep", "header", "columns",
    "encoding", "float_format", "date_format", "na_rep", "quoting", "storage_options",
}  # fmt: skip


def check_writer_kwargs(call: str, kwargs: dict[str, Any]) -> None:
    """MLRun passes extra keywords to pandas' writer; here the repository writes the bytes
    (the same frame always gives the same bytes, so identical data is stored once)."""
    for name in kwargs:
        if name in WRITER_KWARGS:
            raise TypeError(
                f"{call}() does not pass {name}= to a writer: the repository writes Parquet (or "
                "format='csv') itself so that identical frames give identical bytes; shape the "
                "frame first (select columns, format values), or write the file yourself and "
                "log it with local_path="
            )


def run_folders() -> Path:
    """Where ``ctx.artifact_subpath()`` makes a run's working folders."""
    import tempfile

    return Path(tempfile.gettempdir()) / "prefect-artifacts" / "runs"


def check_kwargs(call: str, kwargs: dict[str, Any]) -> None:
    """Refuse MLRun keywords with no equivalent (naming the alternative) and unknown ones.
    ``artifact_path=ctx.artifact_subpath(...)`` (as MLRun's tutorials pass it) is accepted: the
    repository's storage decides where bytes go."""
    path = kwargs.get("artifact_path")
    if isinstance(path, str) and Path(path).resolve().is_relative_to(run_folders().resolve()):
        del kwargs["artifact_path"]
    for name in kwargs:
        if name in REFUSED:
            raise TypeError(f"{call}() does not take {name}=: {REFUSED[name]}")
    if kwargs:
        raise TypeError(f"{call}() got an unexpected keyword argument {next(iter(kwargs))!r}")


def catalog_key(key: str | None, db_key: str | None) -> str:
    """MLRun's ``db_key`` is the name in the catalog: here it is the key itself."""
    if db_key is not None:
        return validate_key(db_key)
    if key is None:
        raise InvalidArgumentError("name the artifact: key='my_data' (or MLRun's db_key=)")
    return key


def check_upload(call: str, target_path: str | None, upload: bool | None) -> str | None:
    """MLRun's ``target_path`` + ``upload=False``: the URL of bytes that already live in
    storage, to register in place (returned); other combinations are refused."""
    if target_path is None and upload is False:
        raise TypeError(
            f"{call}(upload=False) registers bytes that already exist: name them with "
            "target_path= (e.g. 's3://bucket/data.parquet')"
        )
    if target_path is not None and upload is not False:
        raise TypeError(
            f"{call}() does not upload to a target_path of your choice: the repository stores "
            "its own content-addressed copy (drop target_path=), or pass upload=False to "
            "register bytes that are already at target_path in place"
        )
    return target_path


def format_name(fmt: str | None) -> str | None:
    """MLRun's format aliases (``pq`` → ``parquet``)."""
    if fmt is None:
        return None
    return FORMAT_ALIASES.get(fmt.lower().lstrip("."), fmt)


def features(value: Any, what: str) -> list[dict[str, Any]] | None:
    """A model's ``inputs``/``outputs`` schema: names, ``{"name", "value_type"}`` dicts or
    MLRun ``Feature`` objects (anything with ``name`` and ``value_type``)."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise InvalidArgumentError(
            f"{what} must be a list of feature names or {{'name', 'value_type'}} dicts, got "
            f"{type(value).__name__}"
        )
    out = []
    for item in value:
        if isinstance(item, str):
            out.append({"name": item})
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            out.append({k: str(v) for k, v in item.items() if v is not None})
        elif isinstance(getattr(item, "name", None), str):
            feature = {"name": item.name}
            if getattr(item, "value_type", None) is not None:
                feature["value_type"] = str(item.value_type)
            out.append(feature)
        else:
            raise InvalidArgumentError(
                f"{what}: each feature is a name, a dict with 'name' or an object with .name; "
                f"got {type(item).__name__}"
            )
    return out


def training_set_fields(
    training_set: Any, label_column: str | list[str] | None
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """MLRun's ``training_set``: (``feature_stats`` per column, ``inputs`` = the feature
    columns, ``outputs`` = the label columns), from a pandas/polars frame or arrow table."""
    import pyarrow as pa

    from .materializers.summary import schema_of, stats_of

    if isinstance(training_set, pa.Table):
        table = training_set
    elif hasattr(training_set, "to_arrow") and not hasattr(training_set, "iloc"):
        table = training_set.to_arrow()
    elif hasattr(training_set, "iloc"):
        table = pa.Table.from_pandas(training_set, preserve_index=False)
    else:
        raise InvalidArgumentError(
            f"training_set must be a DataFrame or an arrow Table, got {type(training_set).__name__}"
        )
    labels = [label_column] if isinstance(label_column, str) else list(label_column or [])
    missing = [c for c in labels if c not in table.column_names]
    if missing:
        raise InvalidArgumentError(
            f"label_column {missing[0]!r} is not a column of training_set; its columns: "
            f"{', '.join(table.column_names[:20])}"
        )
    schema = {c["name"]: c["type"] for c in schema_of(table)}
    inputs = [{"name": n, "value_type": schema[n]} for n in table.column_names if n not in labels]
    outputs = [{"name": n, "value_type": schema[n]} for n in labels]
    return stats_of(table), inputs, outputs


class FolderArchive:
    """A folder stored as one tar archive, written as a stream (never whole in memory), with
    the same bytes for the same files (sorted entries, no times, owners or modes beyond
    executable bits): ``model_dir`` logs as one version."""

    def __init__(self, model_dir: str | Path) -> None:
        root = Path(model_dir).expanduser()
        if not root.is_dir():
            raise InvalidArgumentError(f"model_dir {str(model_dir)!r} is not a folder")
        self.root = root
        self.entries = self._walk(root, root.resolve(), ())
        if not any(p.is_file() for p in self.entries):
            raise InvalidArgumentError(f"model_dir {str(model_dir)!r} holds no files")

    @property
    def files(self) -> list[str]:
        """The stored files, relative to the folder (a symbolic link as the file it names)."""
        return [p.relative_to(self.root).as_posix() for p in self.entries if p.is_file()]

    def _walk(self, folder: Path, inside: Path, above: tuple[Path, ...]) -> list[Path]:
        """Files and folders under ``folder``, sorted; a symbolic link is followed when it
        points inside the model folder (Hugging Face snapshots are links) and refused when it
        leaves it (or is broken), so nothing is skipped silently."""
        here = folder.resolve()
        if here in above:
            raise InvalidArgumentError(
                f"model_dir links {folder.relative_to(self.root)} back to a folder it already "
                "holds (a loop); remove the link"
            )
        found = []
        for path in sorted(folder.iterdir()):
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(inside) or not target.exists():
                    where = "is broken" if not target.exists() else f"points outside it ({target})"
                    raise InvalidArgumentError(
                        f"model_dir holds the symbolic link {path.relative_to(self.root)} that "
                        f"{where}; copy the folder with its links resolved (cp -rL) and log "
                        "the copy"
                    )
            if path.is_dir():
                found.append(path)
                found += self._walk(path, inside, (*above, here))
            elif path.is_file():
                found.append(path)
        return found

    def write(self, sink: BinaryIO) -> None:
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path in self.entries:
                info = tarfile.TarInfo(path.relative_to(self.root).as_posix())
                info.mtime = 0
                info.uname = info.gname = ""
                if path.is_dir():
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                    continue
                stat = path.stat()
                info.size = stat.st_size
                info.mode = 0o755 if stat.st_mode & 0o111 else 0o644
                with path.open("rb") as handle:
                    tar.addfile(info, handle)


TABLE_TYPES = {"int": "integer", "uint": "integer", "float": "number", "double": "number",
               "bool": "boolean", "timestamp": "datetime", "date": "datetime"}  # fmt: skip


def mlrun_stats(version: Any) -> dict[str, Any]:
    """A dataset's schema, preview and statistics in MLRun's shapes (``DatasetArtifact``:
    ``header``, ``preview`` as row lists, ``stats`` as pandas ``describe()`` plus ``hist`` as
    ``[counts, edges]``, ``schema`` as a Table Schema) for dashboards built on them."""
    if getattr(version, "kind", None) != "dataset":
        raise InvalidArgumentError(
            f"mlrun_stats reads datasets; {getattr(version, 'ref', version)!r} is not one"
        )
    header = [c["name"] for c in version.schema]
    stats: dict[str, Any] = {}
    for name, column in (version.stats or {}).items():
        if "mean" in column or "min" in column:
            out = {k: column[k] for k in ("count", "mean", "std", "min", "25%", "50%", "75%", "max")
                   if k in column}  # fmt: skip
            hist = column.get("hist")
            if isinstance(hist, dict):
                out["hist"] = [hist.get("counts", []), hist.get("edges", [])]
        else:
            top = (column.get("top") or [{}])[0]
            out = {"count": column.get("count"), "unique": column.get("unique"),
                   "top": top.get("value"), "freq": top.get("count")}  # fmt: skip
        stats[name] = out
    fields = [
        {"name": c["name"], "type": next((t for p, t in TABLE_TYPES.items()
                                          if str(c["type"]).startswith(p)), "string")}
        for c in version.schema
    ]  # fmt: skip
    return {
        "header": header,
        "preview": [[row.get(c) for c in header] for row in version.preview or []],
        "stats": stats,
        "schema": {"fields": fields, "pandas_version": "1.4.0"},
        "length": version.rows,
    }
