"""Whether a participant's chat line or question may be stored, given the room's moderation state.

Pure: the I/O layer reads :class:`LineGate` in the transaction that stores the line, after taking the
session's row lock that every room write (moderation included) takes first, so the state it decides on is
the state at the line's place in the channel's order. ``now`` and ``last_chat_at`` come from the database
clock that stamps ``created_at``, so instances with different clocks space lines alike.

Hosts and admins are exempt (``exempt``): a mute, the chat lock and slow mode apply to participants only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from channels.errors import Forbidden, RateLimited
from channels.names import ChannelName

__all__ = ["LineGate", "decide_line"]


@dataclass(frozen=True, slots=True)
class LineGate:
    """The room's state for one sender: ``muted_until`` (None: never muted), whether they were kicked,
    and their last chat line in this room (None: none yet)."""

    now: datetime
    slow_mode_seconds: int
    chat_locked: bool
    muted_until: datetime | None
    kicked: bool
    last_chat_at: datetime | None


def decide_line(channel: ChannelName, kind: str, gate: LineGate, *, exempt: bool) -> None:
    """Return if a ``kind`` line (``chat`` or ``question``) or a question ``vote`` may be stored now.

    Raises ``forbidden`` for a kicked sender (``details.channel``), a muted one (``details.until``, the
    mute's end) and, for chat, while the chat is locked (``details.chat_locked``); ``rate_limited`` with
    ``details.retry_after`` for a chat line inside the sender's slow-mode spacing.
    """
    if exempt:
        return
    if gate.kicked:
        raise Forbidden("you were removed from this room", {"channel": str(channel)})
    if gate.muted_until is not None and gate.muted_until > gate.now:
        raise Forbidden("you are muted", {"channel": str(channel), "until": gate.muted_until})
    if kind != "chat":
        return
    if gate.chat_locked:
        raise Forbidden("the chat is locked", {"channel": str(channel), "chat_locked": True})
    if gate.slow_mode_seconds and gate.last_chat_at is not None:
        wait = gate.last_chat_at + timedelta(seconds=gate.slow_mode_seconds) - gate.now
        if wait > timedelta(0):
            raise RateLimited(wait.total_seconds(), f"slow mode: one line every {gate.slow_mode_seconds} s")
