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


class _Reads:
    """The database reads of one user's cutoff in flight, and when a change of it last came in."""

    __slots__ = ("changed", "count")

    def __init__(self) -> None:
        self.count = 0
        self.changed = 0  # the cache's `_clock` at the user's last note or forget


class CutoffCache:
    """user → cutoff (None: the account was never revoked), least recently used evicted beyond `max_entries`.

    Only trusted while `live`: while the instance LISTENs on `hub_accounts`, every later change reaches
    `noted`. Anything else (the listener's connection lost, or not yet up) empties it and makes every lookup a
    miss until `reset(live=True)`. A value read from the database (`reading`, then `store`) is stored only if
    no note or `forget` of that user and no reset came in while it was being read, so a read that began
    before a revocation's commit cannot overwrite the note that followed it. Per user: a revocation of one
    account does not throw away the reads in flight of every other."""

    __slots__ = ("_clock", "_entries", "_reads", "_reset_at", "live", "max_entries")

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[UUID, int | None] = OrderedDict()
        self.live = False
        # Counts changes (notes, forgets, resets): a read is stale when a change of its user, or a reset,
        # came after it began. Only users with a read in flight are tracked, so this stays bounded.
        self._clock = 0
        self._reset_at = 0
        self._reads: dict[UUID, _Reads] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, user_id: UUID) -> int | Literal[_Unknown.UNKNOWN] | None:
        cutoff = self._entries.get(user_id, UNKNOWN)
        if cutoff is not UNKNOWN:
            self._entries.move_to_end(user_id)
        return cutoff

    def reading(self, user_id: UUID) -> int:
        """A read of the user's cutoff from the database begins; pass the answer to `store` (or, if the read
        failed, call `abandon`) once it ends."""
        reads = self._reads.get(user_id)
        if reads is None:
            reads = self._reads[user_id] = _Reads()
        reads.count += 1
        return self._clock

    def store(self, user_id: UUID, cutoff_us: int | None, began: int) -> None:
        """The cutoff a read that began at `began` (`reading`) found."""
        changed = self._end_read(user_id)
        if self.live and changed <= began and self._reset_at <= began:
            self._put(user_id, cutoff_us)

    def abandon(self, user_id: UUID) -> None:
        """The read `reading` began failed."""
        self._end_read(user_id)

    def _end_read(self, user_id: UUID) -> int:
        reads = self._reads[user_id]
        reads.count -= 1
        if not reads.count:
            del self._reads[user_id]
        return reads.changed

    def noted(self, user_id: UUID, cutoff_us: int) -> None:
        """A `hub_accounts` note: the cutoff the revocation committed (notes arrive in commit order, and a
        cutoff never moves back, so the note's value is the current one)."""
        self._changed(user_id)
        if self.live:
            self._put(user_id, cutoff_us)

    def forget(self, user_id: UUID) -> None:
        """The user's cutoff changed and its note may not be here yet: read it again at the next lookup."""
        self._changed(user_id)
        self._entries.pop(user_id, None)

    def reset(self, *, live: bool) -> None:
        self._entries.clear()
        self._clock += 1
        self._reset_at = self._clock
        self.live = live

    def _changed(self, user_id: UUID) -> None:
        reads = self._reads.get(user_id)
        if reads is not None:
            self._clock += 1
            reads.changed = self._clock

    def _put(self, user_id: UUID, cutoff_us: int | None) -> None:
        self._entries[user_id] = cutoff_us
        self._entries.move_to_end(user_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
