"""The durable event path's two edge parts: the event log as the fan-out reads it, and the fan-out that
also shows each live durable event to the room extensions' observers."""

from __future__ import annotations

import logging
from collections.abc import Callable

from channels.frames import encode_event
from hub.realtime.fanout import Fanout, LogRow
from persistence import events
from persistence.db import Database
from persistence.identity import SERVICE

__all__ = ["DbEventLog", "DurableObserver", "ObservedFanout"]

log = logging.getLogger("hub.realtime")

# Sees every durable event frame this instance passes on live (hub.live_room: a session going live).
DurableObserver = Callable[[str, str], None]


class ObservedFanout(Fanout):
    """The fan-out, also showing each live durable event to `observers` (after delivering it)."""

    def __init__(self, log: DbEventLog, *, on_open: Callable[[str], None], on_close: Callable[[str], None]) -> None:
        super().__init__(log, on_open=on_open, on_close=on_close)
        self.observers: list[DurableObserver] = []

    def deliver(self, channel: str, seq: int, frame: str) -> None:
        super().deliver(channel, seq, frame)
        for observe in self.observers:
            try:
                observe(channel, frame)
            except Exception:
                log.exception("durable event observer failed on %s", channel)


class DbEventLog:
    """The durable log read as the service role, each row encoded once into its event frame."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self, channel: str, after: int, through: int, limit: int) -> list[LogRow]:
        async with self._db.transaction(SERVICE) as conn:
            rows = await events.events_after_raw(conn, channel, after, through, limit)
        return [
            (
                int(r["seq"]),
                encode_event(channel, int(r["seq"]), r["event"], r["data_json"].encode(),
                             r["created_at"].isoformat()).decode(),
            )
            for r in rows
        ]

    async def position(self, channel: str) -> tuple[int, int]:
        async with self._db.transaction(SERVICE) as conn:
            return await events.channel_position(conn, channel)

