"""Stored results of creating requests, keyed by (user, Idempotency-Key, route)."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def remember(conn: asyncpg.Connection, user_id: UUID, key: str, route: str, request_hash: str,
                   status_code: int, body: bytes) -> None:
    await conn.execute(
        """
        INSERT INTO private.idempotency_keys (user_id, key, route, request_hash, status_code, body)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        user_id, key, route, request_hash, status_code, body,
    )


async def recall(conn: asyncpg.Connection, user_id: UUID, key: str, route: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT request_hash, status_code, body FROM private.idempotency_keys
        WHERE user_id = $1 AND key = $2 AND route = $3
        """,
        user_id, key, route,
    )
