"""Sorting by a metric, a label and the storage location, ordered by the catalog on SQLite and
on PostgreSQL: the same order page after page (limit/offset), descending too, and versions
without the metric or label last in both directions."""

from __future__ import annotations

import pytest

from prefect_artifacts import ArtifactContext, InvalidArgumentError, Repository
from prefect_artifacts.core.filters import ArtifactFilter
from tests.conftest import drop_tables_after

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


DEPTH = [9, None, 10, 2.5, "deep", 100, None, "auto", 0, "Été"]


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
def test_parameter_sort_numbers_by_value_then_text_then_missing(store, descending):
    """Numbers by value (10 after 9, not before it as text), other values as text after them,
    versions without the parameter last; a non-ASCII name works on both backends."""
    ctx = ArtifactContext(store)
    refs = []
    for i, depth in enumerate(DEPTH):
        params = {"max depth": depth, "é": -i} if depth is not None else {"lr": 0.1}
        v = ctx.log_model(f"m-{i % 3}", body=b"w%d" % i, parameters=params)
        refs.append(f"{v.key}:{v.version}")
    sort = ("-" if descending else "") + "param:max depth"
    numbers = [x if isinstance(x, (int, float)) else None for x in DEPTH]
    texts = [x if isinstance(x, str) else None for x in DEPTH]
    with_number = expected(numbers, refs, descending)[: sum(x is not None for x in numbers)]
    with_text = expected(texts, refs, descending)[: sum(x is not None for x in texts)]
    missing = [r for r, x in zip(refs, DEPTH, strict=True) if x is None]
    want = with_number + with_text + missing[:: -1 if descending else 1]
    assert pages(store, kind="model", all_versions=True, sort=sort) == want
    by_e = [f"{v.key}:{v.version}" for v in store.list(all_versions=True, sort="param:é")]
    assert by_e[:3] == [refs[9], refs[8], refs[7]]


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


def test_label_names_of_a_project_for_the_labels_menu(store: Repository) -> None:
    """The labels menu offers every label name used in the project — not only those on the
    page shown — and none used only in another project."""
    here, there = ArtifactContext(store, "here"), ArtifactContext(store, "there")
    for i in range(30):
        here.log_artifact(f"k{i}", b"x%d" % i, labels={f"name-{i % 7}": "v", "team": "ml"})
    there.log_artifact("other", b"y", labels={"elsewhere": "1", "team": "bi"})
    names = store.catalog.label_names("here")
    assert names == sorted([f"name-{i}" for i in range(7)] + ["team"])
    assert store.catalog.label_names("there") == ["elsewhere", "team"]
    assert store.catalog.label_names("nobody") == []
    # a page of 3 versions carries 3 of them; the project has all 8
    assert len({n for v in store.list(project="here", limit=3) for n in v.labels}) < len(names)


def test_metric_history_reads_every_versions_metrics_in_order(store: Repository) -> None:
    """The model page's charts: (version, metrics) oldest first; a version without metrics
    gives {} (on SQLite and PostgreSQL alike)."""
    ctx = ArtifactContext(store)
    for i, auc in enumerate(AUC):
        metrics = {"auc": auc, "loss": 1 - auc} if auc is not None else None
        ctx.log_model("m", body=b"w%d" % i, metrics=metrics)
    history = store.metric_history("m")
    assert [n for n, _ in history] == list(range(1, len(AUC) + 1))
    assert [m.get("auc") for _, m in history] == AUC
    assert history[1][1] == {}
    assert history[0][1] == {"auc": 0.71, "loss": 1 - 0.71}


def test_migration_0006_fills_the_location_column_of_older_versions(store: Repository):
    """A catalog at revision 0005 kept the URL of bytes registered in place only in the
    metadata: upgrading copies it into the indexed column, and the location sort agrees."""
    import sqlalchemy as sa

    from prefect_artifacts.core.catalog import Catalog
    from prefect_artifacts.core.catalog.migrate import VERSION_TABLE, head

    ctx = ArtifactContext(store)
    fs, root = store.storage.fs, store.storage.root
    ctx.log_artifact("blob", b"stored here")
    places = {}
    for name in ("m", "b"):
        place = f"{root}-{name}/x.bin"
        fs.makedirs(place.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe(place, name.encode())
        places[name] = ctx.log_artifact(name, target_path=fs.unstrip_protocol(place), upload=False)
    url = store.catalog.db.url
    store.catalog.dispose()
    engine = sa.create_engine(url)
    drop_tables_after(engine, "0006")  # tables of later revisions, which 0005 lacks
    with engine.begin() as conn:  # back to revision 0005: no column, no index, no later tables
        conn.execute(sa.text("DROP INDEX ix_artifact_versions_sort_source"))
        conn.execute(sa.text("ALTER TABLE artifact_versions DROP COLUMN source_url"))
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '0005'"))
    engine.dispose()
    catalog = Catalog(url)
    try:
        assert catalog.revision() == ("0005", head())
        catalog.projects()  # the first use upgrades
        assert catalog.revision() == (head(), head())
        with catalog.db.connect(write=False) as conn:
            filled = dict(
                conn.execute(sa.text("SELECT key, source_url FROM artifact_versions")).all()
            )
        assert filled == {
            "blob": None,
            **{n: v.target_path for n, v in places.items()},
        }
        upgraded = Repository(store.storage, catalog)
        got = [v.key for v in upgraded.list(sort="location", all_versions=True)]
        shown = {v.key: v.target_path for v in upgraded.list(all_versions=True)}
        assert got == sorted(shown, key=shown.get)
    finally:
        catalog.dispose()


def test_count_stops_where_asked(logged):
    """The list page counts its matches no further than it shows ("2,000+"): the count is exact
    below the bound and the bound itself above it, with a label filter too."""
    from prefect_artifacts.core.repository.reader import count

    repo, refs = logged
    every = ArtifactFilter.of(all_versions=True)
    assert count(repo, every) == len(refs)
    assert count(repo, every, at_most=4) == 4
    assert count(repo, every, at_most=len(refs) + 5) == len(refs)
    ml = ArtifactFilter.of(all_versions=True, labels=["team=ml"])
    assert count(repo, ml, at_most=1) == 1 and count(repo, ml, at_most=10) == 2
