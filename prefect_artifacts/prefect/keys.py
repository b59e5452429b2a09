"""Our keys as Prefect artifact keys: readable, and one-to-one.

Prefect artifact keys allow only lowercase letters, digits and dashes. A key of the default
project that already fits (and could not be mistaken for a suffixed one) is used as it is:
``churn-model`` → ``churn-model``. Anything else — upper case, ``.`` or ``_``, another project —
becomes a readable slug plus a short hash of the original: ``my_data`` → ``my-data-5d41402a``,
``My-Data`` → ``my-data-0e5fa1c2``, project ``a-b`` + key ``c`` → ``a-b-c-41a1b6f0``. The two
forms never meet: a plain key never ends in ``-`` + 8 hex digits and a suffixed one always does,
and the suffix tells apart inputs that share a slug. The dataset preview table is the card's key
plus ``--preview``, which no mapped key contains.
"""

from __future__ import annotations

import hashlib
import re

DEFAULT_PROJECT = "default"
PREVIEW = "--preview"
SLUG_MAX = 80
_PLAIN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_SUFFIXED = re.compile(r".*-[0-9a-f]{8}")


def prefect_key(project: str, key: str) -> str:
    """The Prefect artifact key of ``project/key``: injective, readable."""
    if (
        project == DEFAULT_PROJECT
        and len(key) <= SLUG_MAX
        and _PLAIN.fullmatch(key)
        and not _SUFFIXED.fullmatch(key)
    ):
        return key
    text = key if project == DEFAULT_PROJECT else f"{project}-{key}"
    slug = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]", "-", text.lower())).strip("-")
    digest = hashlib.sha256(f"{project}\0{key}".encode()).hexdigest()[:8]
    return f"{slug[:SLUG_MAX].rstrip('-') or 'artifact'}-{digest}"


def preview_key(project: str, key: str) -> str:
    """The Prefect key of a dataset's preview table."""
    return prefect_key(project, key) + PREVIEW
