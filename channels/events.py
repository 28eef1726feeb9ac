"""PostgreSQL notifications as typed values, each decoded once where it arrives.

Two notification channels feed an instance (see docs/design.md, "State notifications"):

* ``hub_events``: one durable event per append, ``{"c","s","e","d","t"}``; when that would pass
  PostgreSQL's payload limit, ``{"c","s"}`` only and the listener reads the row from the log
  (:meth:`DurableNote.frame` tells which). ``d`` stays encoded (:class:`msgspec.Raw`), so
  the event's data is spliced into its frame as committed, never decoded and encoded again.
* ``hub_state``: absolute values that are not logged, one :data:`StateNote` per notification,
  told apart by ``k``: :class:`VoteCounts` (the vote triggers), :class:`LeaderboardChanged`
  (the learning engine) and :class:`QuestionVoteCount` (a live room's question vote).

Decoding never raises: an unreadable payload is logged and ``None`` returned, so one bad
notification costs that notification only.
"""

from __future__ import annotations

import logging
from uuid import UUID

import msgspec

from channels.frames import EventFrame
from channels.names import LeaderboardPeriod

__all__ = [
    "DurableNote",
    "LeaderboardChanged",
    "QuestionVoteCount",
    "StateNote",
    "VoteCounts",
    "decode_durable",
    "decode_state",
]

log = logging.getLogger("channels.events")


class DurableNote(msgspec.Struct, frozen=True):
    """A ``hub_events`` notification: the whole event, or only its key when it was too large to send."""

    channel: str = msgspec.field(name="c")
    seq: int = msgspec.field(name="s")
    event: str | None = msgspec.field(default=None, name="e")
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw, name="d")
    created_at: str | None = msgspec.field(default=None, name="t")

    def frame(self) -> EventFrame | None:
        """The event's frame; ``None`` for a key-only notification, whose event is read from the log."""
        if self.event is None or not self.data or self.created_at is None:
            return None
        return EventFrame(self.channel, self.seq, self.event, self.data, self.created_at)


class _State(msgspec.Struct, tag_field="k", frozen=True):
    pass


class VoteCounts(_State, tag="votes", frozen=True):
    """New absolute counts of a post or comment of post ``post_id`` (sent by the vote triggers)."""

    post_id: UUID
    target_type: str
    target_id: str
    up: int
    down: int


class LeaderboardChanged(_State, tag="leaderboard", frozen=True):
    """XP changed in ``period``'s current window: its top 20 may have moved."""

    period: LeaderboardPeriod


class QuestionVoteCount(_State, tag="question_votes", frozen=True):
    """A live room question's new upvote count (``hub.live_room.publishes``)."""

    session_id: UUID
    question_id: str
    up: int


StateNote = VoteCounts | LeaderboardChanged | QuestionVoteCount

_DURABLE = msgspec.json.Decoder(DurableNote)
_STATE: msgspec.json.Decoder[StateNote] = msgspec.json.Decoder(StateNote)


def decode_durable(payload: str | bytes) -> DurableNote | None:
    """A ``hub_events`` payload, or ``None`` (logged) when it is not one."""
    try:
        return _DURABLE.decode(payload)
    except (msgspec.DecodeError, UnicodeError) as exc:
        log.error("unreadable event notification (%s): %.200r", exc, payload)
        return None


def decode_state(payload: str | bytes) -> StateNote | None:
    """A ``hub_state`` payload, or ``None`` (logged) when it is not one of the known kinds."""
    try:
        return _STATE.decode(payload)
    except (msgspec.DecodeError, UnicodeError) as exc:
        log.error("unreadable state notification (%s): %.200r", exc, payload)
        return None
