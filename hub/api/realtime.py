"""The realtime edge over plain HTTP, for clients whose network refuses websocket upgrades
(docs/protocol.md, "Server-Sent Events"):

* `POST /api/realtime/tickets`: the caller's bearer token → a single-use ticket for `GET /sse`, valid 30 s
  (`hub.realtime.tickets`). Opening a stream is opening a connection: the ticket spends the user's
  `WS_OPEN_RATE_PER_MINUTE` budget and is refused during a strike cool-off, as a websocket's `auth` is.
* `GET /sse?ticket=…&channel=…&since=<channel>:<seq>`: the stream (`hub.realtime.sse`). `Last-Event-ID`
  (`<channel>:<seq>`, sent by a browser's `EventSource` when it reconnects) overrides an earlier `since` of
  its channel. A missing, spent or expired ticket is 401 `invalid_ticket`; more channels than
  `WS_MAX_SUBSCRIPTIONS` 422 `too_many_subscriptions`; a user at `WS_MAX_CONNECTIONS_PER_USER` (websockets
  and streams together, on all instances) 429.
* `POST /api/channels/{channel}/publish {event, data}`: the websocket `publish` op, for the same table,
  payload checks, per-user and channel rate (`WS_PUBLISH_RATE`/`WS_PUBLISH_BURST`), authorization and
  handlers; the websocket's error codes become problem documents with the registry's statuses. A socket's
  frames also pay its frame budget (`WS_FRAME_RATE`/`WS_FRAME_BURST`) whatever their channel: a user's REST
  publishes, on all channels together, pay one such budget per instance.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, cast

import msgspec
from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Scope, Send
from litestar.types.composite_types import TypeEncodersMap

from channels import errors as ws_errors
from channels.connection import Connection
from channels.errors import ProtocolError
from channels.frames import ChannelText, EventName
from channels.names import parse_channel
from channels.sse import parse_position
from hub import errors as api_errors
from hub.auth import AppServices, Caller
from hub.realtime.admission import admit
from hub.realtime.instance import Realtime
from hub.realtime.sse import RAW_SEND, SSE_PATH, SseSession
from hub.realtime.tickets import TicketsUnavailable
from hub.services import Services
from persistence.identity import Identity, user_identity

__all__ = ["ROUTES"]

_TICKET_LENGTH = 43  # secrets.token_urlsafe(32)
_DRAINING = "This instance is draining; reconnect"


class Ticket(msgspec.Struct):
    ticket: str
    expires_at: int  # Unix seconds


class PublishIn(msgspec.Struct, forbid_unknown_fields=True):
    event: EventName
    data: dict[str, Any]


class Published(msgspec.Struct):
    channel: str
    event: str
    result: dict[str, Any]  # the websocket reply's `result` (a durable publish's `seq`, …)


def _realtime(services: Services) -> Realtime:
    return services.started.get(Realtime)


# The websocket's refusals as REST errors: the same code wherever the registry gives it a status.
_REST: dict[type[ProtocolError], type[api_errors.ApiError]] = {
    ws_errors.Unauthorized: api_errors.Unauthorized,
    ws_errors.TokenRevoked: api_errors.TokenRevoked,
    ws_errors.Forbidden: api_errors.Forbidden,
    ws_errors.NotFound: api_errors.NotFound,
    ws_errors.UnknownChannel: api_errors.UnknownChannel,
    ws_errors.EmailUnverified: api_errors.EmailUnverified,
    ws_errors.EventNotAllowed: api_errors.EventNotAllowed,
    ws_errors.SessionNotLive: api_errors.SessionNotLive,
    ws_errors.TooManySubscriptions: api_errors.TooManySubscriptions,
}


def _rest_error(err: ProtocolError) -> Exception:
    if isinstance(err, ws_errors.RateLimited):
        return api_errors.RateLimited(err.retry_after)
    if isinstance(err, ws_errors.FrameError):
        details = err.details or {}
        return api_errors.ValidationFailed({str(details.get("path", "$")): str(details.get("message", err.message))})
    if isinstance(err, ws_errors.TokenExpired):
        return api_errors.AccessTokenExpired()
    for cls in type(err).__mro__:
        rest = _REST.get(cls)
        if rest is not None:
            return rest(err.message)
    return api_errors.NotReady(err.message)  # `internal` from the realtime edge: the database or broker is down


# --- tickets ---------------------------------------------------------------------------


def _tickets_unavailable() -> api_errors.NotReady:
    return api_errors.NotReady("Stream tickets are unavailable right now; retry shortly", headers={"Retry-After": "1"})


@post("/api/realtime/tickets", status_code=201, tags=["realtime"])
async def create_ticket(user: Caller, services: AppServices) -> Ticket:
    """A single-use ticket for `GET /sse`, valid 30 s, on any instance."""
    refusal = await admit(services, str(user.require_user_id()))
    if refusal is not None:
        raise api_errors.RateLimited(refusal.retry_after)
    try:
        issued = await _realtime(services).tickets.issue(user, services.clock())
    except TicketsUnavailable:
        raise _tickets_unavailable() from None
    return Ticket(issued.ticket, int(issued.expires_at))


# --- the stream ------------------------------------------------------------------------


class _Stream(ASGIResponse):
    """Hands the request's `receive` and `send` to the session (a stream is no body Litestar writes)."""

    def __init__(self, session: SseSession, channels: list[tuple[str, int | None]]) -> None:
        self._session = session
        self._channels = channels

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = self._session
        realtime = session.realtime
        user_id = str(session.peer.caller().require_user_id())
        # Counted here, not in the route: from the claim to `run`'s `finally`, which releases it, nothing awaits,
        # so no path between the route and the stream (a client gone, a cancelled task) keeps a slot. The drain
        # is checked again after the last await: a stream the drain could not see is never added to the peers.
        if not await realtime.claim_user(user_id):
            raise api_errors.RateLimited(float(realtime.settings.ws_heartbeat_s))
        if realtime.peers.draining:
            realtime.release_user(user_id)
            raise api_errors.NotReady(_DRAINING)
        session.claimed = True
        raw_send = cast("Send", scope.get(RAW_SEND, send))
        await session.run(receive, send, raw_send, self._channels)


class SseResponse(Response[str]):
    """`text/event-stream`, written by an `SseSession`."""

    def __init__(self, session: SseSession, channels: list[tuple[str, int | None]]) -> None:
        super().__init__("", media_type="text/event-stream")
        self._session = session
        self._channels = channels

    def to_asgi_response(self, app: Any, request: Request[Any, Any, Any], *,
                         background: BackgroundTask | BackgroundTasks | None = None,
                         cookies: Any = None, encoded_headers: Any = None, headers: Any = None,
                         is_head_response: bool = False, media_type: Any = None, status_code: int | None = None,
                         type_encoders: TypeEncodersMap | None = None) -> ASGIResponse:
        return _Stream(self._session, self._channels)


def _positions(channels: list[str], since: list[str], last_event_id: str | None,
               limit: int) -> list[tuple[str, int | None]]:
    if not channels:
        raise api_errors.ValidationFailed({"channel": "name at least one channel"})
    if len(channels) > limit:
        raise api_errors.TooManySubscriptions(f"At most {limit} channels per stream")
    names: list[str] = []
    try:
        for channel in channels:
            name = str(parse_channel(channel))
            if name not in names:
                names.append(name)
        starts: dict[str, int] = {}
        for text in since:
            channel, seq = parse_position(text, "since")
            starts[str(parse_channel(channel))] = seq
        if last_event_id:
            channel, seq = parse_position(last_event_id, "Last-Event-ID")
            name = str(parse_channel(channel))
            # Both say how far the client got on that channel: the later one, or what it has comes again.
            starts[name] = max(seq, starts.get(name, seq))
    except ProtocolError as err:
        raise _rest_error(err) from None
    return [(name, starts.get(name)) for name in names]


async def _redeem(services: Services, ticket: str | None) -> tuple[Identity, float]:
    if not ticket or len(ticket) > 2 * _TICKET_LENGTH:
        raise api_errors.InvalidTicket()
    try:
        claims = await _realtime(services).tickets.redeem(ticket)
    except TicketsUnavailable:
        raise _tickets_unavailable() from None
    if claims is None:
        raise api_errors.InvalidTicket()
    identity = user_identity(claims)
    await services.cutoffs.check(identity)  # a ban or sign-out since the ticket was issued: 401 token_revoked
    return identity, float(claims["exp"])


@get(SSE_PATH, tags=["realtime"], media_type="text/event-stream", security=[], responses={
    200: ResponseSpec(str, description="`text/event-stream`: one SSE message per server frame "
                      "(`id: <channel>:<seq>`, `event: <op>`, `data: <the websocket frame's JSON>`)",
                      media_type="text/event-stream", generate_examples=False)})
async def sse_stream(
    services: AppServices,
    ticket: Annotated[str | None, QueryParameter(max_length=2 * _TICKET_LENGTH)] = None,
    channel: Annotated[list[str] | None, QueryParameter()] = None,
    since: Annotated[list[str] | None, QueryParameter()] = None,
    last_event_id: Annotated[str | None, HeaderParameter(name="last-event-id", max_length=256)] = None,
) -> SseResponse:
    """Streams the channels' `event`, `presence` and `reset` frames as Server-Sent Events (`id:` is
    `<channel>:<seq>`), resuming from `since` / `Last-Event-ID` as a websocket `subscribe` with `since` does.
    The ticket comes from `POST /api/realtime/tickets`; the stream ends when the token it was issued for
    expires or is revoked."""
    realtime = _realtime(services)
    if realtime.peers.draining:
        raise api_errors.NotReady(_DRAINING)
    channels = _positions(channel or [], since or [], last_event_id, realtime.limits.max_subscriptions)
    identity, exp = await _redeem(services, ticket)
    try:
        session = SseSession(realtime, identity, exp)
    except ws_errors.TokenExpired:
        raise api_errors.AccessTokenExpired() from None
    return SseResponse(session, channels)


# --- publish -----------------------------------------------------------------------------


@post("/api/channels/{channel:str}/publish", status_code=200, tags=["realtime"])
async def publish(channel: FromPath[ChannelText], data: JSONBody[PublishIn], user: Caller,
                  services: AppServices) -> Published:
    """The websocket `publish` op (docs/protocol.md, "Client publishes") for clients on `GET /sse`."""
    realtime = _realtime(services)
    user_id = str(user.require_user_id())
    wait = realtime.rest_publish_limiter.try_acquire(user_id, time.monotonic())
    if wait > 0:
        raise api_errors.RateLimited(wait)
    try:
        conn: Connection[None] = Connection(uuid.uuid4().hex, time.monotonic(), realtime.limits,
                                            realtime.publish_limiter)
        # The protocol state of a connection that lives for this request: the `user` dependency checked the
        # token, so any `exp` ahead will do; its publishes share the user's websocket bucket ("<user>|<channel>").
        conn.on_auth(None, user_id, float(services.clock()) + 60, time.monotonic(),
                     services.clock())
        name, rule, payload = conn.check_publish(channel, data.event, data.data, time.monotonic())
        result = await realtime.publishes.publish_as(user, name, rule, payload)
    except ProtocolError as err:
        raise _rest_error(err) from None
    return Published(str(name), data.event, result)


ROUTES = [create_ticket, sse_stream, publish]
