"""`Idempotency-Key` for creating routes: a retry with the same key and body returns the first result; the
same key with another body is refused (422 `idempotency_key_reused`), as `shared/spec/api.md` says.

The key is stored in the same transaction as the creation it guards, so a key exists if and only if
its creation committed. Two concurrent requests with one key: the loser's insert conflicts, its whole
transaction (creation included) rolls back, and it answers with the winner's stored result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

import asyncpg
import msgspec
from litestar import Response
from litestar.params import HeaderParameter

from hub.errors import IdempotencyConflict, ValidationFailed
from persistence import idempotency
from persistence.db import Database, set_identity
from persistence.identity import SERVICE, Identity

T = TypeVar("T")

IdempotencyKey = Annotated[str | None, HeaderParameter(name="Idempotency-Key", required=False)]

_encoder = msgspec.json.Encoder()


async def create_once(db: Database, identity: Identity, key: str | None, route: str, request: msgspec.Struct,
                      create: Callable[[asyncpg.Connection], Awaitable[Any]], *,
                      status_code: int = 201, charge: Callable[[], Awaitable[None]] | None = None,
                      owner: UUID | None = None) -> Response[Any]:
    """Runs `create(conn)` in one transaction as `identity` and answers `status_code` with its result;
    with a key already used by this user on this route, answers the stored result when `request` (the
    decoded body) is the one it was stored for, and 422 `idempotency_key_reused` otherwise.

    `charge` (spending the caller's budget, raising when it is used up) runs only once no stored result
    answers the request: a client retrying a lost response at the edge of its budget gets its result, not
    a 429.

    `owner` is whose keys these are, by default the caller; a caller without an account (the service key)
    names one."""
    if key is not None and not 1 <= len(key) <= 200:
        raise ValidationFailed({"Idempotency-Key": "must be 1 to 200 characters"})
    # The decoded body, not the raw bytes: a client re-serialising the same request (other key order or
    # spacing) is still retrying it.
    request_hash = hashlib.sha256(_encoder.encode(request)).hexdigest()
    if key is not None:
        stored = await _stored(db, _owner(identity, owner), key, route, request_hash)
        if stored is not None:
            return stored
    if charge is not None:
        await charge()
    try:
        async with db.transaction(identity) as conn:
            result = await create(conn)
            body = _encoder.encode(result)
            if key is not None:
                await set_identity(conn, SERVICE)
                await idempotency.remember(conn, _owner(identity, owner), key, route, request_hash,
                                           status_code, body)
    except asyncpg.UniqueViolationError as exc:
        if key is None or exc.table_name != "idempotency_keys":
            raise
        stored = await _stored(db, _owner(identity, owner), key, route, request_hash)
        if stored is None:
            raise IdempotencyConflict() from None
        return stored
    return Response(content=body, status_code=status_code, media_type="application/json")


def _owner(identity: Identity, owner: UUID | None) -> UUID:
    return identity.require_user_id() if owner is None else owner


async def _stored(db: Database, owner: UUID, key: str, route: str,
                  request_hash: str) -> Response[Any] | None:
    async with db.transaction(SERVICE) as conn:
        row = await idempotency.recall(conn, owner, key, route)
    if row is None:
        return None
    if row["request_hash"] is not None and row["request_hash"] != request_hash:
        raise IdempotencyConflict()
    return Response(content=bytes(row["body"]), status_code=row["status_code"], media_type="application/json",
                    headers={"Idempotent-Replayed": "true"})
