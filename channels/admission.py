"""Whether a user may open one more connection: the pure rules of the per-user websocket budgets that outlive a
socket. The counters and the cool-off's end live in ``hub.realtime.admission`` (Redis when configured).

A user whose connection was closed for strikes (1008) cools off: their new connections are refused until the
cool-off ends, so reconnecting does not buy a fresh strike count. A refusal does not restart the cool-off (a
client that reconnects at once is served when it ends). Outside a cool-off, the user's budget of connection
opens decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.errors import CloseCode

__all__ = ["OpenRefusal", "cool_off_left", "refuse_open"]


@dataclass(frozen=True, slots=True)
class OpenRefusal:
    """The auth is answered ``rate_limited`` with ``retry_after``, then the socket is closed with ``code``."""

    retry_after: float
    code: CloseCode
    reason: str


def cool_off_left(until: float | None, now: float) -> float:
    """Seconds of a cool-off ending at ``until`` (wall clock) left at ``now``; 0 when none."""
    return 0.0 if until is None else max(0.0, until - now)


def refuse_open(cool_off_s: float, open_wait_s: float) -> OpenRefusal | None:
    """``cool_off_s`` left of the user's cool-off, ``open_wait_s`` until their budget of opens allows one more."""
    if cool_off_s > 0:
        # 1008, like the close that started it: the client is still in breach of the policy; 4029 would tell it
        # to close tabs.
        return OpenRefusal(cool_off_s, CloseCode.POLICY, "cooling off after a policy close")
    if open_wait_s > 0:
        return OpenRefusal(open_wait_s, CloseCode.TOO_MANY_CONNECTIONS, "too many connections opened")
    return None
