"""Single-use tickets for `GET /sse`: `EventSource` cannot send an `Authorization` header, so the browser
trades its bearer token for a short-lived ticket first (`POST /api/realtime/tickets`) and puts the ticket in
the stream's URL.

A ticket is 32 random bytes; only its SHA-256 is stored, under which the caller's token claims are kept for
`TICKET_TTL_S`. With Redis, storing is `SET NX PX` and redeeming is `GETDEL`: one atomic step, so a ticket
opens one stream on whichever instance it reaches first and never a second. Without Redis (one instance) a
dict does the same. A ticket carries the token's claims, not the token: the stream acts as that token
(revocation cutoffs, role, `exp`) without the token itself ever being stored.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from persistence.identity import Identity

__all__ = ["TICKET_TTL_S", "IssuedTicket", "Tickets", "TicketsUnavailable"]

TICKET_TTL_S = 30

_decoder = msgspec.json.Decoder(dict[str, Any])


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    ticket: str
    expires_at: float  # Unix seconds


class TicketsUnavailable(Exception):
    """Redis cannot be reached: no ticket can be issued or redeemed (a ticket is valid on every instance, so
    there is no local fallback)."""


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class Tickets:
    def __init__(self, client: aioredis.Redis | None, namespace: str) -> None:
        self._client = client
        self._ns = namespace
        self._memory: dict[str, tuple[float, bytes]] = {}  # digest -> (monotonic expiry, claims)

    def _key(self, digest: str) -> str:
        return f"{self._ns}:sse-ticket:{digest}"

    async def issue(self, identity: Identity, now: float) -> IssuedTicket:
        """A new ticket for `identity` (a user's token), valid `TICKET_TTL_S` from `now` (Unix seconds)."""
        ticket = secrets.token_urlsafe(32)
        digest = _digest(ticket)
        claims = identity.claims_json.encode()
        if self._client is not None:
            try:
                await self._client.set(self._key(digest), claims, nx=True, px=TICKET_TTL_S * 1000)
            except (RedisError, OSError) as exc:
                raise TicketsUnavailable(str(exc)) from None
        else:
            self._forget_expired()
            self._memory[digest] = (time.monotonic() + TICKET_TTL_S, claims)
        return IssuedTicket(ticket, now + TICKET_TTL_S)

    async def redeem(self, ticket: str) -> dict[str, Any] | None:
        """The claims the ticket was issued for, once; None for an unknown, spent or expired ticket.
        Both raise `TicketsUnavailable` while Redis cannot be reached."""
        digest = _digest(ticket)
        if self._client is not None:
            try:
                raw: bytes | str | None = await self._client.getdel(self._key(digest))
            except (RedisError, OSError) as exc:
                raise TicketsUnavailable(str(exc)) from None
        else:
            self._forget_expired()
            entry = self._memory.pop(digest, None)
            raw = entry[1] if entry is not None else None
        return None if raw is None else _decoder.decode(raw)

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for digest in [d for d, (expires, _) in self._memory.items() if expires <= now]:
            del self._memory[digest]
