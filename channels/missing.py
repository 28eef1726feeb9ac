"""Ids found missing, remembered for a short while: a client subscribing to an unknown ``thread:<uuid>``
again and again is answered ``not_found`` without a database transaction each time.

Pure: the caller passes ``now`` (monotonic seconds). At most ``max_entries`` ids are kept, the least
recently used dropped first, each for ``ttl_s`` seconds. Posts and sessions get server-generated random
UUIDs, so no client can name a row before it commits and learns its id from the hub; a remembered id can only
turn out stale for a row inserted out of band with a chosen id (an import or restore), and then only for
``ttl_s``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["MissingIds"]


class MissingIds:
    def __init__(self, ttl_s: float, max_entries: int) -> None:
        if ttl_s < 0 or max_entries < 1:
            raise ValueError("ttl_s must be >= 0 and max_entries >= 1")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._until: OrderedDict[Hashable, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._until)

    def add(self, key: Hashable, now: float) -> None:
        self._until[key] = now + self.ttl_s
        self._until.move_to_end(key)
        if len(self._until) > self.max_entries:
            self._until.popitem(last=False)

    def is_missing(self, key: Hashable, now: float) -> bool:
        until = self._until.get(key)
        if until is None:
            return False
        if now >= until:
            del self._until[key]
            return False
        self._until.move_to_end(key)
        return True
