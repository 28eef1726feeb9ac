"""`HubClient`: an asyncio client of the hub's websocket protocol v1 (docs/protocol.md, docs/client.md).

One task per client keeps a connection: it connects, sends ``auth``, subscribes every channel again with
``since`` = the last sequence it queued, then reads frames and files them (replies to their request, events
to their subscription) until the connection ends, and starts over. Closes map to what the protocol asks:

- 1001 (the instance is draining) and 4008 (slow consumer): reconnect at once, to the next URL, and resume;
- 4001 (token expired): with a token provider, reconnect at once with a fresh token; with a static token, stop;
- 4003 (token revoked): stop with :class:`TokenRevoked`;
- anything else, or a failed attempt: wait (jittered exponential backoff, ``channels.backoff``) and retry.

Frames travel in the encoding the connection negotiated (``channels.encodings``): the client offers the
subprotocol of the one it was asked for, and speaks whatever the hub answered (JSON when it answered none).

Only ``websockets`` and msgspec, and the protocol's pure definitions in ``channels``: importing this module
starts no server and loads neither Litestar nor asyncpg.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Subprotocol

from channels.backoff import ReconnectBackoff
from channels.codes import FORBIDDEN, INTERNAL, RATE_LIMITED, TOKEN_EXPIRED, TOKEN_REVOKED, UNAUTHORIZED
from channels.encodings import Encoding, negotiate
from channels.errors import CloseCode
from hub.client.errors import (
    ClientClosed,
    ConnectionLost,
    Fatal,
    HubError,
    RequestError,
    RequestTimeout,
    SubscriptionRevoked,
    TokenRevoked,
    Unauthenticated,
)
from hub.client.frames import (
    Auth,
    AuthResult,
    ClientFrame,
    ErrorBody,
    ErrorFrame,
    Event,
    Ping,
    Pong,
    Presence,
    Publish,
    Reply,
    Reset,
    ServerFrame,
    Subscribe,
    SubscribeResult,
    Unsubscribe,
    decode_server_frame,
    encode_client_frame,
    result_as,
)
from hub.client.subscription import Subscription

__all__ = ["DEFAULT_BACKOFF", "Disconnect", "HubClient", "State", "TokenProvider"]

log = logging.getLogger("hub.client")

TokenProvider = Callable[[], Awaitable[str]]

# A client reconnects less eagerly than an instance to its database: thousands of browsers and scripts share
# one hub, so the first retry waits a quarter second and a long outage costs an attempt every 30 s at most.
DEFAULT_BACKOFF = ReconnectBackoff(first_s=0.25, fast_max_s=5.0, fast_for_s=60.0, slow_max_s=30.0)

# Closes after which the client reconnects at once: the hub asks for it (docs/protocol.md, "Errors and closes").
_RECONNECT_NOW = frozenset({CloseCode.GOING_AWAY, CloseCode.SLOW_CONSUMER})
_REFUSED = frozenset({UNAUTHORIZED.code, TOKEN_EXPIRED.code})
_PASSING = frozenset({RATE_LIMITED.code, INTERNAL.code})
_ENCODINGS = {"json": Encoding.JSON, "msgpack": Encoding.MSGPACK}


class State(Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Disconnect:
    """A connection that ended (or an attempt that failed): ``code`` is the close code, None when there was
    no close frame (refused connection, dropped socket: websockets reports 1006 for the latter)."""

    url: str
    code: int | None
    reason: str


@dataclass(slots=True)
class _SubscribeCall:
    subscription: Subscription
    since: int | None


class _Resync(Exception):
    """Reconnect and resume: an event skipped a sequence (the resume refills it), or a resubscribe failed for a
    passing reason (``rate_limited``, ``internal``)."""


class HubClient:
    """A connection to the hub that stays up: ``async with HubClient(url, token_provider=...) as hub:``.

    ``url``: the ``ws(s)://…/ws`` URL, or several (instances of one hub): each attempt after a lost connection
    goes to the next; ``client.urls`` may be changed while it runs. Give ``token`` (used as long as it is
    valid; ``refresh(token)`` replaces it) or ``token_provider`` (an async callable returning a valid access
    token: called before every connection and ``refresh_margin_s`` before the token expires, to refresh in
    place). ``seed`` seeds the backoff's jitter (its own ``random.Random``; the global one is never touched).
    ``encoding``: ``"json"`` (text frames) or ``"msgpack"`` (``hub.v1.msgpack``, binary frames, the same fields);
    ``client.encoding`` is the one the last connection negotiated.
    """

    def __init__(
        self,
        url: str | Sequence[str],
        *,
        token: str | None = None,
        token_provider: TokenProvider | None = None,
        backoff: ReconnectBackoff = DEFAULT_BACKOFF,
        seed: int | None = None,
        request_timeout: float = 10.0,
        open_timeout: float = 10.0,
        refresh_margin_s: float = 60.0,
        max_pending: int = 10_000,
        max_frame_bytes: int = 1 << 20,
        on_disconnect: Callable[[Disconnect], None] | None = None,
        encoding: Literal["json", "msgpack"] = "json",
    ) -> None:
        if (token is None) == (token_provider is None):
            raise ValueError("give exactly one of token and token_provider")
        if encoding not in _ENCODINGS:
            raise ValueError(f"encoding must be one of {sorted(_ENCODINGS)}, not {encoding!r}")
        self.urls: list[str] = [url] if isinstance(url, str) else list(url)
        if not self.urls:
            raise ValueError("no url")
        self.session: AuthResult | None = None  # the last accepted auth
        self.reconnects = 0  # connections authenticated after the first
        self.state = State.IDLE
        self.encoding = _ENCODINGS[encoding]  # until a connection negotiates one
        # JSON offers nothing, as hub-client.js: the default, and the handshake a hub without subprotocols takes.
        self._subprotocols = None if self.encoding is Encoding.JSON else [Subprotocol(self.encoding.value)]
        self._token = token
        self._provider = token_provider
        self._backoff = backoff
        self._random = random.Random(seed)
        self._request_timeout = request_timeout
        self._open_timeout = open_timeout
        self._refresh_margin_s = refresh_margin_s
        self._max_pending = max_pending
        self._max_frame_bytes = max_frame_bytes
        self._on_disconnect = on_disconnect
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Reply | Pong] | _SubscribeCall] = {}
        self._subs: dict[str, Subscription] = {}
        self._ws: ClientConnection | None = None
        self._generation = 0  # counts connections, so a subscription is sent once on each
        self._open = asyncio.Event()  # set while authenticated, and once the client stopped (waiters wake)
        self._runner: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._stopped: HubError | None = None  # ClientClosed, or the Fatal error that stopped the client
        self._refusals = 0  # auths refused in a row

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> HubClient:
        await self.connect()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def connect(self) -> AuthResult:
        """Start (and keep) connecting; returns once authenticated. Raises the ``Fatal`` error if the token is
        refused for good, ``RequestTimeout`` if no connection authenticated within ``open_timeout`` (the client
        keeps trying; ``close()`` it to stop)."""
        async with self._deadline(self._open_timeout, "no connection authenticated in time"):
            await self._wait_open()
        assert self.session is not None
        return self.session

    async def close(self) -> None:
        """Close for good (1000): pending requests fail with ``ClientClosed``, subscriptions end."""
        self._stop(ClientClosed())
        runner, self._runner = self._runner, None
        if runner is not None and runner is not asyncio.current_task():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    @property
    def error(self) -> HubError | None:
        """Why the client stopped (a ``Fatal`` error, or ``ClientClosed``); None while it runs."""
        return self._stopped

    def subscription(self, channel: str) -> Subscription | None:
        return self._subs.get(channel)

    # --- requests ----------------------------------------------------------------------------

    async def subscribe(self, channel: str, since: int | None = None) -> Subscription:
        """Join ``channel``: every retained event after ``since`` first, then live ones (without ``since``:
        live events after the head). Resubscribed with ``since`` = the last sequence queued after every
        reconnect. Raises ``RequestError`` when refused (``forbidden``, ``not_found``, ``unknown_channel``, …)."""
        if channel in self._subs:
            raise RequestError("already_subscribed", f"{channel} is subscribed on this client")
        sub = Subscription(self, channel, since, self._max_pending)
        self._subs[channel] = sub
        try:
            async with self._deadline(self._request_timeout, f"no reply to subscribe {channel}"):
                ws = await self._wait_open()
                await self._send_subscribe(ws, sub)
                await asyncio.shield(sub.first_reply())
        except BaseException as exc:
            if self._subs.get(channel) is sub:
                del self._subs[channel]
            sub.end(exc if isinstance(exc, HubError) else None)
            raise
        return sub

    async def unsubscribe(self, channel: str) -> None:
        """Leave ``channel``; its subscription's iterator ends."""
        sub = self._subs.pop(channel, None)
        if sub is None:
            return
        sub.end()
        if self._ws is not None and self._open.is_set() and sub.sent_on == self._generation:
            with contextlib.suppress(RequestError, ConnectionLost):
                await self._request(lambda i: Unsubscribe(id=i, channel=channel))

    async def publish(self, channel: str, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send a client event (``chat.message``, ``reaction``, ``typing``, …); the reply's ``result``. Raises
        ``RequestError`` with the hub's code (``event_not_allowed``, ``rate_limited`` with ``retry_after``,
        ``forbidden``, …), and ``ConnectionLost`` if the connection dropped first: a publish is not resent, it
        may or may not have been applied."""
        reply = await self._request(lambda i: Publish(id=i, channel=channel, event=event, data=data))
        return result_as(reply, dict[str, Any])

    async def refresh(self, token: str | None = None) -> AuthResult:
        """Send ``auth`` again on the open connection (no reconnect): with ``token``, which also replaces a
        static token for later connections, or with one from the token provider."""
        if token is None:
            token = await self._fresh_token()
        elif self._provider is None:
            self._token = token
        fresh = token
        reply = await self._request(lambda i: Auth(id=i, token=fresh))
        session = result_as(reply, AuthResult)
        self._authenticated(session)
        return session

    async def ping(self) -> float:
        """A protocol ``ping``; the round trip in seconds."""
        started = time.monotonic()
        await self._request(lambda i: Ping(id=i))
        return time.monotonic() - started

    # --- the connection loop ----------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0  # failed attempts since the last authenticated connection
        lost_at = time.monotonic()
        turn = 0
        try:
            while self._stopped is None:
                url = self.urls[turn % len(self.urls)]
                self.state = State.CONNECTING if self.session is None else State.RECONNECTING
                authenticated, drop, wait_s = await self._connection(url)
                log.info("hub connection to %s ended: %s %s", url, drop.code, drop.reason)
                if self._on_disconnect is not None:
                    try:
                        self._on_disconnect(drop)
                    except Exception:
                        log.exception("on_disconnect callback failed")
                turn += 1
                if drop.code == CloseCode.REVOKED:
                    raise TokenRevoked(drop.reason or "token revoked")
                if authenticated:
                    failures, lost_at = 0, time.monotonic()
                    if drop.code in _RECONNECT_NOW or (drop.code == CloseCode.UNAUTHENTICATED and self._provider):
                        continue
                delay = self._backoff.delay(failures, time.monotonic() - lost_at, self._random.random())
                failures += 1
                await asyncio.sleep(max(delay, wait_s))
        except Fatal as exc:
            self._stop(exc)

    async def _connection(self, url: str) -> tuple[bool, Disconnect, float]:
        """One connection, until it ends: (whether it authenticated, how it ended, a wait the hub asked for)."""
        try:
            token = await self._fresh_token()
        except Unauthenticated as exc:
            # The identity service may be down with the hub itself (a restart): a failed attempt, retried after
            # the backoff like a refused connection, never the end of the client.
            return False, Disconnect(url, None, exc.message), 0.0
        try:
            ws = await connect(url, open_timeout=self._open_timeout, compression=None, subprotocols=self._subprotocols,
                               max_size=self._max_frame_bytes, close_timeout=2)
        except (OSError, TimeoutError, WebSocketException) as exc:
            return False, Disconnect(url, None, f"{type(exc).__name__}: {exc}"), 0.0
        self._generation += 1
        self._ws = ws
        self.encoding = _negotiated(ws)
        reader = asyncio.get_running_loop().create_task(self._read(ws), name="hub-client-reader")
        authenticated = False
        wait_s = 0.0
        try:
            try:
                reply = await self._request_on(ws, lambda i: Auth(id=i, token=token))
            except HubError:
                reply = None
            if reply is not None and not reply.ok:
                wait_s = self._refused(reply.error)
            elif reply is not None:
                authenticated = True
                if self.session is not None:
                    self.reconnects += 1
                self._authenticated(result_as(reply, AuthResult))
                self._open.set()
                self.state = State.OPEN
                for sub in list(self._subs.values()):
                    await self._send_subscribe(ws, sub)
                await reader
        finally:
            if self._stopped is None:
                self._open.clear()
            self._ws = None
            self._cancel_refresh()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self._fail_pending(ConnectionLost())
            await ws.close()
        return authenticated, Disconnect(url, ws.close_code, ws.close_reason or ""), wait_s

    def _refused(self, error: ErrorBody | None) -> float:
        """An ``auth`` answered with an error: raise ``Fatal``, or return how long to wait before retrying."""
        code = error.code if error is not None else ""
        message = error.message if error is not None else "auth refused"
        if code == TOKEN_REVOKED.code:
            raise TokenRevoked(message)
        if code in _REFUSED and self._provider is None:
            raise Unauthenticated(message, code)
        if code in _REFUSED:
            self._refusals += 1
            if self._refusals >= 2:
                raise Unauthenticated(f"the token provider's token was refused twice: {message}", code)
        if code == RATE_LIMITED.code and error is not None:
            retry = (error.details or {}).get("retry_after")
            return float(retry) if isinstance(retry, (int, float)) else 0.0
        return 0.0

    def _authenticated(self, session: AuthResult) -> None:
        self.session = session
        self._refusals = 0
        self._cancel_refresh()
        if self._provider is not None:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_before(session.expires_at))

    async def _refresh_before(self, expires_at: float) -> None:
        left = expires_at - time.time()
        await asyncio.sleep(max(0.0, left - min(self._refresh_margin_s, left / 3)))
        self._refresher = None  # refresh() replaces it; it must not cancel this task
        try:
            await self.refresh()
        except HubError as exc:
            # The hub closes with 4001 at expiry, and the reconnect asks the provider again.
            log.warning("token refresh failed: %r", exc)

    def _cancel_refresh(self) -> None:
        refresher, self._refresher = self._refresher, None
        if refresher is not None:
            refresher.cancel()

    async def _fresh_token(self) -> str:
        if self._provider is None:
            assert self._token is not None
            return self._token
        try:
            return await self._provider()
        except Exception as exc:
            raise Unauthenticated(f"the token provider failed: {exc!r}") from exc

    # --- reading ----------------------------------------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        try:
            encoding = _negotiated(ws)
            async for raw in ws:
                try:
                    frame = decode_server_frame(raw, encoding)
                except msgspec.DecodeError as exc:
                    log.warning("skipped a frame that is not protocol v1: %s", exc)
                    continue
                if frame is not None:
                    await self._dispatch(frame)
        except _Resync as why:
            log.warning("%s; reconnecting to resume", why)
            await ws.close(CloseCode.NORMAL, "resync")
        except ConnectionClosed:
            pass

    async def _dispatch(self, frame: ServerFrame) -> None:
        if isinstance(frame, Event):
            sub = self._subs.get(frame.channel)
            if sub is not None and not await sub.deliver(frame):
                raise _Resync(f"{frame.channel}: seq {frame.seq} after {sub.last_seq}")
        elif isinstance(frame, Reply | Pong):
            await self._answered(frame)
        elif isinstance(frame, Presence):
            sub = self._subs.get(frame.channel)
            if sub is not None:
                await sub.presence_changed(frame)
        elif isinstance(frame, Reset):
            sub = self._subs.get(frame.channel)
            if sub is not None:
                await sub.reset(frame)
        else:
            self._server_error(frame)

    async def _answered(self, frame: Reply | Pong) -> None:
        call = self._pending.pop(frame.id, None) if frame.id is not None else None
        if isinstance(call, asyncio.Future):
            if not call.done():
                call.set_result(frame)
        elif call is not None and isinstance(frame, Reply):
            # Handled here, before the next frame is read: the replay that follows the reply meets a
            # subscription that already knows where it stands.
            sub = call.subscription
            if self._subs.get(sub.channel) is not sub:
                return
            if frame.ok:
                await sub.subscribed(result_as(frame, SubscribeResult), call.since)
            else:
                error = frame.error or ErrorBody(INTERNAL.code, "subscribe refused")
                if sub.result is not None and error.code in _PASSING:
                    raise _Resync(f"resubscribe to {sub.channel} refused: {error.code}")
                del self._subs[sub.channel]
                sub.end(RequestError(error.code, error.message, error.details) if sub.result is None
                        else SubscriptionRevoked(sub.channel, error.code, error.message, error.details))

    def _server_error(self, frame: ErrorFrame) -> None:
        error = frame.error
        channel = (error.details or {}).get("channel")
        sub = self._subs.get(channel) if isinstance(channel, str) and error.code == FORBIDDEN.code else None
        if sub is not None:
            del self._subs[sub.channel]
            sub.end(SubscriptionRevoked(sub.channel, error.code, error.message, error.details))
        elif error.code == TOKEN_REVOKED.code:
            self._stop(TokenRevoked(error.message))  # the 4003 close follows
        elif error.code == TOKEN_EXPIRED.code and self._provider is None:
            self._stop(Unauthenticated(error.message, error.code))  # the 4001 close follows
        else:
            log.warning("hub error: %s %s %s", error.code, error.message, error.details)

    # --- sending ------------------------------------------------------------------------------

    async def _send_subscribe(self, ws: ClientConnection, sub: Subscription) -> None:
        if sub.sent_on == self._generation:
            return
        sub.sent_on = self._generation
        frame_id = next(self._ids)
        since = sub.last_seq
        self._pending[frame_id] = _SubscribeCall(sub, since)
        with contextlib.suppress(ConnectionClosed):  # the next connection subscribes it again
            await _send(ws, Subscribe(id=frame_id, channel=sub.channel, since=since))

    async def _request(self, build: Callable[[int], ClientFrame]) -> Reply:
        async with self._deadline(self._request_timeout, "no reply in time"):
            ws = await self._wait_open()
            reply = await self._request_on(ws, build)
        if not reply.ok:
            error = reply.error or ErrorBody(INTERNAL.code, "request refused")
            raise RequestError(error.code, error.message, error.details)
        return reply

    async def _request_on(self, ws: ClientConnection, build: Callable[[int], ClientFrame]) -> Reply:
        """Send one frame with a fresh id and wait for its reply (a ``pong`` counts as an ok reply)."""
        frame_id = next(self._ids)
        answer: asyncio.Future[Reply | Pong] = asyncio.get_running_loop().create_future()
        self._pending[frame_id] = answer
        try:
            async with self._deadline(self._request_timeout, "no reply in time"):
                await _send(ws, build(frame_id))
                frame = await answer
        except ConnectionClosed:
            raise ConnectionLost() from None
        finally:
            self._pending.pop(frame_id, None)
        return frame if isinstance(frame, Reply) else Reply(frame.id, True)

    async def _wait_open(self) -> ClientConnection:
        if self._runner is None and self._stopped is None:
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="hub-client")
        while True:
            if self._stopped is not None:
                raise self._stopped
            ws = self._ws
            if ws is not None and self._open.is_set():
                return ws
            await self._open.wait()

    @contextlib.asynccontextmanager
    async def _deadline(self, seconds: float, message: str) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(seconds):
                yield
        except TimeoutError:
            raise RequestTimeout(message) from None

    def _fail_pending(self, error: HubError) -> None:
        pending, self._pending = self._pending, {}
        for call in pending.values():
            if isinstance(call, asyncio.Future) and not call.done():
                call.set_exception(error)

    def _stop(self, error: HubError) -> None:
        if self._stopped is not None:
            return
        self._stopped = error
        self.state = State.CLOSED
        self._cancel_refresh()
        self._fail_pending(error)
        for sub in self._subs.values():
            sub.end(None if isinstance(error, ClientClosed) else error)
        self._subs.clear()
        self._open.set()  # wakes every waiter, which then raises `error`


def _negotiated(ws: ClientConnection) -> Encoding:
    """The encoding the hub answered with (the same rule the hub applies: none answered is JSON)."""
    return negotiate([] if ws.subprotocol is None else [ws.subprotocol])[0]


async def _send(ws: ClientConnection, frame: ClientFrame) -> None:
    encoding = _negotiated(ws)
    await ws.send(encode_client_frame(frame, encoding), text=not encoding.binary)
