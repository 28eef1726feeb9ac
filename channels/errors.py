"""The realtime layer's one error tree, and the websocket close codes.

Every error a client can see is a :class:`ProtocolError` with a stable ``code``
from the protocol's list. Its ``message`` is for humans and its ``details`` are
JSON-safe; neither ever carries a stack trace. ``http_status`` lets the REST
history route reuse the same errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import IntEnum
from typing import Any, ClassVar

__all__ = [
    "AlreadySubscribed",
    "CloseCode",
    "EventNotAllowed",
    "Forbidden",
    "FrameError",
    "InternalError",
    "LookupBudgetSpent",
    "NotFound",
    "NotSubscribed",
    "ProtocolError",
    "RateLimited",
    "SessionNotLive",
    "TokenExpired",
    "TooManySubscriptions",
    "Unauthorized",
    "UnknownChannel",
    "error_for_code",
]


class CloseCode(IntEnum):
    """Websocket close codes of protocol v1."""

    NORMAL = 1000
    GOING_AWAY = 1001  # draining: reconnect elsewhere and resume
    POLICY = 1008  # repeated bad frames
    TOO_BIG = 1009  # frame over the size limit
    UNAUTHENTICATED = 4001  # no auth in time, or token expired
    SLOW_CONSUMER = 4008  # send queue overflowed; reconnect and resume
    TOO_MANY_CONNECTIONS = 4029


class ProtocolError(Exception):
    """Base of every client-visible error. Subclasses fix ``code`` and ``http_status``."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500
    default_message: ClassVar[str] = "internal error"

    def __init__(self, message: str | None = None, details: Mapping[str, Any] | None = None) -> None:
        self.message = message if message is not None else self.default_message
        self.details: dict[str, Any] | None = dict(details) if details is not None else None
        super().__init__(self.message)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, details={self.details!r})"
        )


class FrameError(ProtocolError):
    """``bad_frame``: unparseable or invalid frame; ``details`` say where.

    ``frame_id`` is the client's ``id`` when it could still be read from the bad
    frame, so the server can answer with a ``reply`` instead of an ``error``.
    """

    code = "bad_frame"
    http_status = 400
    default_message = "invalid frame"

    def __init__(
        self,
        message: str | None = None,
        details: Mapping[str, Any] | None = None,
        *,
        frame_id: int | None = None,
    ) -> None:
        super().__init__(message, details)
        self.frame_id = frame_id


class Unauthorized(ProtocolError):
    code = "unauthorized"
    http_status = 401
    default_message = "not authenticated"


class TokenExpired(ProtocolError):
    code = "token_expired"
    http_status = 401
    default_message = "token expired"


class Forbidden(ProtocolError):
    code = "forbidden"
    http_status = 403
    default_message = "forbidden"


class NotFound(ProtocolError):
    code = "not_found"
    http_status = 404
    default_message = "not found"


class UnknownChannel(ProtocolError):
    code = "unknown_channel"
    http_status = 400
    default_message = "malformed channel name"


class AlreadySubscribed(ProtocolError):
    code = "already_subscribed"
    http_status = 409
    default_message = "already subscribed"


class NotSubscribed(ProtocolError):
    code = "not_subscribed"
    http_status = 409
    default_message = "not subscribed"


class EventNotAllowed(ProtocolError):
    code = "event_not_allowed"
    http_status = 403
    default_message = "event not allowed on this channel"


class SessionNotLive(ProtocolError):
    code = "session_not_live"
    http_status = 409
    default_message = "session is not live"


class RateLimited(ProtocolError):
    """``rate_limited``; ``details.retry_after`` is in seconds."""

    code = "rate_limited"
    http_status = 429
    default_message = "rate limited"

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        # Rounded up to milliseconds: a client waiting exactly this long succeeds.
        self.retry_after = math.ceil(max(retry_after, 0.0) * 1000) / 1000
        super().__init__(message, {"retry_after": self.retry_after})


class LookupBudgetSpent(RateLimited):
    """``rate_limited`` for a subscribe over the user's budget of database lookups (all their connections on
    all instances): unlike a publish over its per-channel rate, a strike."""


class TooManySubscriptions(ProtocolError):
    code = "too_many_subscriptions"
    http_status = 429
    default_message = "too many subscriptions"


class InternalError(ProtocolError):
    """``internal``: never carries the underlying exception's text."""

    code = "internal"
    http_status = 500
    default_message = "internal error"


_BY_CODE: dict[str, type[ProtocolError]] = {
    cls.code: cls
    for cls in (
        FrameError,
        Unauthorized,
        TokenExpired,
        Forbidden,
        NotFound,
        UnknownChannel,
        AlreadySubscribed,
        NotSubscribed,
        EventNotAllowed,
        SessionNotLive,
        TooManySubscriptions,
        InternalError,
    )
}


def error_for_code(
    code: str, message: str | None = None, details: Mapping[str, Any] | None = None
) -> ProtocolError:
    """Build the error for a protocol code (e.g. one stored or received from another instance).

    ``rate_limited`` reads ``details["retry_after"]``; an unknown code becomes ``internal``.
    """
    if code == RateLimited.code:
        retry = (details or {}).get("retry_after", 0.0)
        return RateLimited(float(retry) if isinstance(retry, (int, float)) else 0.0, message)
    return _BY_CODE.get(code, InternalError)(message, details)
