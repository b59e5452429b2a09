"""Sorting by a metric, a label and the storage location, ordered by the catalog on SQLite and
on PostgreSQL: the same order page after page (limit/offset), descending too, and versions
without the metric or label last in both directions."""

from __future__ import annotations

import pytest

from prefect_artifacts import ArtifactContext, InvalidArgumentError, Repository
from prefect_artifacts.core.filters import ArtifactFilter

AUC = [0.71, None, 0.93, 0.55, None, 0.88, 0.62, 0.97, 0.80, None, 0.66]
TEAM = ["ml", None, "bi", "ops", "ml", None, "ads", "risk", "bi", "growth", None]


def pages(repo: Repository, size: int = 3, **filters) -> list[str]:
    """Every matching version, read page by page, as ``key:version``."""
    total = repo.count(**filters)
    got: list[str] = []
    for offset in range(0, total, size):
        got += [f"{v.key}:{v.version}" for v in repo.list(limit=size, offset=offset, **filters)]
    assert len(got) == total == len(set(got))
    return got


def expected(values: list, refs: list[str], descending: bool) -> list[str]:
    """Refs ordered by value (ties by logging order, like the catalog's row id); no value last."""
    have = [(x, i) for i, x in enumerate(values) if x is not None]
    have.sort(key=lambda p: (p[0], p[1]), reverse=descending)
    missing = [i for i, x in enumerate(values) if x is None]
    return [refs[i] for _, i in have] + [
        refs[i] for i in (missing[::-1] if descending else missing)
    ]


@pytest.fixture
def logged(store: Repository) -> tuple[Repository, list[str]]:
    ctx = ArtifactContext(store)
    refs = []
    for i, (auc, team) in enumerate(zip(AUC, TEAM, strict=True)):
        v = ctx.log_model(
            f"model-{i % 4}",
            body=f"weights {i}".encode(),
            metrics={"auc": auc, "loss": 1 - i / 20} if auc is not None else {"loss": 0.5},
            labels={"team": team, "n": i} if team else {"n": i},
        )
        refs.append(f"{v.key}:{v.version}")
    return store, refs


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
def test_metric_sort_pages_through_in_order(logged, descending):
    repo, refs = logged
    sort = ("-" if descending else "") + "metric:auc"
    got = pages(repo, kind="model", all_versions=True, sort=sort)
    assert got == expected(AUC, refs, descending)
    assert (
        got[-3:]
        == [r for r, x in zip(refs, AUC, strict=True) if x is None][:: -1 if descending else 1]
    )


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
def test_label_sort_pages_through_in_order(logged, descending):
    repo, refs = logged
    sort = ("-" if descending else "") + "label:team"
    assert pages(repo, all_versions=True, sort=sort) == expected(TEAM, refs, descending)
    latest = [v.key for v in repo.list(sort=sort)]  # by each key's latest version's label
    by_team = ["model-0", "model-1", "model-3"]  # bi, growth, risk; model-2's latest has none
    assert latest == (by_team[::-1] if descending else by_team) + ["model-2"]


def test_location_sort_follows_the_shown_location(store: Repository):
    """Content paths sort as their hashes do; bytes registered in place sort by their URL,
    before or after the content paths as the strings compare."""
    ctx = ArtifactContext(store)
    fs, root = store.storage.fs, store.storage.root
    for i in range(6):
        ctx.log_artifact(f"blob-{i}", f"bytes {i}".encode())
    for name, place in [("inplace-a", root + "-a/x.bin"), ("inplace-z", root + "~z/y.bin")]:
        fs.makedirs(place.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe(place, f"placed {name}".encode())
        v = ctx.log_artifact(name, target_path=fs.unstrip_protocol(place), upload=False)
        assert v.target_path == fs.unstrip_protocol(place)
    shown = [v.target_path for v in store.list(all_versions=True, limit=100)]
    got = [v.target_path for v in store.list(sort="location", all_versions=True)]
    assert got == sorted(shown)
    assert got[0].endswith("-a/x.bin") and got[-1].endswith("~z/y.bin")  # around the blobs
    down = [v.target_path for v in store.list(sort="-location", all_versions=True)]
    assert down == sorted(shown, reverse=True)
    paged = [
        v.target_path
        for o in range(0, 8, 3)
        for v in store.list(sort="location", limit=3, offset=o)
    ]
    assert paged == sorted(shown)


@pytest.mark.parametrize(
    ("sort", "message"),
    [
        ("label:", "label:<name> takes a label name"),
        ("-label:bad name", "label:<name> takes a label name"),
        ("label:" + "x" * 65, "label:<name> takes a label name"),
        ("locations", "cannot sort by 'locations'"),
    ],
)
def test_bad_label_and_location_sorts_are_refused(sort, message):
    with pytest.raises(InvalidArgumentError, match=message):
        ArtifactFilter.of(sort=sort)
    assert ArtifactFilter.of(sort="-label:team.name_2").sort_label == "team.name_2"


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
def test_label_sort_with_label_and_key_filters(logged, descending):
    """The label sort checks each labelled version against the whole filter, label filters on
    other labels and key globs included, before the page is cut."""
    repo, refs = logged
    sort = ("-" if descending else "") + "label:n"
    bi = [refs[i] for i, team in enumerate(TEAM) if team == "bi"]  # n = "2" and "8"
    got = pages(repo, size=1, all_versions=True, sort=sort, labels={"team": "bi"})
    assert got == (bi[::-1] if descending else bi)
    keyed = [i for i in range(len(refs)) if i % 4 in (0, 2)]  # model-0 and model-2
    want = sorted(keyed, key=lambda i: str(i), reverse=descending)  # "n" values are strings
    got = pages(repo, size=2, all_versions=True, sort=sort, key="model-[02]")
    assert got == [refs[i] for i in want]
