"""Channel names: parsed once into a frozen value, canonical form on the way out.

Grammar (ASCII only, case-sensitive prefixes, nothing around them)::

    feed
    thread:<uuid>  votes:<uuid>  session:<uuid>  user:<uuid>
    leaderboard:daily | leaderboard:weekly | leaderboard:monthly | leaderboard:all_time

``<uuid>`` is the hyphenated 8-4-4-4-12 hex form; either hex case is accepted and
the canonical name uses lower case, so ``thread:6F1C…`` and ``thread:6f1c…`` are
one channel. Anything else is ``unknown_channel``.

Code that names a channel builds it with the constructors (``ChannelName.thread(post_id)``,
``ChannelName.leaderboard("weekly")``, ``ChannelName.feed()`` ...), never by formatting text,
so every name the server writes is one :func:`parse_channel` reads back as the same value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from uuid import UUID

from channels.errors import UnknownChannel

__all__ = ["MAX_CHANNEL_LENGTH", "ChannelKind", "ChannelName", "LeaderboardPeriod", "parse_channel"]

MAX_CHANNEL_LENGTH = 200

# re.ASCII keeps \d-style tricks (Arabic-Indic digits, fullwidth letters) out;
# \Z instead of $ so a trailing newline is not accepted.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z", re.ASCII)


class ChannelKind(Enum):
    FEED = "feed"
    THREAD = "thread"
    VOTES = "votes"
    SESSION = "session"
    USER = "user"
    LEADERBOARD = "leaderboard"

    @property
    def is_durable(self) -> bool:
        """Carries a sequenced event log (resume with ``since``)."""
        return self in _DURABLE

    @property
    def is_state(self) -> bool:
        """Sends absolute, coalesced values with a snapshot on subscribe; ``since`` is ignored."""
        return self in (ChannelKind.VOTES, ChannelKind.LEADERBOARD)

    @property
    def has_presence(self) -> bool:
        return self is ChannelKind.SESSION


_DURABLE = frozenset({ChannelKind.FEED, ChannelKind.THREAD, ChannelKind.SESSION, ChannelKind.USER})
_UUID_KINDS = {
    k.value: k for k in (ChannelKind.THREAD, ChannelKind.VOTES, ChannelKind.SESSION, ChannelKind.USER)
}


class LeaderboardPeriod(Enum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    ALL_TIME = "all_time"


@dataclass(frozen=True, slots=True)
class ChannelName:
    """A valid channel. ``key`` is the lower-case uuid, the period, or ``None`` for ``feed``."""

    kind: ChannelKind
    key: str | None = None

    def __str__(self) -> str:
        return self.kind.value if self.key is None else f"{self.kind.value}:{self.key}"

    @classmethod
    def feed(cls) -> ChannelName:
        return _FEED

    @classmethod
    def thread(cls, post_id: UUID | str) -> ChannelName:
        return cls(ChannelKind.THREAD, _uuid_key(post_id))

    @classmethod
    def votes(cls, post_id: UUID | str) -> ChannelName:
        return cls(ChannelKind.VOTES, _uuid_key(post_id))

    @classmethod
    def session(cls, session_id: UUID | str) -> ChannelName:
        return cls(ChannelKind.SESSION, _uuid_key(session_id))

    @classmethod
    def user(cls, user_id: UUID | str) -> ChannelName:
        return cls(ChannelKind.USER, _uuid_key(user_id))

    @classmethod
    def leaderboard(cls, period: LeaderboardPeriod | str) -> ChannelName:
        """Raises ``ValueError`` for a period that is not one of :class:`LeaderboardPeriod`."""
        return cls(ChannelKind.LEADERBOARD, LeaderboardPeriod(period).value)

    @property
    def is_durable(self) -> bool:
        return self.kind.is_durable

    @property
    def is_state(self) -> bool:
        return self.kind.is_state

    @property
    def has_presence(self) -> bool:
        return self.kind.has_presence


def parse_channel(text: str) -> ChannelName:
    """Parse a channel name; raise ``unknown_channel`` for anything malformed."""
    if not isinstance(text, str) or not text or len(text) > MAX_CHANNEL_LENGTH:
        raise UnknownChannel(details={"channel": _shown(text)})
    if text == "feed":
        return _FEED
    prefix, sep, rest = text.partition(":")
    if sep:
        if prefix == "leaderboard" and rest in _PERIODS:
            return ChannelName(ChannelKind.LEADERBOARD, rest)
        kind = _UUID_KINDS.get(prefix)
        if kind is not None and _UUID.match(rest):
            return ChannelName(kind, rest.lower())
    raise UnknownChannel(details={"channel": _shown(text)})


_PERIODS = frozenset(p.value for p in LeaderboardPeriod)
_FEED = ChannelName(ChannelKind.FEED)


def _uuid_key(value: UUID | str) -> str:
    """The canonical (lower-case, hyphenated) key of an id; ``ValueError`` for text that is not one."""
    if isinstance(value, UUID):
        return str(value)
    if not _UUID.match(value):
        raise ValueError(f"not a hyphenated uuid: {value[:MAX_CHANNEL_LENGTH]!r}")
    return value.lower()


def _shown(text: object) -> str:
    # Echo back a bounded amount of hostile input, never all of it.
    return text[:MAX_CHANNEL_LENGTH] if isinstance(text, str) else ""
