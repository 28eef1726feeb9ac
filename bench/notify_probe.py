"""The database hop of the hub's event path, measured from outside the hub.

A LISTEN on the hub's events channel from a connection of its own: every notification's receipt wall clock
minus the event's `created_at` (the payload's `t`, the same timestamp the load client measures the hub's
deliveries from). PostgreSQL signals every listening backend at the same commit, so this is the hub listener's
wait too: commit, NOTIFY, the backend's read of the queue, the socket to the client. The baselines have no such
hop (their publisher writes to the server directly), so the hub's latency minus this is its own part: the
listener, the fan-out, the socket writes and the load client.
"""

from __future__ import annotations

import time
from datetime import datetime

import asyncpg
import msgspec

from bench.stats import Histogram
from persistence.events import NOTIFY_CHANNEL


class _Note(msgspec.Struct):
    t: str | None = None


_decode = msgspec.json.Decoder(_Note).decode


class NotifyProbe:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.histogram = Histogram()

    @classmethod
    async def open(cls, dsn: str) -> NotifyProbe:
        probe = cls(await asyncpg.connect(dsn))
        await probe._conn.add_listener(NOTIFY_CHANNEL, probe._on_note)
        return probe

    def take(self) -> Histogram:
        """The hops recorded since the last take."""
        taken, self.histogram = self.histogram, Histogram()
        return taken

    def _on_note(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        received = time.time()
        try:
            ts = _decode(payload).t
        except msgspec.DecodeError:
            return
        if ts is not None:
            self.histogram.add((received - datetime.fromisoformat(ts).timestamp()) * 1000.0)

    async def close(self) -> None:
        await self._conn.close()
