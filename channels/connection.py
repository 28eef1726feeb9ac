"""One websocket connection's protocol state, without I/O.

States: ``AWAITING_AUTH`` → ``OPEN`` → ``CLOSED``. Methods return
:data:`Action` lists (frames to send, a close) or raise
:class:`~channels.errors.ProtocolError`; the I/O layer turns an error into actions
with :meth:`Connection.reply_error`. After a ``Close`` action the connection is
``CLOSED`` and every method returns no actions.

Times: ``now`` is monotonic seconds; ``wall_now`` (only in ``on_auth``) is Unix
time, needed once to turn the token's ``exp`` into a monotonic deadline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from channels.admission import OpenRefusal
from channels.encodings import Encoding
from channels.errors import (
    AlreadySubscribed,
    CloseCode,
    Forbidden,
    FrameError,
    LookupBudgetSpent,
    NotFound,
    NotSubscribed,
    ProtocolError,
    RateLimited,
    TokenExpired,
    TokenRevoked,
    TooManySubscriptions,
    Unauthorized,
)
from channels.frames import (
    Auth,
    ClientFrame,
    Ping,
    decode_client_frame,
    encode_error,
    encode_pong,
    encode_reply_error,
    encode_reply_ok,
)
from channels.limits import ProtocolLimits
from channels.names import ChannelName, parse_channel
from channels.publishes import PublishRule, check_publish, validate_payload
from channels.ratelimit import KeyedLimiter, PublishLimiter, TokenBucket

__all__ = ["STRIKES", "Action", "Close", "ConnState", "Connection", "ProtocolLimits", "SendFrame"]

# Answers that count as a strike: a client that keeps sending bad frames, or keeps probing for posts,
# sessions and channels that are not there or not its own, is closed (1008). A refusal for want of a
# frame token is a strike too (`receive`), and so is a subscribe over the user's lookup budget (a client that
# keeps subscribing past it is probing); a publish over its per-channel rate is not (people type fast).
STRIKES: tuple[type[ProtocolError], ...] = (FrameError, NotFound, Forbidden, LookupBudgetSpent)


class ConnState(Enum):
    AWAITING_AUTH = "awaiting_auth"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SendFrame:
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    code: CloseCode
    reason: str


Action = SendFrame | Close

# What the I/O layer keeps per subscription (its fan-out entry); opaque here.
H = TypeVar("H")


class Connection(Generic[H]):
    """The protocol state of one connection, including its one record of subscriptions: channel → the I/O
    layer's handle for it. The I/O layer adds a handle once a subscribe is authorized (`subscribed`) and
    removes it through `unsubscribe` (the client's) or `drop` (the server's: a failed subscribe, a revoked
    one, a connection gone), so what the protocol checks and what the fan-out holds cannot disagree."""

    __slots__ = ("_auth_deadline", "_expiry_deadline", "_frames", "_limiter", "_strikes", "_subscriptions",
                 "conn_id", "encoding", "expires_at", "limits", "state", "struck_out", "user_id")

    def __init__(
        self,
        conn_id: str,
        now: float,
        limits: ProtocolLimits | None = None,
        publish_limiter: PublishLimiter | None = None,
        encoding: Encoding = Encoding.JSON,
    ) -> None:
        """``publish_limiter`` may be shared by a user's connections; default: one per connection.
        ``encoding`` is what client frames arrive in (:mod:`channels.encodings`)."""
        self.conn_id = conn_id
        self.encoding = encoding
        self.limits = limits or ProtocolLimits()
        self.state = ConnState.AWAITING_AUTH
        self.user_id: str | None = None
        self.expires_at: float | None = None  # token exp, Unix seconds
        self._auth_deadline = now + self.limits.auth_timeout_s
        self._expiry_deadline: float | None = None  # monotonic
        self._frames = TokenBucket(self.limits.frame_rate_per_s, self.limits.frame_burst)
        self._strikes: deque[float] | None = None  # created at the first strike: most connections never earn one
        self.struck_out = False  # closed for strikes: the I/O layer starts the user's cool-off
        # `is None`, not `or`: an empty shared limiter has len() 0 and is falsy, and must still be the shared one.
        self._limiter: PublishLimiter = publish_limiter if publish_limiter is not None else KeyedLimiter(
            self.limits.publish_rate_per_s,
            self.limits.publish_burst,
            max_keys=self.limits.max_subscriptions * 4,
        )
        self._subscriptions: dict[str, H] = {}

    # --- inbound ---------------------------------------------------------------

    def receive(self, raw: bytes | str, now: float, *, binary: bool = False) -> tuple[ClientFrame | None, list[Action]]:
        """Decode one inbound frame; ``binary``: it came as a websocket binary frame (else text).

        Returns the frame for the I/O layer to act on (``auth``, ``subscribe``,
        ``unsubscribe``, ``publish``), or ``None`` with the actions already decided:
        ``pong``, a ``bad_frame`` reply (also for a text frame on a msgpack connection, or a binary
        one on a JSON connection), a ``rate_limited`` reply for a frame over the
        connection's frame budget (each of those a strike; close 1008 after too many),
        close 1009 for an oversize frame, close 4001 for anything but ``auth`` before auth.
        """
        if self.state is ConnState.CLOSED:
            return None, []
        if _size(raw, self.limits.max_frame_bytes) > self.limits.max_frame_bytes:
            return None, self._close(CloseCode.TOO_BIG, "frame too big")
        wait = self._frames.try_acquire(now)  # every frame pays, whatever it holds
        try:
            if binary != self.encoding.binary:
                raise _wrong_frame_type(binary, self.encoding)
            frame = decode_client_frame(raw, self.encoding)
        except FrameError as err:
            return None, self._refuse(err.frame_id, RateLimited(wait) if wait > 0 else err, now, strike=True)
        if wait > 0:
            return None, self._refuse(frame.id, RateLimited(wait), now, strike=True)
        if self.state is ConnState.AWAITING_AUTH and not isinstance(frame, Auth):
            actions = self.reply_error(frame.id, Unauthorized("authenticate first"), now)
            return None, actions + self._close(Unauthorized.close_code(), "authenticate first")
        if isinstance(frame, Ping):
            return None, [SendFrame(encode_pong(frame.id))]
        return frame, []

    def on_auth(
        self, frame_id: int | None, user_id: str, exp: float, now: float, wall_now: float
    ) -> list[Action]:
        """A verified token for ``user_id`` expiring at ``exp`` (Unix seconds).

        First auth opens the connection; a later one with the same user refreshes
        the expiry; another user is refused (``forbidden``), the old identity stays.
        An already expired ``exp`` raises ``token_expired``.
        """
        if self.state is ConnState.CLOSED:
            return []
        if self.user_id is not None and user_id != self.user_id:
            raise Forbidden("token is for another user")
        if exp <= wall_now:
            raise TokenExpired()
        self.user_id = user_id
        self.expires_at = exp
        self._expiry_deadline = now + (exp - wall_now)
        self.state = ConnState.OPEN
        result = {
            "user_id": user_id,
            "expires_at": int(exp),
            "connection_id": self.conn_id,
            "heartbeat_s": self.limits.heartbeat_s,
        }
        return [SendFrame(encode_reply_ok(frame_id, result))]

    def refuse_open(self, frame_id: int | None, refusal: OpenRefusal) -> list[Action]:
        """The first ``auth`` of a user who may not open a connection now (``channels.admission``): answered
        ``rate_limited`` with ``retry_after``, then closed with the refusal's code. Not a strike."""
        if self.state is not ConnState.AWAITING_AUTH:
            return []
        err = RateLimited(refusal.retry_after)
        data = encode_reply_error(frame_id, err) if frame_id is not None else encode_error(err)
        return [SendFrame(data), *self._close(refusal.code, refusal.reason)]

    @property
    def subscriptions(self) -> Mapping[str, H]:
        """Channel → handle of every subscription the connection holds."""
        return self._subscriptions

    def subscribe(self, channel: str) -> ChannelName:
        """Check a subscribe against the connection's subscriptions; the I/O layer then checks access,
        joins the fan-out and records the subscription with :meth:`subscribed`.

        Raises ``unknown_channel``, ``already_subscribed``, ``too_many_subscriptions``.
        """
        name = parse_channel(channel)
        if str(name) in self._subscriptions:
            raise AlreadySubscribed(details={"channel": str(name)})
        if len(self._subscriptions) >= self.limits.max_subscriptions:
            raise TooManySubscriptions(details={"max": self.limits.max_subscriptions})
        return name

    def subscribed(self, name: ChannelName, handle: H) -> None:
        """Record an authorized subscription (before its reply: a client unsubscribe may follow at once)."""
        self._subscriptions[str(name)] = handle

    def unsubscribe(self, channel: str) -> tuple[ChannelName, H]:
        """A client unsubscribe: the record goes; its handle is returned for the I/O layer to release.

        Raises ``unknown_channel`` or ``not_subscribed``.
        """
        name = parse_channel(channel)
        handle = self._subscriptions.pop(str(name), None)
        if handle is None:
            raise NotSubscribed(details={"channel": str(name)})
        return name, handle

    def drop(self, channel: str) -> H | None:
        """A server-side end of a subscription (failed subscribe, revocation, connection gone): the record
        goes, so the channel can be subscribed again; the handle, if there was one, is returned."""
        return self._subscriptions.pop(channel, None)

    def check_publish(self, channel: str, event: str, data: dict[str, Any],
                      now: float) -> tuple[ChannelName, PublishRule, Any]:
        """Table check, the per-user, per-channel rate limit, then the payload.

        Raises ``unknown_channel``, ``event_not_allowed``, ``rate_limited``, ``bad_frame``. Returns the
        rule's payload struct. Who may send it (``access.decide_publish``) is checked next by the caller,
        which has the channel's facts.
        """
        name = parse_channel(channel)
        rule = check_publish(name, event)
        retry_after = self._limiter.try_acquire(f"{self.user_id}|{name}", now)
        if retry_after > 0:
            raise RateLimited(retry_after)
        return name, rule, validate_payload(rule, data)

    # --- errors and time -------------------------------------------------------

    def reply_error(self, frame_id: int | None, err: ProtocolError, now: float) -> list[Action]:
        """Answer a request with ``err`` (``reply`` if it had an id, else an ``error`` frame).

        An error in :data:`STRIKES` counts as a strike; too many strikes add a close 1008.
        """
        return self._refuse(frame_id, err, now, strike=isinstance(err, STRIKES))

    def _refuse(self, frame_id: int | None, err: ProtocolError, now: float, *, strike: bool) -> list[Action]:
        if self.state is ConnState.CLOSED:
            return []
        data = encode_reply_error(frame_id, err) if frame_id is not None else encode_error(err)
        actions: list[Action] = [SendFrame(data)]
        if strike:
            strikes = self._strikes
            if strikes is None:
                strikes = self._strikes = deque(maxlen=self.limits.strike_limit)
            strikes.append(now)
            if len(strikes) == strikes.maxlen and now - strikes[0] < self.limits.strike_window_s:
                self.struck_out = True
                actions += self._close(CloseCode.POLICY, "too many refused frames")
        return actions

    def tick(self, now: float) -> list[Action]:
        """Deadlines: no auth in time → close 4001; token expired → ``token_expired`` error, close 4001."""
        if self.state is ConnState.AWAITING_AUTH and now >= self._auth_deadline:
            return self._close(CloseCode.UNAUTHENTICATED, "authentication timeout")
        if (
            self.state is ConnState.OPEN
            and self._expiry_deadline is not None
            and now >= self._expiry_deadline
        ):
            notice = SendFrame(encode_error(TokenExpired()))
            return [notice, *self._close(TokenExpired.close_code(), "token expired")]
        return []

    def next_deadline(self) -> float | None:
        """When :meth:`tick` next has something to do."""
        if self.state is ConnState.AWAITING_AUTH:
            return self._auth_deadline
        if self.state is ConnState.OPEN:
            return self._expiry_deadline
        return None

    def revoke(self) -> list[Action]:
        """The account's tokens were revoked (ban, logout-all, …): ``token_revoked`` error, close 4003."""
        if self.state is not ConnState.OPEN:
            return []
        return [SendFrame(encode_error(TokenRevoked())), *self._close(TokenRevoked.close_code(), "token revoked")]

    def close(self, code: CloseCode, reason: str = "") -> list[Action]:
        """Close from the server side (draining 1001, slow consumer 4008, …)."""
        return [] if self.state is ConnState.CLOSED else self._close(code, reason)

    def _close(self, code: CloseCode, reason: str) -> list[Action]:
        self.state = ConnState.CLOSED
        return [Close(code, reason)]


def _wrong_frame_type(binary: bool, encoding: Encoding) -> FrameError:
    got, expected = ("binary", "text") if binary else ("text", "binary")
    return FrameError(f"{got} frame on a {encoding.value} connection",
                      {"message": f"this connection takes {expected} frames only", "expected": expected})


def _size(raw: bytes | str, limit: int) -> int:
    if isinstance(raw, bytes):
        return len(raw)
    # Cheap bounds first: a str of n code points is n..4n UTF-8 bytes.
    if len(raw) > limit:
        return len(raw)
    if 4 * len(raw) <= limit:
        return len(raw)
    return len(raw.encode("utf-8", "surrogatepass"))
