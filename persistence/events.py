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


async def channel_heads(conn: asyncpg.Connection, channels: list[str]) -> dict[str, int]:
    """Head seq of each of `channels` that had an event."""
    rows = await conn.fetch(
        "SELECT channel, seq FROM realtime.channel_heads WHERE channel = ANY($1::text[])", channels
    )
    return {r["channel"]: int(r["seq"]) for r in rows}


async def record_relayed(conn: asyncpg.Connection, positions: list[tuple[str, int]]) -> None:
    """The relay published every event of each channel through the given seq (never moves back)."""
    await conn.execute(
        """
        INSERT INTO realtime.relay_positions AS p (channel, seq)
        SELECT * FROM unnest($1::text[], $2::bigint[])
        ON CONFLICT (channel) DO UPDATE SET seq = greatest(p.seq, excluded.seq), relayed_at = now()
        """,
        [c for c, _ in positions], [s for _, s in positions],
    )


async def relay_backlog(conn: asyncpg.Connection, margin_s: float) -> list[tuple[str, int]]:
    """(channel, last relayed seq) of every channel whose log may hold events no relay published: those
    whose head is past their recorded position, and those with no position whose events were logged after
    the last recorded publish less `margin_s` (a relay may have published them and died before recording).
    Empty before any relay recorded anything: a first relay starts from what it hears."""
    rows = await conn.fetch(
        """
        WITH mark AS (SELECT max(relayed_at) - make_interval(secs => $1) AS since FROM realtime.relay_positions)
        SELECT p.channel, p.seq FROM realtime.relay_positions p
        JOIN realtime.channel_heads h USING (channel) WHERE h.seq > p.seq
        UNION ALL
        SELECT e.channel, min(e.seq) - 1 FROM realtime.events e, mark
        WHERE e.created_at >= mark.since
          AND NOT EXISTS (SELECT 1 FROM realtime.relay_positions p WHERE p.channel = e.channel)
        GROUP BY e.channel
        """,
        margin_s,
    )
    return [(r["channel"], int(r["seq"])) for r in rows]


# One relay per database: the session-level advisory lock on this key, held by the relay's own connection, so
# it is released the moment that connection (or its process) dies.
RELAY_LOCK = int.from_bytes(b"hubrelay", "big")


async def try_relay_lock(conn: asyncpg.Connection) -> bool:
    held: bool = await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK)
    return held
