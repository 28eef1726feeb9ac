"""Every REST request and websocket `auth` checks the caller's token against the account's cutoff.

PostgreSQL holds each account's cutoff (`persistence.account_state`); this process keeps what it read in a
bounded cache (`hub.rules.revocation.CutoffCache`), kept current by the `hub_accounts` notes the realtime
listener passes to `noted`, and dropped whenever the listener is not listening (`listening(False)`), since
notes may then be missed. A hit costs a dictionary lookup; a miss one query.
"""

from __future__ import annotations

from uuid import UUID

import msgspec

from hub.errors import TokenRevoked
from hub.rules.revocation import UNKNOWN, CutoffCache, is_revoked
from persistence import account_state
from persistence.account_state import RevocationKind
from persistence.db import Database
from persistence.identity import SERVICE, Identity

__all__ = ["CUTOFF_CACHE_SIZE", "AccountNote", "TokenCutoffs", "decode_note"]

# ≈ 200 bytes an entry (a UUID key, an int, the LRU links): ≈ 10 MiB at most. Accounts beyond it are read
# again on their next request.
CUTOFF_CACHE_SIZE = 50_000


class AccountNote(msgspec.Struct, frozen=True):
    """A `hub_accounts` notification (`persistence.account_state.revoke_tokens`). A note of a kind this
    version does not know does not decode (`decode_note`): it is never taken for one it knows."""

    u: UUID  # the account
    k: RevocationKind
    a: int  # the new cutoff, microseconds since the epoch


_NOTE = msgspec.json.Decoder(AccountNote)


def decode_note(payload: str) -> AccountNote | None:
    try:
        return _NOTE.decode(payload)
    except msgspec.DecodeError:
        return None


class TokenCutoffs:
    def __init__(self, db: Database, max_entries: int = CUTOFF_CACHE_SIZE) -> None:
        self._db = db
        self.cache = CutoffCache(max_entries)

    async def check(self, identity: Identity) -> None:
        """`TokenRevoked` when the token `identity` came from was issued at or before its account's cutoff."""
        user_id = identity.user_id
        if user_id is None:
            return
        cached = self.cache.get(user_id)
        cutoff = await self._load(user_id) if cached is UNKNOWN else cached
        if is_revoked(identity.issued_us, cutoff):
            raise TokenRevoked()

    def known_revoked(self, identity: Identity) -> bool:
        """What the cache already knows, without a query: whether a note that came in while `check` was
        reading revoked the token after all."""
        if identity.user_id is None:
            return False
        cached = self.cache.get(identity.user_id)
        return cached is not UNKNOWN and is_revoked(identity.issued_us, cached)

    async def _load(self, user_id: UUID) -> int | None:
        began = self.cache.reading(user_id)
        try:
            cutoff = (await self.current([user_id])).get(user_id)
        except BaseException:
            self.cache.abandon(user_id)
            raise
        self.cache.store(user_id, cutoff, began)
        return cutoff

    async def current(self, user_ids: list[UUID]) -> dict[UUID, int]:
        """The cutoffs of `user_ids` (those that have one), read from the database, one query."""
        async with self._db.transaction(SERVICE) as conn:
            return await account_state.cutoffs_us(conn, user_ids)

    def noted(self, note: AccountNote) -> None:
        self.cache.noted(note.u, note.a)

    def forget(self, user_id: UUID) -> None:
        """This instance just committed a revocation of `user_id`: its own next request must see it at once,
        not only once the note comes back through the listener."""
        self.cache.forget(user_id)

    def missed(self) -> None:
        """A note came in that could not be read: forget every cached cutoff, as after notes were missed."""
        self.cache.reset(live=self.cache.live)

    def listening(self, live: bool) -> None:
        """The listener started (True) or stopped (False) receiving `hub_accounts` notes."""
        self.cache.reset(live=live)
