"""Recently read version records, keyed by their stamp, so a repeated lookup of an unchanged
version costs one indexed query instead of five (the record's row, labels, tags, extra data and
parts)."""

from __future__ import annotations

import pickle
import threading
from collections import OrderedDict
from typing import Any

from .records import VersionRecord


class RecentRecords:
    """A small LRU of records by stamp (row id, uid, updated_at, key sequence). Records are kept
    pickled and every hit is a fresh copy, so a caller changing one never changes the cache."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, stamp: tuple[Any, ...]) -> VersionRecord | None:
        with self._lock:
            data = self._items.get(stamp)
            if data is None:
                return None
            self._items.move_to_end(stamp)
        record: VersionRecord = pickle.loads(data)
        return record

    def put(self, stamp: tuple[Any, ...], record: VersionRecord) -> None:
        data = pickle.dumps(record, pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._items[stamp] = data
            self._items.move_to_end(stamp)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
