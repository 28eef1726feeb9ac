"""One loop timer for every websocket's next protocol deadline (auth deadline, token expiry).

A ``loop.call_later`` handle per connection costs ≈ 0.5 KiB for as long as the connection lives; an entry here
is a heap entry and a dict entry, ≈ 0.2 KiB. Times are ``time.monotonic()`` seconds, as the protocol core's.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from typing import Protocol

__all__ = ["COMPACT_SLACK", "Deadlines", "Due"]

log = logging.getLogger("hub.realtime.deadlines")

# Stale heap entries tolerated beyond twice the live ones before the heap is rebuilt from the live times.
COMPACT_SLACK = 1024


class Due(Protocol):
    def on_deadline(self) -> None:
        """Called once, at or shortly after the time it was registered for."""
        ...


class Deadlines:
    """At most one pending time per owner; :meth:`set` replaces it, :meth:`clear` drops it.

    Replaced and cleared times stay in the heap until they come up and are then skipped (an entry is
    live only while the owner's current time is that very time), or until stale ones outnumber the live
    ones twice over and the heap is rebuilt; the heap never holds an owner, only its id.
    """

    __slots__ = ("_due", "_heap", "_timer", "_timer_at")

    def __init__(self) -> None:
        self._due: dict[int, tuple[float, Due]] = {}
        self._heap: list[tuple[float, int]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def __len__(self) -> int:
        return len(self._due)

    def set(self, owner: Due, when: float) -> None:
        key = id(owner)
        self._due[key] = (when, owner)
        heapq.heappush(self._heap, (when, key))
        if self._timer is None or when < self._timer_at:
            self._arm(when)

    def clear(self, owner: Due) -> None:
        self._due.pop(id(owner), None)
        if len(self._heap) > 2 * len(self._due) + COMPACT_SLACK:
            # Closed connections' times would otherwise stay until they come up (up to a token's lifetime).
            self._heap = [(when, key) for key, (when, _) in self._due.items()]
            heapq.heapify(self._heap)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._due.clear()
        self._heap.clear()

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = asyncio.get_running_loop().call_later(max(0.0, when - time.monotonic()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = time.monotonic()
        due: list[Due] = []
        while self._heap and self._heap[0][0] <= now:
            when, key = heapq.heappop(self._heap)
            entry = self._due.get(key)
            if entry is not None and entry[0] == when:
                del self._due[key]
                due.append(entry[1])
        # Called after the heap walk: an owner that sets a new time from its callback is not run again here.
        for owner in due:
            try:
                owner.on_deadline()
            except Exception:
                log.exception("deadline callback failed")
        if self._heap and (self._timer is None or self._heap[0][0] < self._timer_at):
            self._arm(self._heap[0][0])
