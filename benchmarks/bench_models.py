"""Benchmarks of issue 12 (models): compare, update_model, plotly plots. Each against a bare
baseline measured in the same process (see run.py's ``interleaved``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def bench_compare(work: Path, args: argparse.Namespace) -> list[Any]:
    """pa.compare over 3 keys x N versions vs the catalog search it runs on."""
    from run import Result, interleaved, repository

    from prefect_artifacts import ArtifactContext
    from prefect_artifacts.core.compare import compare

    n = 50 if args.quick else 150
    repo = repository(work / "compare")
    ctx = ArtifactContext(repo)
    for key in ("churn-a", "churn-b", "churn-c"):
        for i in range(n):
            ctx.log_model(key, body=f"{key}-{i}".encode(), metrics={"auc": i / n, "loss": 1 - i / n},
                          parameters={"depth": i % 7, "lr": 0.1})  # fmt: skip
    ours, base = interleaved(
        lambda: compare(repo, ["churn-*"], all_versions=True).to_frame(),
        lambda: repo.list(key="churn-*", all_versions=True, sort="key"),
        args.rounds,
    )
    return [Result(f"12a compare 3 keys x {n} versions -> DataFrame vs list", ours, base, 1.5)]


def bench_update_model(work: Path, args: argparse.Namespace) -> list[Any]:
    """update_model (a journaled metadata revision) vs set_labels (a journaled label change)."""
    from run import Result, interleaved, repository

    from prefect_artifacts import ArtifactContext

    repo = repository(work / "update")
    ArtifactContext(repo).log_model("m", body=b"weights", metrics={"auc": 0.5})
    counter = iter(range(10**6))
    ours, base = interleaved(
        lambda: repo.revise("m", metrics={"auc": next(counter) / 1e6}, kind="model"),
        lambda: repo.set_labels("m", {"n": str(next(counter))}),
        args.rounds,
    )
    return [Result("12b update_model (a revision) vs set_labels", ours, base, 1.5)]


def bench_plotly(work: Path, args: argparse.Namespace) -> list[Any]:
    """Logging a plotly figure (HTML + plotly.js stored once) vs writing plotly's
    self-contained HTML; and bytes stored per plot."""
    import plotly.graph_objects as go
    from run import Result, interleaved, repository

    from prefect_artifacts import ArtifactContext

    repo = repository(work / "plotly")
    ctx = ArtifactContext(repo)
    counter = iter(range(10**6))

    def figure() -> Any:
        n = next(counter)
        return go.Figure(go.Scatter(x=list(range(50)), y=[n + i for i in range(50)]))

    target = work / "bare.html"
    ours, base = interleaved(
        lambda: ctx.log_plot(f"plot-{next(counter)}", figure()),
        lambda: target.write_text(figure().to_html(include_plotlyjs=True)),
        args.rounds,
    )
    one = repo.list(key="plot-*", limit=1)[0]
    blobs = Path(repo.storage.path("blobs"))
    stored = sum(p.stat().st_size for p in blobs.rglob("*") if p.is_file())
    plots = len(repo.list(key="plot-*"))
    return [
        Result(
            "12c log_plot(plotly) vs fig.to_html(include_plotlyjs=True)",
            ours,
            base,
            1.0,
            note=f"{one.size / 1024:.0f} KB per plot vs {target.stat().st_size / 1024:.0f} KB "
            f"self-contained; {plots} plots stored in {stored / 1024:.0f} KB",
        )
    ]


BENCHMARKS = {
    "models_compare": bench_compare,
    "models_update": bench_update_model,
    "models_plotly": bench_plotly,
}
