"""`GET /sse`: one Server-Sent Events stream, a connection of the realtime edge like a websocket's.

An `SseSession` is a `Peer` of the instance (`Realtime.peers`) with its own protocol state
(`channels.connection.Connection`) and bounded `Outbox`, so everything that acts on websockets acts on it the
same way: the subscribe workflow and resume (`hub.realtime.subscribe`), the fan-out (each frame's SSE message
is built once and shared, `OutFrame.sse`), revocations (`hub.realtime.accounts`: `token_revoked` then the
stream ends; `hub.live_room.revocation`: the channel is dropped with a `forbidden` error naming it), the
per-user connection cap, the slow-consumer close, drain, and the token's `exp` (the stream ends with
`token_expired` at the expiry of the token it was ticketed with; the client gets a new ticket).

The stream is read-only: the client's subscriptions are the request's `channel`s, subscribed in order once
the response has started; a refused one is answered with an `error` frame naming the channel in
`details.channel`. Before the stream ends the server sends `event: close` with the websocket close code it
stands for (`data: {"code": 4008, "reason": "slow consumer"}`), so a client knows whether to resume
at once, refresh its token, or stop. Heartbeats are SSE comments every `WS_HEARTBEAT`.

The handler's own task waits on the request's `receive` (the client going away) and sends the heartbeats;
`request_close` from any other task interrupts it by cancelling it, as `hub.realtime.websocket` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

import msgspec
from litestar.types import Receive, Send
from litestar.types.asgi_types import HTTPResponseBodyEvent, HTTPResponseStartEvent

from channels.connection import Action, Close, Connection, SendFrame
from channels.errors import CloseCode, InternalError, ProtocolError
from channels.frames import OutFrame, encode_error
from channels.sse import HEARTBEAT
from hub.realtime.draining import OutboxWriter
from hub.realtime.fanout import Outbox, Subscriber
from hub.realtime.instance import Realtime
from hub.realtime.peers import Peer
from persistence.db import DatabaseUnavailable
from persistence.identity import Identity

__all__ = ["RAW_SEND", "SSE_HEADERS", "SSE_PATH", "SseSession"]

log = logging.getLogger("hub.sse")

_FLUSH_TIMEOUT_S = 5.0

SSE_PATH = "/sse"
# The scope key under which `hub.app.HubApp` leaves the server's own `send` for a request to `SSE_PATH`.
RAW_SEND = "hub.raw_send"

SSE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx and friends: pass each message on at once
]

# Queued like a frame, so a heartbeat waits behind the frames before it; sent as `HEARTBEAT`.
_HEARTBEAT = OutFrame(b"{}")


class _Close(msgspec.Struct):
    """The data of the stream's last message, `event: close` (an SSE message only: no websocket frame)."""

    code: int
    reason: str


def _close_message(code: int, reason: str) -> bytes:
    return b"event: close\ndata: %s\n\n" % msgspec.json.encode(_Close(code, reason))


class SseSession(OutboxWriter):
    """One stream. Made by the route once the ticket is redeemed; `claimed` once its response counted it in the
    user's connections, just before `run`."""

    __slots__ = ("_ending", "_interrupted", "_receive", "_send", "_task", "claimed", "conn", "outbox",
                 "peer", "realtime")

    def __init__(self, realtime: Realtime, identity: Identity, exp: float) -> None:
        self.realtime = realtime
        self.outbox = Outbox(realtime.limits.send_queue_frames, self._overflowed)
        self.conn: Connection[Subscriber] = Connection(uuid.uuid4().hex, time.monotonic(), realtime.limits,
                                                       realtime.publish_limiter)
        # Raises `token_expired` for a token already past its `exp`; the auth reply is the websocket's only.
        self.conn.on_auth(None, str(identity.require_user_id()), exp, time.monotonic(), realtime.services.clock())
        self.peer = Peer(self.conn, self.outbox, self._server_close, self._revoked, identity)
        self.claimed = False
        self._receive: Receive | None = None
        self._send: Send | None = None
        self._ending: tuple[int, str, bool] | None = None  # (close code, reason, send what is queued first)
        self._task: asyncio.Task[Any] | None = None
        self._interrupted = False
        super().__init__()

    async def run(self, receive: Receive, send: Send, raw_send: Send,
                  channels: list[tuple[str, int | None]]) -> None:
        """Stream `channels` (name, since) until the client leaves or the server ends the stream.

        `send` is the app's (its `before_send` hooks add the security headers to the response's start);
        the body goes through `raw_send`, the server's own: a frame is often written by whoever passes it on
        (the listener, a revocation) outside any task, where Litestar's hooks cannot run, and it need not
        pay for them once per frame."""
        self._receive, self._send = receive, raw_send
        realtime = self.realtime
        task = self._task = asyncio.current_task()
        assert task is not None
        realtime.peers.add(self.peer)
        try:
            try:
                await send(HTTPResponseStartEvent(type="http.response.start", status=200, headers=SSE_HEADERS))
                self.outbox.attach(self._send_frame, self._start_writer, self._send_frames)
                if realtime.services.cutoffs.known_revoked(self.peer.caller()):
                    self._revoked()  # a revocation's note came between the ticket's check and `peers.add`
                self._arm_timer()
                for channel, since in channels:
                    if self._ending is not None:
                        break
                    await self._subscribe(channel, since)
                await self._listen()
            except asyncio.CancelledError:
                if not (self._interrupted and task.uncancel() == 0):
                    self._ending = int(CloseCode.GOING_AWAY), "server stopping", False
                    raise
            except Exception:
                self.request_close(None)  # the client is gone (a failed send)
        finally:
            self._task = None
            await self._finish()

    async def _listen(self) -> None:
        assert self._receive is not None
        interval = self.realtime.settings.ws_heartbeat_s
        while self._ending is None:
            try:
                async with asyncio.timeout(interval):
                    message = await self._receive()
            except TimeoutError:
                self.outbox.push(_HEARTBEAT)
                continue
            if message["type"] == "http.disconnect":
                self.request_close(None)

    async def _subscribe(self, channel: str, since: int | None) -> None:
        try:
            name = self.conn.subscribe(channel)
            await self.realtime.subscriptions.subscribe(self.peer, name, since, None)
        except ProtocolError as err:
            self._refused(channel, err)
        except DatabaseUnavailable:
            self._refused(channel, InternalError("database unavailable, retry shortly"))
        except Exception:
            log.exception("sse subscribe to %s failed", channel)
            self._refused(channel, InternalError())

    def _refused(self, channel: str, err: ProtocolError) -> None:
        err.details = {**(err.details or {}), "channel": channel}
        self.outbox.push(OutFrame(encode_error(err)))

    # --- ending ---------------------------------------------------------------------

    def request_close(self, code: int | None, reason: str = "", *, flush: bool = True) -> None:
        """End the stream: `code` None when the client is gone; `flush` sends what is queued first."""
        if self._ending is not None:
            return
        self.conn.close(CloseCode.NORMAL)
        if flush:
            self.outbox.close()
        else:
            self.outbox.abort()
        self._ending = (code if code is not None else -1), reason, flush
        self.realtime.deadlines.clear(self)
        if self._task is not None and asyncio.current_task() is not self._task:
            self._interrupted = True
            self._task.cancel()

    async def _finish(self) -> None:
        realtime = self.realtime
        realtime.deadlines.clear(self)
        if self._ending is None:
            self._ending = -1, "", False
        code, reason, flush = self._ending
        if self.claimed:
            realtime.release_user(str(self.peer.caller().require_user_id()))
            self.claimed = False
        try:
            try:
                await realtime.subscriptions.detach(self.peer)
            except Exception:
                log.exception("detaching sse stream %s failed", self.conn.conn_id)
            writer = self._writer
            if writer is not None:
                if flush and code >= 0:
                    await asyncio.wait([writer], timeout=_FLUSH_TIMEOUT_S)
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
            if code >= 0:
                await self._end(_close_message(code, reason))
        finally:
            realtime.peers.remove(self.peer)

    async def _end(self, last: bytes) -> None:
        assert self._send is not None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(max(_FLUSH_TIMEOUT_S, 2 * self.realtime.settings.ws_heartbeat_s)):
                await self._send(HTTPResponseBodyEvent(type="http.response.body", body=last, more_body=False))

    def _server_close(self, code: CloseCode, reason: str) -> None:
        self.request_close(int(code), reason, flush=False)

    def _revoked(self) -> None:
        self._apply(self.conn.revoke())

    def _overflowed(self) -> None:
        self.realtime.services.metrics.queue_overflows.inc()
        self.request_close(int(CloseCode.SLOW_CONSUMER), "slow consumer", flush=False)

    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendFrame):
                self.outbox.push(OutFrame(action.data))
            elif isinstance(action, Close):
                self.request_close(int(action.code), action.reason, flush=True)

    # --- deadlines (the token's exp) ------------------------------------------------------

    def _arm_timer(self) -> None:
        deadline = None if self._ending is not None else self.conn.next_deadline()
        if deadline is None:
            self.realtime.deadlines.clear(self)
        else:
            self.realtime.deadlines.set(self, deadline)

    def on_deadline(self) -> None:
        self._apply(self.conn.tick(time.monotonic()))
        self._arm_timer()

    # --- writing -----------------------------------------------------------------------

    async def _send_frame(self, frame: OutFrame) -> None:
        assert self._send is not None
        body = HEARTBEAT if frame is _HEARTBEAT else frame.sse
        await self._send(HTTPResponseBodyEvent(type="http.response.body", body=body, more_body=True))
        self.realtime.services.metrics.frames_out.inc()

    async def _send_frames(self, frames: list[OutFrame]) -> None:
        assert self._send is not None
        body = b"".join([HEARTBEAT if frame is _HEARTBEAT else frame.sse for frame in frames])
        await self._send(HTTPResponseBodyEvent(type="http.response.body", body=body, more_body=True))
        self.realtime.services.metrics.frames_out.inc(len(frames))

