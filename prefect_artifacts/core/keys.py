"""Validation of keys, tags, labels and projects, and parsing of references (``key:3``, ``key@prod``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from .errors import InvalidArgumentError, InvalidKeyError

KEY_MAX = 128
MAX_VERSION = 2**31 - 1  # the catalog's version column
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_NAME_RE = re.compile(_NAME)
_REF_RE = re.compile(
    rf"(?:artifact://)?(?:(?P<project>{_NAME})/)?(?P<key>{_NAME})(?:#(?P<iteration>[0-9]{{1,10}}))?"
    r"(?::(?P<version>[0-9]+|latest))?(?:@(?P<tag>" + _NAME + r"))?"
)
# MLRun's store URIs: store://artifacts/<project>/<key>[#iter][:tag][@tree]. There ``:`` names a
# tag; here ``:`` is a version and ``@`` a tag, so ``:prod`` maps to ``@prod`` (``:3``, which no
# tag can be here, to version 3; ``:latest`` to the latest).
_STORE_RE = re.compile(
    rf"store://(?:artifacts|models|datasets|plots)/(?P<project>{_NAME})/(?P<key>{_NAME})"
    r"(?:#(?P<iteration>[0-9]{1,10}))?(?::(?P<tag>" + _NAME + r"))?(?:@(?P<tree>[^/]*))?"
)
RESERVED_TAGS = {"latest"}


def _check_name(value: Any, what: str, limit: int, example: str) -> str:
    if not isinstance(value, str):
        raise InvalidKeyError(
            f"{what} must be a string, got {type(value).__name__}; e.g. {example!r}"
        )
    if not value or len(value) > limit or not _NAME_RE.fullmatch(value):
        shown = value if len(value) <= 60 else value[:60] + "…"
        raise InvalidKeyError(
            f"invalid {what} {shown!r}: use 1-{limit} letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit (e.g. {example!r})"
        )
    return value


def validate_name(name: Any, what: str) -> str:
    """Names of extra-data items and similar: the same rules as keys."""
    return _check_name(name, what, KEY_MAX, "confusion")


def safe_filename(name: str | None, fallback: str) -> str:
    """The last component of ``name`` (no folders, no ``..``), or ``fallback``: a file name that
    cannot escape the folder it is written to."""
    base = PurePosixPath(str(name or "").replace("\\", "/")).name
    return base if base not in ("", ".", "..") and "\x00" not in base else fallback


def validate_filename(name: Any, what: str) -> str:
    """A plain file name such as ``my_model.pkl``: no folders, no ``..``."""
    if not isinstance(name, str) or not name or safe_filename(name, "") != name or len(name) > 255:
        raise InvalidArgumentError(
            f"{what} must be a plain file name such as 'my_model.pkl' (no folders or '..', at "
            f"most 255 characters), got {str(name)[:80]!r}"
        )
    return name


def validate_key_pattern(pattern: Any) -> str:
    """A key filter: a name or a glob (``*``, ``?``, ``[ab]``, ``[a-z]``, ``[!x]``) of bounded
    complexity, every class closed and every range in order."""
    if not isinstance(pattern, str) or len(pattern) > 200:
        raise InvalidArgumentError(f"key filter must be a name or glob, got {pattern!r:.80}")
    if pattern.count("*") + pattern.count("?") > 8:
        raise InvalidArgumentError("a key glob may hold at most 8 wildcards (* or ?)")
    for match in re.finditer(r"\[", pattern):
        end = pattern.find("]", match.end() + 1)
        body = pattern[match.end() : end].removeprefix("!")
        if end == -1 or not body:
            raise InvalidArgumentError(
                f"key glob {pattern[:80]!r} opens a [class] that is not closed; write "
                "[abc] or [a-z], or leave the bracket out"
            )
        for low, high in re.findall(r"(.)-(.)", body):
            if low > high:
                raise InvalidArgumentError(
                    f"key glob {pattern[:80]!r} has the range {low}-{high}, which is backwards; "
                    f"write {high}-{low}"
                )
    return pattern


def validate_key(key: Any) -> str:
    return _check_name(key, "artifact key", KEY_MAX, "clean-events")


def validate_project(project: Any) -> str:
    return _check_name(project, "project name", 64, "default")


def validate_tag(tag: Any) -> str:
    _check_name(tag, "tag", 64, "prod")
    if tag in RESERVED_TAGS or tag.isdigit():
        raise InvalidKeyError(
            f"tag {tag!r} is reserved: 'latest' always means the highest version and numbers are "
            "versions; choose a name such as 'prod'"
        )
    return str(tag)


def validate_labels(labels: Any) -> dict[str, str]:
    """Labels are ``{name: value}``; scalar values are stored as strings."""
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise InvalidKeyError(
            f"labels must be a dict such as {{'team': 'ml'}}, got {type(labels).__name__}"
        )
    clean: dict[str, str] = {}
    for name, value in labels.items():
        _check_name(name, "label name", 64, "team")
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, (int, float, str)):
            value = str(value)
        else:
            raise InvalidKeyError(
                f"label {name!r} has a {type(value).__name__} value; label values are strings, "
                "numbers or booleans"
            )
        if len(value) > 256 or "\n" in value:
            raise InvalidKeyError(f"label {name!r}: values are one line of at most 256 characters")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidKeyError(
                    f"label {name!r} contains a lone surrogate, which is not valid Unicode text"
                ) from None
        clean[name] = value
    return clean


@dataclass(frozen=True)
class Ref:
    """A parsed reference: ``[project/]key[:version|:latest][@tag]``."""

    key: str
    project: str | None = None
    version: int | None = None
    tag: str | None = None
    latest: bool = False  # written as key:latest — one version, the newest
    iteration: int | None = None  # written as key#2 — the newest version of iteration 2
    tree: str | None = None  # MLRun's @<tree>: the producing run's id (or the version's uid)

    def __str__(self) -> str:
        text = f"{self.project}/{self.key}" if self.project else self.key
        if self.iteration is not None:
            text += f"#{self.iteration}"
        if self.version is not None:
            text += f":{self.version}"
        elif self.latest:
            text += ":latest"
        if self.tag:
            text += f"@{self.tag}"
        return text

    @property
    def pinned(self) -> bool:
        """True when the reference names one version (number, tag or ``:latest``) rather than
        the whole key."""
        return (
            self.version is not None
            or self.tag is not None
            or self.latest
            or self.iteration is not None
        )


def parse_ref(
    ref: Any, *, version: int | None = None, tag: str | None = None, project: str | None = None
) -> Ref:
    """Parse ``key``, ``key:3``, ``key@prod``, ``key#2`` (iteration 2), ``project/key:3``,
    ``artifact://project/key:3`` or MLRun's ``store://artifacts/project/key#2:prod``."""
    if not isinstance(ref, str):
        raise InvalidKeyError(f"an artifact reference is a string like 'my_data:3', got {ref!r}")
    if ref.startswith("store://"):
        return _parse_store_uri(ref, version=version, tag=tag, project=project)
    match = _REF_RE.fullmatch(ref)
    if not match or len(match["key"]) > KEY_MAX:
        head, colon, name = ref.rpartition(":")
        if colon and "@" not in ref and _REF_RE.fullmatch(f"{head}@{name}"):
            raise InvalidKeyError(
                f"invalid artifact reference {ref[:80]!r}: ':' names a version number here, "
                f"'@' a tag — for the tag {name[:40]!r} write {f'{head}@{name}'[:80]!r} "
                "(MLRun's 'key:tag')"
            )
        raise InvalidKeyError(
            f"invalid artifact reference {ref[:80]!r}: use 'key', 'key:3' (a version), "
            "'key@prod' (a tag) or 'project/key:3'"
        )
    ref_version = match["version"]
    parsed_version = (
        None
        if ref_version in (None, "latest")
        else int(ref_version)
        if len(ref_version) <= 12
        else MAX_VERSION + 1
    )
    if version is not None:
        if not isinstance(version, int) or isinstance(version, bool):
            raise InvalidKeyError(f"version must be a positive integer, got {version!r}")
        parsed_version = version
    if parsed_version is not None and not 1 <= parsed_version <= MAX_VERSION:
        raise InvalidKeyError(
            f"{ref[:80]!r}: version {str(parsed_version)[:30]} is out of range; versions are "
            f"numbered from 1 to {MAX_VERSION}"
        )
    parsed_tag = tag if tag is not None else match["tag"]
    if parsed_tag is not None:
        validate_tag(parsed_tag)
    if parsed_version is not None and parsed_tag is not None:
        raise InvalidKeyError(f"{ref!r}: give a version or a tag, not both")
    return Ref(
        key=match["key"],
        project=validate_project(project) if project else match["project"],
        version=parsed_version,
        tag=parsed_tag,
        latest=ref_version == "latest" and parsed_version is None and parsed_tag is None,
        iteration=int(match["iteration"]) if match["iteration"] else None,
    )


def _parse_store_uri(uri: str, *, version: int | None, tag: str | None, project: str | None) -> Ref:
    """An MLRun store URI mapped onto a reference (see ``_STORE_RE``)."""
    match = _STORE_RE.fullmatch(uri)
    if not match or len(match["key"]) > KEY_MAX:
        raise InvalidKeyError(
            f"invalid store URI {uri[:80]!r}: use store://artifacts/<project>/<key>[#iter][:tag] "
            "(or 'key', 'key:3' for a version, 'key@prod' for a tag)"
        )
    tree = match["tree"] or None
    if tree is not None and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", tree):
        raise InvalidKeyError(
            f"{uri[:80]!r}: the tree @{tree[:40]} must be a run id or a version uid"
        )
    ours = f"{match['project']}/{match['key']}"
    if match["iteration"]:
        ours += f"#{match['iteration']}"
    store_tag = match["tag"]
    if store_tag is not None:
        ours += f":{store_tag}" if store_tag.isdigit() or store_tag == "latest" else f"@{store_tag}"
    parsed = parse_ref(ours, version=version, tag=tag, project=project)
    if tree is None:
        return parsed
    from dataclasses import replace

    return replace(parsed, tree=tree)
