"""Named fault points on the commit and delete protocols, for crash tests.

``PREFECT_ARTIFACTS_FAULTS=after-commit`` makes the process exit abruptly (``os._exit(86)``, as
a kill would) when it reaches the point of that name. Unset, a fault point is one set lookup.
"""

from __future__ import annotations

import os

EXIT_CODE = 86
POINTS = (
    "after-blob",  # bytes stored at their content address, nothing in the catalog yet
    "before-commit",  # inside the catalog transaction, rows written, not committed
    "after-commit",  # any change committed; its manifest or journal entry still in the outbox
    "after-drain",  # the outbox written to storage and cleared
    "delete-before-commit",  # a delete's rows removed, not committed
    "delete-after-drain",  # a delete committed and journaled, its bytes not yet removed
)
_armed = frozenset(filter(None, os.environ.get("PREFECT_ARTIFACTS_FAULTS", "").split(",")))


def fault_point(name: str) -> None:
    if name in _armed:
        os._exit(EXIT_CODE)
