"""What the client raises. Every error carries a stable ``code``: the protocol's code from the one registry
(``channels.codes``, ``docs/errors.md``) when the hub sent it, or one of the client's own (``timeout``,
``disconnected``, ``closed``) when the hub said nothing.

Two kinds end the client for good (:class:`Fatal`): a refused or revoked token that a fresh one from the
token provider did not cure. Everything else about a connection is handled by reconnecting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from channels.codes import RATE_LIMITED, TOKEN_REVOKED, UNAUTHORIZED

__all__ = [
    "ClientClosed",
    "ConnectionLost",
    "Fatal",
    "HubError",
    "RequestError",
    "RequestTimeout",
    "SubscriptionRevoked",
    "TokenRevoked",
    "Unauthenticated",
]

TIMEOUT = "timeout"
DISCONNECTED = "disconnected"
CLOSED = "closed"


class HubError(Exception):
    """Base of every client error: ``code`` (stable), ``message`` (for humans), ``details`` (JSON)."""

    def __init__(self, code: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, details={self.details!r})"


class RequestError(HubError):
    """The hub answered a request with an error reply (``forbidden``, ``event_not_allowed``, …)."""

    @property
    def retry_after(self) -> float | None:
        """For ``rate_limited``: seconds to wait before trying again."""
        value = self.details.get("retry_after")
        return float(value) if self.code == RATE_LIMITED.code and isinstance(value, (int, float)) else None


class RequestTimeout(HubError):
    def __init__(self, message: str = "no reply in time") -> None:
        super().__init__(TIMEOUT, message)


class ConnectionLost(HubError):
    """The connection dropped before the reply came. The request may or may not have been applied; the
    client reconnects by itself, but does not resend it."""

    def __init__(self, message: str = "connection lost before the reply") -> None:
        super().__init__(DISCONNECTED, message)


class ClientClosed(HubError):
    def __init__(self, message: str = "the client is closed") -> None:
        super().__init__(CLOSED, message)


class SubscriptionRevoked(HubError):
    """The hub dropped a subscription (``error forbidden {channel}``: registration cancelled, kicked, …), or
    refused it again after a reconnect. The channel may be subscribed again once access returns."""

    def __init__(self, channel: str, code: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(code, message, details)
        self.channel = channel


class Fatal(HubError):
    """The client stopped and will not reconnect."""


class Unauthenticated(Fatal):
    """The token was refused (``unauthorized``, ``token_expired``, close 4001) and no fresh one helped: a static
    token expired, or the token provider returned one the hub refused again. Also what ``refresh()`` raises when
    the provider fails (the connection loop retries such a failure after the backoff instead)."""

    def __init__(self, message: str, code: str = UNAUTHORIZED.code, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(code, message, details)


class TokenRevoked(Fatal):
    """Close 4003 or ``token_revoked``: the account was banned or deleted, its password changed, or all its
    sessions were signed out. Sign in again and start a new client."""

    def __init__(self, message: str = "token revoked") -> None:
        super().__init__(TOKEN_REVOKED.code, message)
