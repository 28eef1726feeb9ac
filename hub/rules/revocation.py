"""When an access token stops counting, and the per-process memory of each account's cutoff.

An account's cutoff (`private.token_cutoffs`, in microseconds since the epoch) moves forward at each
revocation; a token counts only when it was issued strictly after it (`Identity.issued_us`).
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from typing import Final, Literal
from uuid import UUID


def is_revoked(issued_us: int, cutoff_us: int | None) -> bool:
    """A token issued at `issued_us` is revoked by a cutoff at or after that moment; None: never revoked."""
    return cutoff_us is not None and issued_us <= cutoff_us


class _Unknown(enum.Enum):
    """The cache does not know the user's cutoff (distinct from None: known to have none)."""

    UNKNOWN = "unknown"


UNKNOWN: Final = _Unknown.UNKNOWN


class CutoffCache:
    """user → cutoff (None: the account was never revoked), least recently used evicted beyond `max_entries`.

    Only trusted while `live`: while the instance LISTENs on `hub_accounts`, every later change reaches
    `noted`. Anything else (the listener's connection lost, or not yet up) empties it and makes every lookup a
    miss until `reset(live=True)`. A value read from the database is stored only if no note and no reset
    came in while it was being read (`generation`), so a read that began before a revocation's commit
    cannot overwrite the note that followed it."""

    __slots__ = ("_entries", "generation", "live", "max_entries")

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[UUID, int | None] = OrderedDict()
        self.live = False
        self.generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, user_id: UUID) -> int | Literal[_Unknown.UNKNOWN] | None:
        cutoff = self._entries.get(user_id, UNKNOWN)
        if cutoff is not UNKNOWN:
            self._entries.move_to_end(user_id)
        return cutoff

    def store(self, user_id: UUID, cutoff_us: int | None, generation: int) -> None:
        """A cutoff read from the database while the cache's generation was `generation`."""
        if self.live and generation == self.generation:
            self._put(user_id, cutoff_us)

    def noted(self, user_id: UUID, cutoff_us: int) -> None:
        """A `hub_accounts` note: the cutoff the revocation committed (notes arrive in commit order, and a
        cutoff never moves back, so the note's value is the current one)."""
        self.generation += 1
        if self.live:
            self._put(user_id, cutoff_us)

    def forget(self, user_id: UUID) -> None:
        """The user's cutoff changed and its note may not be here yet: read it again at the next lookup."""
        self.generation += 1
        self._entries.pop(user_id, None)

    def reset(self, *, live: bool) -> None:
        self._entries.clear()
        self.generation += 1
        self.live = live

    def _put(self, user_id: UUID, cutoff_us: int | None) -> None:
        self._entries[user_id] = cutoff_us
        self._entries.move_to_end(user_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
