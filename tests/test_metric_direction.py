"""Which way a metric improves: names that are times, latencies, durations, sizes, losses and
errors (or end in a unit such as _ms) are lower-is-better; PREFECT_ARTIFACTS_METRIC_DIRECTIONS
overrides by name or pattern, inline, as JSON or from a file; a bad value names the fix."""

from __future__ import annotations

import pytest

from prefect_artifacts.core.compare import metric_direction
from prefect_artifacts.core.errors import InvalidArgumentError

ENV = "PREFECT_ARTIFACTS_METRIC_DIRECTIONS"


@pytest.mark.parametrize(
    "name",
    ["logloss", "val_loss", "rmse", "mae", "train_time", "fit_time_s", "p95_ms", "zz_latency_ms",
     "duration", "model_size", "error_rate", "inference_seconds", "peak_mb", "cost"],
)  # fmt: skip
def test_lower_is_better_names(name, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    direction, why = metric_direction(name)
    assert direction == "min" and why.startswith("assumed"), (name, why)


@pytest.mark.parametrize("name", ["auc", "f1", "accuracy", "recall", "uptime", "throughput"])
def test_higher_is_better_names(name, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert metric_direction(name) == ("max", "assumed: higher is better")


def test_the_override_inline_json_and_file(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, "uptime=min, *_ms=max, zz_latency_ms=min")
    assert metric_direction("uptime") == ("min", f"set in {ENV}")
    assert metric_direction("p50_ms")[0] == "max"  # the pattern
    assert metric_direction("zz_latency_ms")[0] == "min"  # an exact name wins over a pattern
    monkeypatch.setenv(ENV, '{"auc": "lower"}')
    assert metric_direction("auc")[0] == "min"
    path = tmp_path / "directions.txt"
    path.write_text("# per repository\nlogloss=max\n")
    monkeypatch.setenv(ENV, str(path))
    assert metric_direction("logloss") == ("max", f"set in {ENV}")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("auc=up", "write each entry as name=min or name=max"),
        ("/no/such/file", "neither name=min|max pairs, a JSON object, nor an existing file"),
        ("{not json", "invalid JSON"),
    ],
)
def test_a_bad_override_names_the_fix(value, message, monkeypatch):
    monkeypatch.setenv(ENV, value)
    with pytest.raises(InvalidArgumentError, match=message):
        metric_direction("auc")
