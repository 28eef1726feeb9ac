"""Keyed coalescing of high-rate state (vote counts, question votes, participant count, leaderboard).

Semantics, per key, with window ``W`` (default 0.1 s):

* ``offer`` replaces the pending value; only the latest is ever emitted.
* Leading edge: a value offered when the key has not been emitted during the
  last ``W`` seconds is due at once (``due(now)`` returns it at the same ``now``).
* Otherwise it is due at ``last_emit + W``. ``last_emit`` is the ``now`` of the
  ``due`` call that emitted it, so two emits of one key are always at least
  ``W`` apart, and a storm yields about one emit per key per ``W``.
* A key with nothing pending and no emit during the last ``W`` is forgotten,
  so memory follows the number of keys active in the last window.

The clock is the caller's (monotonic seconds); nothing here reads time.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Coalescer"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(slots=True)
class _Slot(Generic[V]):
    last_emit: float | None
    pending: V
    has_pending: bool
    deadline: float  # meaningful only while has_pending


class Coalescer(Generic[K, V]):
    def __init__(self, window: float = 0.1) -> None:
        if window <= 0:
            raise ValueError("window must be > 0")
        self.window = window
        self._slots: dict[K, _Slot[V]] = {}

    def __len__(self) -> int:
        """Number of keys with a pending value."""
        return sum(1 for slot in self._slots.values() if slot.has_pending)

    def offer(self, key: K, value: V, now: float) -> None:
        slot = self._slots.get(key)
        if slot is None:
            self._slots[key] = _Slot(None, value, True, now)
            return
        if not slot.has_pending:
            if slot.last_emit is None or now - slot.last_emit >= self.window:
                slot.deadline = now
            else:
                slot.deadline = slot.last_emit + self.window
            slot.has_pending = True
        slot.pending = value

    def due(self, now: float) -> list[tuple[K, V]]:
        """Pop every value whose deadline has passed, earliest deadline first."""
        ready: list[tuple[float, K, _Slot[V]]] = []
        stale: list[K] = []
        for key, slot in self._slots.items():
            if slot.has_pending:
                if slot.deadline <= now:
                    ready.append((slot.deadline, key, slot))
            elif slot.last_emit is None or now - slot.last_emit >= self.window:
                stale.append(key)
        for key in stale:
            del self._slots[key]
        ready.sort(key=lambda item: item[0])  # stable: ties keep offer order
        out: list[tuple[K, V]] = []
        for _, key, slot in ready:
            out.append((key, slot.pending))
            slot.has_pending = False
            slot.last_emit = now
        return out

    def next_deadline(self) -> float | None:
        """When ``due`` will next return something; ``None`` when nothing is pending."""
        deadlines = [slot.deadline for slot in self._slots.values() if slot.has_pending]
        return min(deadlines) if deadlines else None
