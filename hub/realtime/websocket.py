"""`GET /ws`: the websocket endpoint of protocol v1 (see docs and `channels.connection`).

One `WsSession` per connection. The handler's own task reads (frames in, one at
a time, through `channels.connection.Connection`); frames out go through the
connection's bounded `Outbox`, which sends at once when nothing is queued and
starts a writer task only while frames back up; the protocol's next deadline
(auth deadline, token expiry) waits on one timer shared by all connections
(`hub.realtime.deadlines`). An idle connection therefore costs one task, no writer, no
queue and no timer of its own. Whoever decides the connection
ends calls `request_close` (from another task it interrupts the read by
cancelling the handler's task, the way `asyncio.timeout` does); `run` then leaves
every channel, lets the writer flush when asked and sends the close frame. No
exception leaves the handler: protocol errors become replies or closes; anything
else is logged and answered with `internal`.

Close codes: 1001 draining, 1008 too many strikes (bad frames, not_found/forbidden
answers, frames over the per-connection budget, subscribes over the user's lookup budget) and, for the
user's new connections, during the cool-off that follows (`WS_STRIKE_COOL_OFF`), 1009 frame over
`WS_MAX_FRAME_BYTES` (uvicorn's `ws_max_size` enforces it first when configured;
the handler checks again), 4001 no auth in time / bad first token / token
expired, 4003 token revoked (at `auth`, or when the account's tokens are revoked:
`hub.realtime.accounts`), 4008 send queue overflow, 4029 too many connections of one user, or too many opened
per minute (both counted across instances). Encoding: the client's ``Sec-WebSocket-Protocol`` picks JSON text
frames (``hub.v1.json``, the default) or msgpack binary frames (``hub.v1.msgpack``; `channels.encodings`); every
frame out is the shared `OutFrame`'s bytes in that encoding. uvicorn itself closes a text frame with invalid
UTF-8 with 1007 before the app sees it. Websocket pings are uvicorn's (`ws_ping_interval`); the
protocol `ping` is answered with `pong`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, cast

from litestar import asgi
from litestar.exceptions import MethodNotAllowedException
from litestar.types import Receive, ReceiveMessage, Scope, Send
from litestar.types.asgi_types import WebSocketAcceptEvent, WebSocketCloseEvent, WebSocketSendEvent

from channels.connection import Action, Close, Connection, ConnState, SendFrame
from channels.encodings import Encoding, negotiate
from channels.errors import CloseCode, InternalError, ProtocolError, TokenExpired, TokenRevoked, Unauthorized
from channels.frames import Auth, ClientFrame, OutFrame, Publish, Subscribe, Unsubscribe, encode_reply_ok
from hub import errors as api_errors
from hub.realtime.admission import admit, cool_off
from hub.realtime.draining import OutboxWriter
from hub.realtime.fanout import Outbox, Subscriber
from hub.realtime.instance import Realtime
from hub.realtime.peers import Peer
from hub.realtime.ws_protocol import WIRE_EXTENSION
from persistence.db import DatabaseUnavailable
from persistence.identity import user_identity

__all__ = ["ROUTES", "WS_PATH", "WsSession", "serve", "ws_endpoint"]

log = logging.getLogger("hub.ws")

_FLUSH_TIMEOUT_S = 5.0

# (close code or None when the peer is gone, reason, send what is queued first)
_Ending = tuple[int | None, str, bool]


class WsSession(OutboxWriter):
    """One websocket connection: the handler's own task reads; a writer task exists only while frames back up."""

    __slots__ = ("_claimed", "_ending", "_interrupted", "_receive", "_send", "_task", "_wire", "conn",
                 "conn_id", "outbox", "peer", "realtime", "services")

    def __init__(self, receive: Receive, send: Send, realtime: Realtime,
                 wire: Callable[[bytes], bool] | None = None, encoding: Encoding = Encoding.JSON) -> None:
        self._receive = receive
        self._send = send
        self._wire = wire  # the server's write of ready-made frames (hub.realtime.ws_protocol), when it offers one
        self.realtime = realtime
        self.services = realtime.services
        self.conn_id = uuid.uuid4().hex
        self.outbox = Outbox(realtime.limits.send_queue_frames, self._overflowed)
        self.conn: Connection[Subscriber] = Connection(self.conn_id, time.monotonic(), realtime.limits,
                                                       realtime.publish_limiter, encoding)
        self.peer = Peer(self.conn, self.outbox, self._server_close, self._revoked)
        self._ending: _Ending | None = None
        # The handler's task while it is in the read loop, where request_close interrupts it.
        self._task: asyncio.Task[Any] | None = None
        self._interrupted = False  # request_close cancelled the handler's task
        super().__init__()
        self._claimed: str | None = None

    # --- lifecycle -----------------------------------------------------------------

    async def run(self, subprotocol: str | None = None) -> None:
        """Serve the connection; ``subprotocol`` is the one to accept (`channels.encodings.negotiate`)."""
        if (await self._receive())["type"] != "websocket.connect":
            return
        try:
            await self._send(WebSocketAcceptEvent(type="websocket.accept", subprotocol=subprotocol, headers=[]))
        except Exception:
            return
        if self.realtime.peers.draining:
            await self._send_close(CloseCode.GOING_AWAY, "server draining")
            return
        metrics = self.services.metrics
        self.realtime.peers.add(self.peer)
        metrics.ws_open.inc()
        self.outbox.attach(self._send_frame, self._start_writer, self._send_frames if self._wire else None,
                           self._write_now if self._wire else None)
        task = self._task = asyncio.current_task()
        assert task is not None
        self._arm_timer()
        try:
            # Read here, not in a task of its own: an idle connection holds this one task and nothing else.
            try:
                # No message in a local of this frame: an idle connection would keep its last one, parsed.
                while self._ending is None and await self._on_message(await self._receive()):
                    pass
            except Exception:
                # The socket itself failed (disconnect mid-receive); there is nobody left to answer.
                self.request_close(None)
        except asyncio.CancelledError:
            # request_close interrupts the read loop by cancelling this task; any other cancellation is the
            # server stopping: clean up and tell the client (below), then let it go on to whoever asked.
            if not (self._interrupted and task.uncancel() == 0):
                self._ending = CloseCode.GOING_AWAY, "server stopping", False
                raise
        finally:
            self._task = None
            if self._ending is None:
                self._ending = None, "", False
            await self._finish(*self._ending)

    async def _finish(self, code: int | None, reason: str, flush: bool) -> None:
        # The bookkeeping that must happen however the awaits below end (a shutdown may cancel them) comes
        # first or in `finally`.
        self._cancel_timer()
        if self._claimed is not None:
            self.realtime.release_user(self._claimed)
            self._claimed = None
        try:
            if self.conn.struck_out and self.peer.identity is not None:
                # Before the close frame: a client that reconnects as soon as it sees 1008 meets the cool-off.
                await cool_off(self.services, str(self.peer.identity.require_user_id()))
            try:
                await self.realtime.subscriptions.detach(self.peer)
            except Exception:
                log.exception("detaching connection %s failed", self.conn_id)
            writer = self._writer
            if writer is not None:
                if flush and code is not None:
                    await asyncio.wait([writer], timeout=_FLUSH_TIMEOUT_S)
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
            if code is not None:
                await self._send_close(code, reason)
        finally:
            self.realtime.peers.remove(self.peer)
            self.services.metrics.ws_open.dec()

    def request_close(self, code: int | None, reason: str = "", *, flush: bool = True) -> None:
        """End the connection: ``code`` None when the peer is already gone; ``flush`` sends what is queued first."""
        if self._ending is not None:
            return
        self.conn.close(CloseCode.NORMAL)  # no further actions from the protocol state
        if flush:
            self.outbox.close()
        else:
            self.outbox.abort()
        self._ending = code, reason, flush
        self._cancel_timer()
        if self._task is not None and asyncio.current_task() is not self._task:
            self._interrupted = True
            # Wherever it waits (receive, or a frame's handling: a subscribe or publish then ends as if the
            # connection dropped); within the task itself the read loop sees `_ending` on its own.
            self._task.cancel()

    def _server_close(self, code: CloseCode, reason: str) -> None:
        self.request_close(int(code), reason, flush=False)

    def _revoked(self) -> None:
        self._apply(self.conn.revoke())

    def _overflowed(self) -> None:
        self.services.metrics.queue_overflows.inc()
        self.request_close(int(CloseCode.SLOW_CONSUMER), "slow consumer", flush=False)

    async def _send_close(self, code: int, reason: str) -> None:
        # The close frame waits behind what the socket already buffered: a slow client sees 4008 once it
        # reads again. One that does not read for two heartbeats is dead (uvicorn's ping timeout agrees);
        # nothing is held for it meanwhile but this task (its queue and subscriptions are gone).
        budget = max(_FLUSH_TIMEOUT_S, 2 * self.realtime.settings.ws_heartbeat_s)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(budget):
                await self._send(WebSocketCloseEvent(type="websocket.close", code=code, reason=reason[:120]))

    # --- reading and writing -----------------------------------------------------------

    def _write_now(self, frame: OutFrame) -> bool:
        """The frame's ready-made bytes written at once, when the server takes them now."""
        wire = self._wire
        if wire is None or not wire(frame.binary_wire if self.conn.encoding is Encoding.MSGPACK else frame.wire):
            return False
        self.services.metrics.frames_out.inc()
        return True

    async def _send_frame(self, frame: OutFrame) -> None:
        if not self._write_now(frame):
            if self.conn.encoding is Encoding.MSGPACK:
                await self._send(WebSocketSendEvent(type="websocket.send", bytes=frame.msgpack, text=None))
            else:
                await self._send(WebSocketSendEvent(type="websocket.send", text=frame.text, bytes=None))
            self.services.metrics.frames_out.inc()

    async def _send_frames(self, frames: list[OutFrame]) -> None:
        """Several queued frames in one socket write (only offered when the server takes ready-made frames)."""
        assert self._wire is not None
        binary = self.conn.encoding is Encoding.MSGPACK
        wires = [frame.binary_wire for frame in frames] if binary else [frame.wire for frame in frames]
        if self._wire(b"".join(wires)):
            self.services.metrics.frames_out.inc(len(frames))
            return
        for frame in frames:
            await self._send_frame(frame)

    async def _on_message(self, message: ReceiveMessage) -> bool:
        """One ASGI message from the client; False once it has gone."""
        if message["type"] == "websocket.disconnect":
            self.request_close(None)
            return False
        if message["type"] == "websocket.receive":
            text = message.get("text")
            raw: str | bytes = text if text is not None else (message.get("bytes") or b"")
            frame, actions = self.conn.receive(raw, time.monotonic(), binary=text is None)
            self._apply(actions)
            if frame is not None:
                await self._handle(frame)
        return True

    def _arm_timer(self) -> None:
        """Have `on_deadline` called at the protocol's next deadline (replacing any earlier one)."""
        deadline = None if self._ending is not None else self.conn.next_deadline()
        if deadline is None:
            self._cancel_timer()
        else:
            # One shared timer for all connections; one that fires a little early finds nothing due in
            # `tick` and is simply set again.
            self.realtime.deadlines.set(self, deadline)

    def _cancel_timer(self) -> None:
        self.realtime.deadlines.clear(self)

    def on_deadline(self) -> None:
        self._apply(self.conn.tick(time.monotonic()))
        self._arm_timer()

    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendFrame):
                self.outbox.push(OutFrame(action.data))
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
                name, sub = self.conn.unsubscribe(frame.channel)
                await self.realtime.subscriptions.leave(self.peer, name, sub)
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
        # A revoked token ends the connection even on a re-auth: the account's older tokens are all revoked.
        if isinstance(frame, Auth) and (self.conn.state is ConnState.AWAITING_AUTH or isinstance(err, TokenRevoked)):
            actions += self.conn.close(err.close_code() if err.entry.close else Unauthorized.close_code(),
                                       "authentication failed")
        self._apply(actions)

    def _reply(self, frame_id: int | None, result: dict[str, object]) -> None:
        if frame_id is not None:
            self.outbox.push(OutFrame(encode_reply_ok(frame_id, result)))

    async def _auth(self, frame: Auth) -> None:
        try:
            claims = self.services.tokens.verify_once(frame.token)
        except api_errors.AccessTokenExpired:
            raise TokenExpired() from None
        except api_errors.Unauthorized as exc:
            raise Unauthorized(exc.detail) from None
        identity = user_identity(claims)
        try:
            await self.services.cutoffs.check(identity)
        except api_errors.TokenRevoked:
            raise TokenRevoked() from None
        user_id = str(identity.require_user_id())
        first = self._claimed is None
        if first:
            refusal = await admit(self.services, user_id)
            if refusal is not None:
                self._apply(self.conn.refuse_open(frame.id, refusal))
                return
            if not await self.realtime.claim_user(user_id):
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
        if self.services.cutoffs.known_revoked(identity):
            # A revocation's note came in while the cutoff was read: this socket was not among those it closed.
            self._revoked()
        self._arm_timer()

    async def _subscribe(self, frame: Subscribe) -> None:
        # `self.conn` holds the connection's one record of its subscriptions: the subscribe workflow adds to
        # it and removes from it (failed subscribe, revocation), so a revoked channel can be subscribed again.
        name = self.conn.subscribe(frame.channel)
        await self.realtime.subscriptions.subscribe(self.peer, name, frame.since, frame.id)

    async def _publish(self, frame: Publish) -> None:
        name, rule, payload = self.conn.check_publish(frame.channel, frame.event, frame.data, time.monotonic())
        result = await self.realtime.publishes.publish(self.peer, name, rule, payload)
        self._reply(frame.id, result)


WS_PATH = "/ws"


def serve(scope: Scope, receive: Receive, send: Send, realtime: Realtime) -> Coroutine[Any, Any, None]:
    """The session of one `/ws` websocket, which the app hands over before Litestar's routing (`hub.app.HubApp`).

    Not through Litestar: its per-connection scope state, scope copy, exception-handler map, `send` wrapper and
    middleware frames were ≈ 4 KiB of every open connection (docs/benchmarks.md, "Where idle memory goes"), and
    none of them acts on a websocket the session handles itself (it answers every error). Not a coroutine itself,
    so the connection's task holds no frame of it.
    """
    wire = cast("Callable[[bytes], bool] | None", (scope.get("extensions") or {}).get(WIRE_EXTENSION))
    encoding, subprotocol = negotiate(cast("list[str]", scope.get("subprotocols") or []))
    return WsSession(receive, send, realtime, wire, encoding).run(subprotocol)


@asgi(WS_PATH, is_mount=False, copy_scope=False)
async def ws_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    # Routed here only for HTTP: `HubApp` serves every websocket upgrade to this path itself (`serve`).
    raise MethodNotAllowedException("/ws takes websocket upgrades only")


ROUTES = [ws_endpoint]
