"""The durable log as the fan-out and the listener read it: service-role transactions from the pool."""

from __future__ import annotations

import asyncpg
import msgspec

from channels.frames import EventFrame
from hub.realtime.fanout import LogRow
from persistence import events
from persistence.db import Database
from persistence.identity import SERVICE

__all__ = ["DbEventLog"]


class DbEventLog:
    """Each row becomes its :class:`~channels.frames.EventFrame` with the data as stored (JSON text from
    PostgreSQL, spliced in, not decoded); the frame is encoded once, when first sent."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self, channel: str, after: int, through: int, limit: int) -> list[LogRow]:
        async with self._db.transaction(SERVICE) as conn:
            rows = await events.events_after_raw(conn, channel, after, through, limit)
        return [_row(channel, r) for r in rows]

    async def heads(self, channels: list[str]) -> dict[str, int]:
        async with self._db.transaction(SERVICE) as conn:
            return await events.channel_heads(conn, channels)

    async def position(self, channel: str) -> tuple[int, int]:
        async with self._db.transaction(SERVICE) as conn:
            return await events.channel_position(conn, channel)


def _row(channel: str, record: asyncpg.Record) -> LogRow:
    seq = int(record["seq"])
    data = msgspec.Raw(record["data_json"].encode())
    return seq, EventFrame(channel, seq, record["event"], data, record["created_at"].isoformat())
