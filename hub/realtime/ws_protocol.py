"""uvicorn's `websockets-sansio` protocol without the per-connection state an idle connection does not need,
and with a way to send frames encoded once per event.

Run the hub with ``uvicorn ... --ws hub.realtime.ws_protocol:IdleLeanProtocol`` (the Procfile, ``hub serve``, the test
instances and the benchmarks do). Four things are lighter, each measured with ``tracemalloc`` over 900 idle
connections (docs/benchmarks.md, "Where idle memory goes"):

- the receive queue: uvicorn's ``asyncio.Queue`` allocates three deques and an ``Event`` (another deque),
  3.0 KiB per connection, to hold at most a message or two (uvicorn pauses reading after each message);
  :class:`ReceiveQueue` holds a short list and one waiter, both created on use;
- the ``writable`` flag: an ``asyncio.Event`` (0.76 KiB) that only a paused transport ever waits on;
  :class:`WritableFlag` creates its waiters only then;
- the keepalive's next ping: a loop timer per connection (≈ 0.6 KiB) in uvicorn, here a place in one timer
  per event loop (:class:`~hub.realtime.deadlines.Deadlines`, ≈ 0.25 KiB);
- the upgrade request's and response's headers (≈ 2.5 KiB) and the scope's list of them (≈ 1 KiB), which uvicorn
  and the websockets parser keep for the connection's life although nothing reads them after the handshake: they
  are emptied once it completes.

And one thing is added: on a connection with no negotiated extension (no compression) the app finds
``write_wire`` under the ``hub.wire`` scope extension and writes each frame's wire bytes, which the frame
object (:class:`channels.frames.OutFrame`) builds once for every subscriber, instead of each
``websocket.send`` framing the same text again (docs/benchmarks.md, "The hot path"). Anything it cannot
write at once (paused transport, closing) goes through ``send`` as usual.

uvicorn's internals are what this subclass relies on (the ``queue`` and ``writable`` attributes and their
``put_nowait``/``get``/``empty`` and ``set``/``clear``/``wait`` methods, ``request``/``response``, and
``schedule_ping`` setting a ``ping_timer`` that is only cancelled), so the
dependency is pinned to a minor version in pyproject.toml, and the whole websocket suite runs on this class.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from hub.realtime.deadlines import Deadlines

__all__ = ["UVICORN_WS", "WIRE_EXTENSION", "IdleLeanProtocol", "ReceiveQueue", "WritableFlag"]

# uvicorn's `ws` setting (`--ws`) that selects this protocol.
UVICORN_WS = "hub.realtime.ws_protocol:IdleLeanProtocol"

# The ASGI scope extension under which this protocol offers `IdleLeanProtocol.write_wire` to the app.
WIRE_EXTENSION = "hub.wire"


class ReceiveQueue:
    """An unbounded FIFO with the three methods uvicorn's websocket protocol uses; nothing allocated while empty.

    One reader at a time, as ASGI's ``receive`` is used (a second concurrent ``get`` is a bug and raises):
    one waiter slot, awaited in place, is what keeps an idle connection's wait this small.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[ASGIReceiveEvent] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: ASGIReceiveEvent) -> None:
        if self._items is None:
            self._items = [item]
        else:
            self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> ASGIReceiveEvent:
        while not self._items:
            if self._waiter is not None:
                raise RuntimeError("receive() is already being awaited")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.pop(0)
        if not self._items:
            self._items = None
        return item


class WritableFlag:
    """An ``asyncio.Event`` look-alike (set/clear/wait) that allocates only while someone waits."""

    __slots__ = ("_set", "_waiters")

    def __init__(self, *, is_set: bool) -> None:
        self._set = is_set
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        while not self._set:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = [waiter]
            else:
                self._waiters.append(waiter)
            try:
                await waiter
            finally:
                # A cancelled waiter leaves; `set` has already dropped the list of those it woke.
                if self._waiters is not None and waiter in self._waiters:
                    self._waiters.remove(waiter)
                    if not self._waiters:
                        self._waiters = None
        return True


# The keepalive timer of each event loop that runs connections (one per server; tests run several).
_KEEPALIVE: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Deadlines] = weakref.WeakKeyDictionary()


class _NextPing:
    """uvicorn's ``ping_timer`` (it only calls ``cancel``) as a place in the loop's shared keepalive timer."""

    __slots__ = ("_deadlines", "_protocol")

    def __init__(self, deadlines: Deadlines, protocol: WebSocketsSansIOProtocol, delay: float) -> None:
        self._deadlines = deadlines
        self._protocol = protocol
        deadlines.set(self, time.monotonic() + delay)

    def on_deadline(self) -> None:
        self._protocol.send_keepalive_ping()

    def cancel(self) -> None:
        self._deadlines.clear(self)


class IdleLeanProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websocket protocol, lighter by ≈ 7.5 KiB per open connection (see the module doc),
    which also takes ready-made frames from the app (``write_wire``) when no extension is negotiated."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = ReceiveQueue()  # type: ignore[assignment]
        self.writable = WritableFlag(is_set=True)  # type: ignore[assignment]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if not self.close_sent and not self.conn.extensions:
            # Frames encoded once for all subscribers are only valid on a connection that transforms nothing.
            # The writer itself, not the usual dict around it: ≈ 0.2 KiB less on every open connection.
            self.scope["extensions"][WIRE_EXTENSION] = self.write_wire  # type: ignore[assignment]

    def schedule_ping(self) -> None:
        assert self.ping_interval is not None
        deadlines = _KEEPALIVE.get(self.loop)
        if deadlines is None:
            deadlines = _KEEPALIVE[self.loop] = Deadlines()
        self.ping_timer = _NextPing(deadlines, self, max(0.0, self.ping_interval - self.last_ping_rtt))  # type: ignore[assignment]

    def write_wire(self, data: bytes) -> bool:
        """Write ready-made frames now, as ``send`` would write one; False when this is not the moment (not
        yet accepted, closing, closed, or the transport paused): the app then sends through ASGI, which waits
        or raises as it should."""
        if (not self.handshake_complete or self.close_sent or self.disconnected or not self.writable.is_set()
                or self.conn.state is not State.OPEN):
            return False
        self.transport.write(data)
        return True

    async def send(self, message: ASGISendEvent) -> None:
        handshaking = not self.handshake_complete
        await super().send(message)
        if handshaking and self.handshake_complete:
            # The websockets parser's generator frame keeps the request alive, so empty it rather than drop it;
            # the scope's copy of the headers too (≈ 1 KiB): the app reads them before it accepts, if at all.
            self.request.headers.clear()
            self.response.headers.clear()
            self.scope["headers"].clear()  # type: ignore[attr-defined]
