"""The durable per-channel event log (`realtime.*`).

`append_event` runs inside the caller's transaction: the event exists, and its notification is sent,
if and only if that transaction commits. Sequence numbers per channel are gapless and follow commit
order because writers of one channel queue on the channel's head row.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from channels.names import ChannelName
from persistence.db import set_identity
from persistence.identity import SERVICE

NOTIFY_CHANNEL = "hub_events"
STATE_CHANNEL = "hub_state"


async def append_event(conn: asyncpg.Connection, channel: ChannelName, event: str, data: Any) -> int:
    """Appends one event inside the caller's transaction. The log is server-owned (a client that could
    append could forge any channel's events), so only `service_role` may: the transaction switches to it
    here and stays in it. Writers append after their own statements as the caller."""
    await set_identity(conn, SERVICE)
    seq: int = await conn.fetchval("SELECT realtime.append_event($1, $2, $3::jsonb)", str(channel), event,
                                    data)
    return seq


async def channel_position(conn: asyncpg.Connection, channel: str) -> tuple[int, int]:
    """(head seq, trimmed seq) of a channel; (0, 0) for a channel that never had an event."""
    row = await conn.fetchrow(
        "SELECT seq, trimmed_seq FROM realtime.channel_heads WHERE channel = $1", channel
    )
    return (0, 0) if row is None else (int(row["seq"]), int(row["trimmed_seq"]))


async def events_after(conn: asyncpg.Connection, channel: str, after: int, *, through: int | None = None,
                       limit: int = 1000) -> list[asyncpg.Record]:
    """Retained events with `after < seq <= through`, in order, at most `limit`."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT seq, event, data, created_at FROM realtime.events
        WHERE channel = $1 AND seq > $2 AND ($3::bigint IS NULL OR seq <= $3)
        ORDER BY seq LIMIT $4
        """,
        channel, after, through, limit,
    )
    return rows


async def events_after_raw(conn: asyncpg.Connection, channel: str, after: int, through: int,
                           limit: int = 1000) -> list[asyncpg.Record]:
    """Like `events_after` but with `data` as JSON text, so fan-out can splice it without re-encoding."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT seq, event, data::text AS data_json, created_at FROM realtime.events
        WHERE channel = $1 AND seq > $2 AND seq <= $3
        ORDER BY seq LIMIT $4
        """,
        channel, after, through, limit,
    )
    return rows


async def prune_events(conn: asyncpg.Connection, max_age_days: int, keep_per_channel: int) -> int:
    deleted: int = await conn.fetchval(
        "SELECT realtime.prune_events(make_interval(days => $1), $2)", max_age_days, keep_per_channel
    )
    return deleted


async def notify_state(conn: asyncpg.Connection, payload: Any) -> None:
    """A state signal (not logged) for the realtime layer, delivered at commit like the events:
    `{"k": "leaderboard", "period": "weekly"}` and the vote counts the triggers send."""
    await conn.execute("SELECT pg_notify($1, $2::jsonb::text)", STATE_CHANNEL, payload)
