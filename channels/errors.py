"""The realtime layer's one error tree, and the websocket close codes.

Every error a client can see is a :class:`ProtocolError` whose stable ``code``
and default ``message`` come from its entry in :mod:`channels.codes`, the one
registry the REST errors read too. Its ``message`` is for humans and its
``details`` are JSON-safe; neither ever carries a stack trace.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import IntEnum
from typing import Any, ClassVar

from channels.codes import (
    ALREADY_SUBSCRIBED,
    BAD_FRAME,
    EMAIL_UNVERIFIED,
    EVENT_NOT_ALLOWED,
    FORBIDDEN,
    INTERNAL,
    NOT_FOUND,
    NOT_SUBSCRIBED,
    RATE_LIMITED,
    SESSION_NOT_LIVE,
    TOKEN_EXPIRED,
    TOKEN_REVOKED,
    TOO_MANY_SUBSCRIPTIONS,
    UNAUTHORIZED,
    UNKNOWN_CHANNEL,
    ErrorCode,
)

__all__ = [
    "AlreadySubscribed",
    "CloseCode",
    "EmailUnverified",
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
    "TokenRevoked",
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
    REVOKED = 4003  # the account was banned or deleted, or its sessions were signed out
    SLOW_CONSUMER = 4008  # send queue overflowed; reconnect and resume
    TOO_MANY_CONNECTIONS = 4029


class ProtocolError(Exception):
    """Base of every client-visible error. Each subclass names its registry entry
    (``class Forbidden(ProtocolError, entry=FORBIDDEN)``), which fixes ``code``
    and ``default_message``; a subclass without one keeps its parent's. The base
    itself is ``internal``."""

    entry: ClassVar[ErrorCode]
    code: ClassVar[str]
    default_message: ClassVar[str]

    def __init_subclass__(cls, /, entry: ErrorCode | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if entry is not None:
            cls._take(entry)

    @classmethod
    def close_code(cls) -> CloseCode:
        """The close code that follows this error when it ends the connection (from its registry entry)."""
        if cls.entry.close is None:
            raise LookupError(f"{cls.code!r} does not end a connection")
        return CloseCode(cls.entry.close)

    @classmethod
    def _take(cls, entry: ErrorCode) -> None:
        if entry.message is None:
            raise TypeError(f"{entry.code!r} is not a websocket error code")
        cls.entry, cls.code, cls.default_message = entry, entry.code, entry.message

    def __init__(self, message: str | None = None, details: Mapping[str, Any] | None = None) -> None:
        self.message = message if message is not None else self.default_message
        self.details: dict[str, Any] | None = dict(details) if details is not None else None
        super().__init__(self.message)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, details={self.details!r})"
        )


ProtocolError._take(INTERNAL)


class FrameError(ProtocolError, entry=BAD_FRAME):
    """``bad_frame``: unparseable or invalid frame; ``details`` say where.

    ``frame_id`` is the client's ``id`` when it could still be read from the bad
    frame, so the server can answer with a ``reply`` instead of an ``error``.
    """

    def __init__(
        self,
        message: str | None = None,
        details: Mapping[str, Any] | None = None,
        *,
        frame_id: int | None = None,
    ) -> None:
        super().__init__(message, details)
        self.frame_id = frame_id


class Unauthorized(ProtocolError, entry=UNAUTHORIZED):
    pass


class TokenExpired(ProtocolError, entry=TOKEN_EXPIRED):
    pass


class TokenRevoked(ProtocolError, entry=TOKEN_REVOKED):
    pass


class Forbidden(ProtocolError, entry=FORBIDDEN):
    pass


class EmailUnverified(ProtocolError, entry=EMAIL_UNVERIFIED):
    """A durable publish by an account whose email is not verified (REQUIRE_EMAIL_VERIFICATION)."""


class NotFound(ProtocolError, entry=NOT_FOUND):
    pass


class UnknownChannel(ProtocolError, entry=UNKNOWN_CHANNEL):
    pass


class AlreadySubscribed(ProtocolError, entry=ALREADY_SUBSCRIBED):
    pass


class NotSubscribed(ProtocolError, entry=NOT_SUBSCRIBED):
    pass


class EventNotAllowed(ProtocolError, entry=EVENT_NOT_ALLOWED):
    pass


class SessionNotLive(ProtocolError, entry=SESSION_NOT_LIVE):
    pass


class RateLimited(ProtocolError, entry=RATE_LIMITED):
    """``rate_limited``; ``details.retry_after`` is in seconds."""

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        # Rounded up to milliseconds: a client waiting exactly this long succeeds.
        self.retry_after = math.ceil(max(retry_after, 0.0) * 1000) / 1000
        super().__init__(message, {"retry_after": self.retry_after})


class LookupBudgetSpent(RateLimited):
    """``rate_limited`` for a subscribe over the user's budget of database lookups (all their connections on
    all instances): unlike a publish over its per-channel rate, a strike."""


class TooManySubscriptions(ProtocolError, entry=TOO_MANY_SUBSCRIPTIONS):
    pass


class InternalError(ProtocolError, entry=INTERNAL):
    """``internal``: never carries the underlying exception's text."""


_BY_CODE: dict[str, type[ProtocolError]] = {
    cls.code: cls
    for cls in (
        FrameError,
        Unauthorized,
        TokenExpired,
        TokenRevoked,
        Forbidden,
        NotFound,
        UnknownChannel,
        AlreadySubscribed,
        NotSubscribed,
        EventNotAllowed,
        SessionNotLive,
        TooManySubscriptions,
        EmailUnverified,
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
