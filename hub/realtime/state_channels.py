"""State channels: absolute, coalesced values instead of a log.

``votes:<post_id>``: every instance hears the vote triggers' ``hub_state``
notifications straight from PostgreSQL (``{"k":"votes","post_id","target_type",
"target_id","up","down"}``, in commit order). For channels with local
subscribers the latest counts per target are coalesced (:class:`~channels.coalesce.Coalescer`,
window ``coalesce_s``) into ``counts`` events with ``seq`` null: at most one per
target per window, and the last one sent is the last one committed. A
subscriber gets a snapshot when it subscribes: the post and its first
``VOTES_SNAPSHOT_COMMENTS`` comments in display order (bounded, whatever the thread's size).

``leaderboard:<period>``: ``{"k":"leaderboard","period":…}`` marks a period
changed; at most once per window the top 20 are loaded (``top20(period)``) and
sent as ``leaderboard.changed``.

One task (``run``) owns the timer; ``on_votes`` and ``on_leaderboard`` are called with the
decoded notes (:mod:`channels.events`), in commit order, through ``hub.realtime.incoming.StateRoutes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from typing import Generic, TypeVar

import msgspec

from channels.coalesce import Coalescer
from channels.events import LeaderboardChanged, VoteCounts
from channels.frames import EventFrame, encode_json
from channels.names import ChannelName, parse_channel
from hub.domain.leaderboard import LeaderboardRow
from hub.realtime.fanout import Fanout

__all__ = ["CoalescedSender", "Counts", "LeaderboardLoader", "StateChannels", "counts_data"]

log = logging.getLogger("hub.state")

LeaderboardLoader = Callable[[str], Awaitable[list[LeaderboardRow]]]


class Counts(msgspec.Struct, frozen=True):
    """The ``data`` of a ``counts`` event (and one entry of a votes snapshot)."""

    target_type: str
    target_id: str
    upvotes: int
    downvotes: int
    score: int


def counts_data(target_type: str, target_id: str, up: int, down: int) -> Counts:
    return Counts(target_type, target_id, up, down, up - down)


_Key = tuple[str, str]  # (channel, target_id) or (channel, "") for a leaderboard

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class CoalescedSender(Generic[K, V]):
    """Drives a :class:`~channels.coalesce.Coalescer` on the event loop: the latest value offered per key
    goes to ``send`` at most once per key per window. ``run`` owns the timer until cancelled; a failing
    ``send`` is logged and does not stop the others."""

    def __init__(self, window_s: float, send: Callable[[K, V], Awaitable[None]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._coalescer: Coalescer[K, V] = Coalescer(window_s)
        self._send = send
        self._clock = clock
        self._wake = asyncio.Event()

    def offer(self, key: K, value: V) -> None:
        self._coalescer.offer(key, value, self._clock())
        self._wake.set()

    async def run(self) -> None:
        while True:
            deadline = self._coalescer.next_deadline()
            self._wake.clear()
            if deadline is None:
                await self._wake.wait()
                continue
            delay = deadline - self._clock()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                continue
            for key, value in self._coalescer.due(self._clock()):
                try:
                    await self._send(key, value)
                except Exception:
                    log.exception("coalesced update of %s failed", key)


class StateChannels:
    def __init__(
        self,
        fanout: Fanout,
        *,
        coalesce_s: float,
        top20: LeaderboardLoader | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fanout = fanout
        self._top20 = top20
        self._sender: CoalescedSender[_Key, Counts | None] = CoalescedSender(coalesce_s, self._send, clock)

    @property
    def has_leaderboard(self) -> bool:
        return self._top20 is not None

    def on_votes(self, note: VoteCounts) -> None:
        channel = str(ChannelName.votes(note.post_id))
        if self._fanout.has(channel):
            self._sender.offer((channel, note.target_id), counts_data(note.target_type, note.target_id, note.up,
                                                                      note.down))

    def on_leaderboard(self, note: LeaderboardChanged) -> None:
        channel = str(ChannelName.leaderboard(note.period))
        if self._top20 is not None and self._fanout.has(channel):
            self._sender.offer((channel, ""), None)

    async def leaderboard(self, period: str) -> list[LeaderboardRow] | None:
        """The top 20 for a subscribe snapshot; ``None`` when no loader is wired."""
        return None if self._top20 is None else await self._top20(period)

    async def run(self) -> None:
        """Send due values until cancelled."""
        await self._sender.run()

    async def _send(self, key: _Key, value: Counts | None) -> None:
        channel = key[0]
        now = datetime.now(UTC)
        if value is not None:
            frame = EventFrame(channel, None, "counts", encode_json(value), now)
        else:
            period = parse_channel(channel).key or ""
            top = await self.leaderboard(period)
            data = {"period": period, "items": top}
            frame = EventFrame(channel, None, "leaderboard.changed", encode_json(data), now)
        self._fanout.broadcast(channel, frame)
