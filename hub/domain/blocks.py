"""Blocking: a user leaves another's posts and comments out of their own feed and thread pages.

Blocking is a reader's preference, not an access rule: the blocked user is not told, still reads and
replies, and a post or comment opened by its id is still shown; only the feed (`GET /api/posts`) and
thread pages leave them out (`persistence.community`). A user holds at most `MAX_BLOCKS_PER_USER` blocks.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from hub.errors import Conflict, NotFound, ValidationFailed
from persistence import blocks
from persistence.db import set_identity
from persistence.identity import SERVICE, Identity


class BlockedUser(msgspec.Struct):
    id: UUID
    full_name: str | None
    avatar_url: str | None
    blocked_at: datetime


class BlockList(msgspec.Struct):
    """Every block of the caller, newest first (at most `MAX_BLOCKS_PER_USER`)."""

    items: list[BlockedUser]


async def block(conn: asyncpg.Connection, user: Identity, blocked_id: UUID, *, cap: int) -> None:
    """Idempotent; 422 for oneself, 404 for an unknown user, 409 `conflict` at the cap."""
    blocker_id = user.require_user_id()
    if blocked_id == blocker_id:
        raise ValidationFailed({"user_id": "you cannot block yourself"})
    await set_identity(conn, SERVICE)  # users read their blocks; only the hub writes them
    try:
        added = await blocks.add(conn, blocker_id, blocked_id, cap=cap)
    except asyncpg.ForeignKeyViolationError:
        raise NotFound("No such user") from None
    if added is blocks.Added.FULL:
        raise Conflict(f"You block {cap} users already; unblock one first")


async def unblock(conn: asyncpg.Connection, user: Identity, blocked_id: UUID) -> None:
    await set_identity(conn, SERVICE)
    await blocks.remove(conn, user.require_user_id(), blocked_id)


async def own_blocks(conn: asyncpg.Connection, *, cap: int) -> BlockList:
    """As the caller: RLS shows only their own blocks."""
    rows = await blocks.own_blocks(conn, cap)
    return BlockList(items=[BlockedUser(id=r["id"], full_name=r["full_name"], avatar_url=r["avatar_url"],
                                        blocked_at=r["blocked_at"]) for r in rows])
