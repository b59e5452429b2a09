import pytest

from prefect_artifacts.core.errors import InvalidKeyError
from prefect_artifacts.core.keys import Ref, parse_ref, validate_key, validate_labels, validate_tag


@pytest.mark.parametrize("key", ["a", "my_data", "clean-events", "v1.2", "9lives", "k" * 128])
def test_valid_keys(key):
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "../x", "a/b", "a\nb", "k" * 129, "-a", ".hidden", "a b", "a:b", "a@b", "ü", None, 5],
)
def test_invalid_keys_are_value_errors_naming_the_rule(key):
    with pytest.raises(ValueError) as err:
        validate_key(key)
    assert isinstance(err.value, InvalidKeyError)
    assert "key" in str(err.value)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("k", Ref("k")),
        ("k:3", Ref("k", version=3)),
        ("k:latest", Ref("k", latest=True)),
        ("k@prod", Ref("k", tag="prod")),
        ("proj/k:2", Ref("k", project="proj", version=2)),
        ("artifact://proj/k:2", Ref("k", project="proj", version=2)),
    ],
)
def test_parse_ref(ref, expected):
    assert parse_ref(ref) == expected
    assert parse_ref(str(expected)) == expected


@pytest.mark.parametrize(
    "ref", ["", "k:", "k:abc", "k:0", "k:3@prod", "a/b/c", "k@", "k@latest", 3]
)
def test_bad_refs(ref):
    with pytest.raises(InvalidKeyError):
        parse_ref(ref)


def test_ref_keywords_override():
    assert parse_ref("k", version=4) == Ref("k", version=4)
    assert parse_ref("k", tag="prod", project="p") == Ref("k", project="p", tag="prod")
    with pytest.raises(InvalidKeyError):
        parse_ref("k", version=0)


@pytest.mark.parametrize("tag", ["latest", "3", "", "a b", "x" * 65])
def test_reserved_and_bad_tags(tag):
    with pytest.raises(InvalidKeyError):
        validate_tag(tag)


def test_labels_are_strings():
    assert validate_labels({"team": "ml", "n": 3, "ok": True}) == {
        "team": "ml",
        "n": "3",
        "ok": "true",
    }
    assert validate_labels(None) == {}
    for bad in (
        {"": "x"},
        {"a b": "x"},
        {"k": {"nested": 1}},
        {"k": None},
        ["team"],
        {"k": "x" * 257},
        {"k": "two\nlines"},
    ):
        with pytest.raises(InvalidKeyError):
            validate_labels(bad)
