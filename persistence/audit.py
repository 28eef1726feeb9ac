"""The admins' audit log (`private.admin_audit`): written in the same transaction as the action it records,
read newest first. Runs as `service_role`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg


async def record(conn: asyncpg.Connection, *, actor_id: UUID | None, action: str, target_type: str,
                 target_id: str, reason: str | None, details: dict[str, Any] | None = None) -> int:
    """Appends one row; `actor_id` None is the command line or the service key. Returns the row's id."""
    row_id: int = await conn.fetchval(
        """
        INSERT INTO private.admin_audit (actor_id, action, target_type, target_id, reason, details)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
        """,
        actor_id, action, target_type, target_id, reason, details or {},
    )
    return row_id


async def newest(conn: asyncpg.Connection, *, before_id: int | None, limit: int) -> list[asyncpg.Record]:
    """Up to `limit` rows, newest first, older than `before_id` when given (the cursor)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT a.id, a.actor_id, u.email AS actor_email, a.action, a.target_type, a.target_id, a.reason,
               a.details, a.created_at
        FROM private.admin_audit a LEFT JOIN auth.users u ON u.id = a.actor_id
        WHERE $1::bigint IS NULL OR a.id < $1
        ORDER BY a.id DESC
        LIMIT $2
        """,
        before_id, limit,
    )
    return rows
