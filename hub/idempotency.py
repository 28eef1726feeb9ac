"""`Idempotency-Key` for creating routes: a retry with the same key returns the first result.

The key is stored in the same transaction as the creation it guards, so a key exists if and only if
its creation committed. Two concurrent requests with one key: the loser's insert conflicts, its whole
transaction (creation included) rolls back, and it answers with the winner's stored result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

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


async def create_once(db: Database, identity: Identity, key: str | None, route: str,
                      create: Callable[[asyncpg.Connection], Awaitable[Any]], *,
                      status_code: int = 201) -> Response[Any]:
    """Runs `create(conn)` in one transaction as `identity` and answers `status_code` with its result;
    with a key already used by this user on this route, answers the stored result instead."""
    if key is not None and not 1 <= len(key) <= 200:
        raise ValidationFailed({"Idempotency-Key": "must be 1 to 200 characters"})
    if key is not None:
        stored = await _stored(db, identity, key, route)
        if stored is not None:
            return stored
    try:
        async with db.transaction(identity) as conn:
            result = await create(conn)
            body = _encoder.encode(result)
            if key is not None:
                await set_identity(conn, SERVICE)
                await idempotency.remember(conn, identity.require_user_id(), key, route, status_code, body)
    except asyncpg.UniqueViolationError as exc:
        if key is None or exc.table_name != "idempotency_keys":
            raise
        stored = await _stored(db, identity, key, route)
        if stored is None:
            raise IdempotencyConflict() from None
        return stored
    return Response(content=body, status_code=status_code, media_type="application/json")


async def _stored(db: Database, identity: Identity, key: str, route: str) -> Response[Any] | None:
    async with db.transaction(SERVICE) as conn:
        row = await idempotency.recall(conn, identity.require_user_id(), key, route)
    if row is None:
        return None
    return Response(content=bytes(row["body"]), status_code=row["status_code"], media_type="application/json",
                    headers={"Idempotent-Replayed": "true"})
