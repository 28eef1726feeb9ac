"""`GET /ws`: the websocket endpoint of protocol v1 (see docs and `channels.connection`).

One `WsSession` per connection runs three tasks: the reader (frames in, one at a
time, through `channels.connection.Connection`), the writer (the only one
sending, draining the connection's bounded `Outbox`) and the ticker (auth
deadline, token expiry). Whoever decides the connection ends calls
`request_close`; `run` then stops the tasks, leaves every channel and sends the
close frame. No exception leaves the handler: Litestar would close with 4500 and
the exception's text. Protocol errors become replies or closes; anything else is
logged and answered with `internal`.

Close codes: 1001 draining, 1008 repeated bad frames, 1009 frame over
`WS_MAX_FRAME_BYTES` (uvicorn's `ws_max_size` enforces it first when configured;
the handler checks again), 4001 no auth in time / bad first token / token
expired, 4008 send queue overflow, 4029 too many connections of one user (per
instance). uvicorn itself closes a text frame with invalid UTF-8 with 1007 before
the app sees it. Websocket pings are uvicorn's (`ws_ping_interval`); the
protocol `ping` is answered with `pong`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from litestar import WebSocket, websocket
from litestar.types.asgi_types import WebSocketSendEvent

from channels.connection import Action, Close, Connection, ConnState, SendFrame
from channels.errors import CloseCode, InternalError, ProtocolError, TokenExpired, Unauthorized
from channels.fanout import Outbox
from channels.frames import Auth, ClientFrame, Publish, Subscribe, Unsubscribe, encode_reply_ok
from channels.publishes import validate_payload
from hub import errors as api_errors
from hub.realtime import REALTIME, Peer, Realtime
from persistence.db import DatabaseUnavailable
from persistence.identity import user_identity

__all__ = ["ROUTES", "WsSession", "ws_endpoint"]

log = logging.getLogger("hub.ws")

_FLUSH_TIMEOUT_S = 5.0


class WsSession:
    def __init__(self, socket: WebSocket[Any, Any, Any], realtime: Realtime) -> None:
        self.socket = socket
        self.realtime = realtime
        self.services = realtime.services
        self.conn_id = uuid.uuid4().hex
        self.outbox = Outbox(realtime.settings.ws_send_queue, self._overflowed)
        self.conn = Connection(self.conn_id, time.monotonic(), realtime.limits, realtime.publish_limiter)
        self.peer = Peer(self.conn_id, self.outbox, self._server_close)
        self._done: asyncio.Future[tuple[int | None, str, bool]] = asyncio.get_running_loop().create_future()
        self._rearm = asyncio.Event()
        self._claimed: str | None = None

    # --- lifecycle -----------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self.socket.accept()
        except Exception:
            return
        if self.realtime.draining:
            await self._send_close(CloseCode.GOING_AWAY, "server draining")
            return
        metrics = self.services.metrics
        self.realtime.add_peer(self.peer)
        metrics.ws_open.inc()
        writer = asyncio.create_task(self._write_loop(), name=f"ws-writer {self.conn_id}")
        reader = asyncio.create_task(self._read_loop(), name=f"ws-reader {self.conn_id}")
        ticker = asyncio.create_task(self._tick_loop(), name=f"ws-ticker {self.conn_id}")
        code: int | None = None
        reason = ""
        flush = False
        try:
            code, reason, flush = await asyncio.shield(self._done)
        except asyncio.CancelledError:
            code, reason, flush = CloseCode.GOING_AWAY, "server stopping", False
        finally:
            for task in (reader, ticker):
                task.cancel()
            await asyncio.gather(reader, ticker, return_exceptions=True)
            try:
                await self.realtime.detach(self.peer)
            except Exception:
                log.exception("detaching connection %s failed", self.conn_id)
            if self._claimed is not None:
                self.realtime.release_user(self._claimed)
            if flush and code is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(writer), _FLUSH_TIMEOUT_S)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            if code is not None:
                await self._send_close(code, reason)
            self.realtime.remove_peer(self.peer)
            metrics.ws_open.dec()

    def request_close(self, code: int | None, reason: str = "", *, flush: bool = True) -> None:
        """End the connection: ``code`` None when the peer is already gone; ``flush`` sends what is queued first."""
        if self._done.done():
            return
        self.conn.close(CloseCode.NORMAL)  # no further actions from the protocol state
        if flush:
            self.outbox.close()
        else:
            self.outbox.abort()
        self._done.set_result((code, reason, flush))
        self._rearm.set()

    def _server_close(self, code: CloseCode, reason: str) -> None:
        self.request_close(int(code), reason, flush=False)

    def _overflowed(self) -> None:
        self.services.metrics.queue_overflows.inc()
        self.request_close(int(CloseCode.SLOW_CONSUMER), "slow consumer", flush=False)

    async def _send_close(self, code: int, reason: str) -> None:
        # The close frame waits behind what the socket already buffered: a slow client sees 4008 once it
        # reads again. One that does not read for two heartbeats is dead (uvicorn's ping timeout agrees);
        # nothing is held for it meanwhile but this task (its queue and subscriptions are gone).
        budget = max(_FLUSH_TIMEOUT_S, 2 * self.realtime.settings.ws_heartbeat_s)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.socket.close(code, reason[:120]), budget)

    # --- tasks -----------------------------------------------------------------------

    async def _write_loop(self) -> None:
        send = self.socket.send
        frames_out = self.services.metrics.frames_out
        try:
            while (frame := await self.outbox.get()) is not None:
                await send(WebSocketSendEvent(type="websocket.send", text=frame, bytes=None))
                frames_out.inc()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.request_close(None)

    async def _read_loop(self) -> None:
        try:
            while self.conn.state is not ConnState.CLOSED:
                message = await self.socket.receive()
                if message["type"] == "websocket.disconnect":
                    self.request_close(None)
                    return
                if message["type"] != "websocket.receive":
                    continue
                text = message.get("text")
                raw: str | bytes = text if text is not None else (message.get("bytes") or b"")
                frame, actions = self.conn.receive(raw, time.monotonic())
                self._apply(actions)
                if frame is not None:
                    await self._handle(frame)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The socket itself failed (disconnect mid-receive); there is nobody left to answer.
            self.request_close(None)

    async def _tick_loop(self) -> None:
        while not self._done.done():
            deadline = self.conn.next_deadline()
            self._rearm.clear()
            if deadline is None:
                await self._rearm.wait()
                continue
            delay = deadline - time.monotonic()
            if delay > 0:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._rearm.wait()
                continue
            self._apply(self.conn.tick(time.monotonic()))

    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendFrame):
                self.outbox.push(action.data.decode())
            elif isinstance(action, Close):
                self.request_close(int(action.code), action.reason, flush=True)

    # --- frames ----------------------------------------------------------------------

    async def _handle(self, frame: ClientFrame) -> None:
        try:
            if isinstance(frame, Auth):
                await self._auth(frame)
            elif isinstance(frame, Subscribe):
                await self._subscribe(frame)
            elif isinstance(frame, Unsubscribe):
                name = self.conn.unsubscribe(frame.channel)
                await self.realtime.unsubscribe(self.peer, name)
                self._reply(frame.id, {"channel": str(name)})
            elif isinstance(frame, Publish):
                await self._publish(frame)
        except ProtocolError as err:
            self._fail(frame, err)
        except DatabaseUnavailable:
            self._fail(frame, InternalError("database unavailable, retry shortly"))
        except Exception:
            log.exception("websocket frame %s failed", type(frame).__name__)
            self._fail(frame, InternalError())

    def _fail(self, frame: ClientFrame, err: ProtocolError) -> None:
        actions = self.conn.reply_error(frame.id, err, time.monotonic())
        if isinstance(frame, Auth) and self.conn.state is ConnState.AWAITING_AUTH:
            actions += self.conn.close(CloseCode.UNAUTHENTICATED, "authentication failed")
        self._apply(actions)

    def _reply(self, frame_id: int | None, result: dict[str, object]) -> None:
        if frame_id is not None:
            self.outbox.push(encode_reply_ok(frame_id, result).decode())

    async def _auth(self, frame: Auth) -> None:
        try:
            claims = self.services.tokens.verify(frame.token)
        except api_errors.Unauthorized as exc:
            raise (TokenExpired() if "expired" in exc.detail.lower() else Unauthorized(exc.detail)) from None
        identity = user_identity(claims)
        user_id = str(identity.require_user_id())
        first = self._claimed is None
        if first:
            if not self.realtime.claim_user(user_id):
                self._apply(self.conn.close(CloseCode.TOO_MANY_CONNECTIONS, "too many connections"))
                return
            self._claimed = user_id
        try:
            actions = self.conn.on_auth(frame.id, user_id, float(claims["exp"]), time.monotonic(),
                                        self.services.clock())
        except ProtocolError:
            if first:
                self.realtime.release_user(user_id)
                self._claimed = None
            raise
        self.peer.identity = identity
        self._apply(actions)
        self._rearm.set()

    async def _subscribe(self, frame: Subscribe) -> None:
        name = self.conn.subscribe(frame.channel)
        try:
            await self.realtime.subscribe(self.peer, name, frame.since, frame.id)
        except BaseException:
            self.conn.drop_subscription(name)
            raise

    async def _publish(self, frame: Publish) -> None:
        name, rule = self.conn.check_publish(frame.channel, frame.event, time.monotonic())
        payload = validate_payload(rule, frame.data)
        result = await self.realtime.publish(self.peer, name, rule, payload)
        self._reply(frame.id, result)


@websocket("/ws")
async def ws_endpoint(socket: WebSocket[Any, Any, Any]) -> None:
    realtime: Realtime = socket.app.state.services.extras[REALTIME]
    try:
        await WsSession(socket, realtime).run()
    except Exception:
        log.exception("websocket session failed")


ROUTES = [ws_endpoint]
