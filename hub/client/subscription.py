"""One channel followed across reconnects: an async iterator of what arrives on it.

The subscription keeps the last durable ``seq`` it queued (``channels.sequencing.SequenceGate``); the client
resubscribes with ``since`` = that after every reconnect, drops a replayed event it already queued, and
reconnects when a sequence is skipped (the hub then refills the gap). So the iterator yields every durable
event once, in order, whichever instance it came from.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

import msgspec

from channels.sequencing import Deliver, Duplicate, SequenceGate
from hub.client.errors import ClientClosed, HubError
from hub.client.frames import Event, Presence, Reset, SubscribeResult
from hub.client.presence import PresenceState, apply_diff, from_entries

if TYPE_CHECKING:
    from hub.client.client import HubClient

__all__ = ["Item", "Resubscribed", "Subscription"]


class Resubscribed(msgspec.Struct, frozen=True):
    """The channel was subscribed again after a reconnect. Durable events simply continue; a state channel's
    ``snapshot`` and a presence channel's ``presence`` in ``result`` replace what the caller held (the
    subscription's ``snapshot`` and ``presence`` already did)."""

    result: SubscribeResult


Item = Event | Presence | Reset | Resubscribed


class _End:
    pass


_END: Final = _End()


class Subscription:
    """What :meth:`HubClient.subscribe` returns. ``async for item in sub`` yields :class:`Event`,
    :class:`Presence` (a diff; ``sub.presence`` is the state with it applied), :class:`Reset` (refetch the
    channel through REST) and :class:`Resubscribed`; it raises ``SubscriptionRevoked`` when the hub drops the
    channel, the client's ``Fatal`` error when the client stops, and ends after ``unsubscribe`` or ``close``.

    At most ``max_pending`` items wait to be read; beyond that the client stops reading the socket, and a
    hub whose send queue then overflows closes with 4008, which the client answers by resuming. Read it.
    """

    def __init__(self, client: HubClient, channel: str, since: int | None, max_pending: int) -> None:
        self.channel = channel
        self.result: SubscribeResult | None = None  # the last subscribe reply's result
        self.presence: PresenceState = {}
        self._client = client
        self._since = since
        self._gate: SequenceGate | None = None
        self._queue: asyncio.Queue[Item | _End] = asyncio.Queue(max_pending)
        self._first: asyncio.Future[SubscribeResult] = asyncio.get_running_loop().create_future()
        self._ended = False
        self._error: HubError | None = None
        self._ended_event = asyncio.Event()
        self.sent_on = -1  # the client's connection generation that carried its last `subscribe`

    @property
    def last_seq(self) -> int | None:
        """The last durable sequence queued: what a resubscribe sends as ``since``. Until the first reply, the
        ``since`` asked for."""
        return self._gate.last if self._gate is not None else self._since

    @property
    def snapshot(self) -> Any:
        """A state channel's snapshot from the last subscribe reply."""
        return self.result.snapshot if self.result is not None else None

    # --- fed by the client ---------------------------------------------------------

    def first_reply(self) -> asyncio.Future[SubscribeResult]:
        return self._first

    async def subscribed(self, result: SubscribeResult, since: int | None) -> None:
        again = self.result is not None
        self.result = result
        self.presence = from_entries(result.presence)
        if result.seq is not None:
            self._gate = SequenceGate(since if since is not None else result.seq)
        if again:
            await self._put(Resubscribed(result))
        elif not self._first.done():
            self._first.set_result(result)

    async def deliver(self, event: Event) -> bool:
        """Queue ``event`` unless it is a duplicate; False when it skips a sequence (reconnect to refill)."""
        gate = self._gate
        if event.seq is not None and gate is not None:
            verdict = gate.check(event.seq)
            if isinstance(verdict, Duplicate):
                return True
            if not isinstance(verdict, Deliver):
                return False
            gate.advance(event.seq)
        await self._put(event)
        return True

    async def presence_changed(self, diff: Presence) -> None:
        apply_diff(self.presence, diff)
        await self._put(diff)

    async def reset(self, frame: Reset) -> None:
        if self._gate is not None:
            self._gate.skip_to(max(frame.seq, self._gate.last))
        await self._put(frame)

    async def _put(self, item: Item) -> None:
        """Queue ``item``, waiting while the queue is full, unless the subscription ended (or ends meanwhile:
        nobody may read it any more, and the client's reader must not wait on it forever)."""
        if self._ended:
            return
        if not self._queue.full():
            self._queue.put_nowait(item)
            return
        put = asyncio.ensure_future(self._queue.put(item))
        ended = asyncio.ensure_future(self._ended_event.wait())
        try:
            await asyncio.wait({put, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            put.cancel()
            ended.cancel()

    def end(self, error: HubError | None = None) -> None:
        """No more items: after what is queued, the iterator raises ``error``, or stops."""
        if self._ended:
            return
        self._ended = True
        self._error = error
        self._ended_event.set()  # releases a client reader waiting for room in a full queue
        if not self._first.done():
            self._first.set_exception(error or ClientClosed())
            self._first.exception()  # retrieved: nobody may be waiting for it any more
        if not self._queue.full():
            self._queue.put_nowait(_END)  # wakes a reader waiting on an empty queue

    # --- read by the caller ------------------------------------------------------------

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Item:
        if self._ended and self._queue.empty():
            raise self._error or StopAsyncIteration
        item = await self._queue.get()
        if isinstance(item, _End):
            raise self._error or StopAsyncIteration
        return item

    async def unsubscribe(self) -> None:
        await self._client.unsubscribe(self.channel)
