"""What clients may publish: the protocol's "Client publishes" table and its payloads.

``check_publish`` answers from the table alone (channel kind x event). Whether
*this* viewer may send it right now (participant, host, session live) is decided
by :func:`channels.access.decide_publish` with facts looked up by the I/O layer.

Reactions use a fixed set, :data:`REACTION_EMOJI`:
👍 (U+1F44D), 👏 (U+1F44F), 🎉 (U+1F389), ❤️ (U+2764 U+FE0F), 😂 (U+1F602),
😮 (U+1F62E), 🔥 (U+1F525), 🚀 (U+1F680). Exactly these strings; ❤ without the
variation selector is refused, so every client renders the same glyph.

``hand.lower`` takes ``{}`` (one's own hand) or ``{"user_id": <uuid>}`` so that
the host can lower anyone's hand, as the table requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal, get_args

import msgspec

from channels.errors import EventNotAllowed, FrameError
from channels.names import ChannelKind, ChannelName

__all__ = [
    "PUBLISH_RULES",
    "REACTION_EMOJI",
    "AskQuestion",
    "ChatMessage",
    "Empty",
    "HandLower",
    "LockChat",
    "Mute",
    "ParticipantRef",
    "PublishRule",
    "QuestionRef",
    "Reaction",
    "Sender",
    "SlowMode",
    "check_publish",
    "validate_payload",
]

EmojiName = Literal["👍", "👏", "🎉", "❤️", "😂", "😮", "🔥", "🚀"]
REACTION_EMOJI: frozenset[str] = frozenset(get_args(EmojiName))

_UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# PostgreSQL text cannot hold NUL: refused here as bad_frame rather than failing in the database.
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]
Uuid = Annotated[str, msgspec.Meta(pattern=_UUID_PATTERN)]


class _Payload(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class ChatMessage(_Payload, frozen=True):
    text: Text


class AskQuestion(_Payload, frozen=True):
    text: Text


class Announcement(_Payload, frozen=True):
    text: Text


class QuestionRef(_Payload, frozen=True):
    """``question.vote`` / ``question.answer``: a question by id (lower-case uuid)."""

    question_id: Uuid


class Empty(_Payload, frozen=True):
    pass


class HandLower(_Payload, frozen=True):
    user_id: Uuid | None = None


class Reaction(_Payload, frozen=True):
    emoji: EmojiName


class Mute(_Payload, frozen=True):
    """``participant.mute``: the participant's chat and questions are refused for ``minutes`` (up to a week)."""

    user_id: Uuid
    minutes: Annotated[int, msgspec.Meta(ge=1, le=10_080)]


class ParticipantRef(_Payload, frozen=True):
    """``participant.unmute`` / ``participant.kick``: a participant by user id (lower-case uuid)."""

    user_id: Uuid


class SlowMode(_Payload, frozen=True):
    """``room.slow_mode``: at most one chat line per participant every ``seconds`` (0: off)."""

    seconds: Annotated[int, msgspec.Meta(ge=0, le=3600)]


class LockChat(_Payload, frozen=True):
    locked: bool


class Sender(Enum):
    """Who may send an event (checked by ``access.decide_publish``)."""

    PARTICIPANT = "participant"  # registered/attended participant, the host, or an admin
    HOST = "host"  # the session's host or an admin
    AUTHENTICATED = "authenticated"


@dataclass(frozen=True, slots=True)
class PublishRule:
    kind: ChannelKind
    event: str
    payload: type[_Payload]
    stored: bool  # durable: appended to the channel log (seq); else ephemeral (seq null)
    sender: Sender
    requires_live: bool  # only while the session's status is ``live``


def _rule(
    event: str, payload: type[_Payload], stored: bool, sender: Sender, live: bool = False
) -> PublishRule:
    return PublishRule(ChannelKind.SESSION, event, payload, stored, sender, live)


_RULES: dict[tuple[ChannelKind, str], PublishRule] = {
    (r.kind, r.event): r
    for r in (
        _rule("chat.message", ChatMessage, True, Sender.PARTICIPANT, live=True),
        _rule("question.ask", AskQuestion, True, Sender.PARTICIPANT, live=True),
        _rule("question.vote", QuestionRef, True, Sender.PARTICIPANT),
        _rule("question.answer", QuestionRef, True, Sender.HOST),
        _rule("announcement", Announcement, True, Sender.HOST),
        # hand.lower of someone else's hand is host-only; access.decide_publish checks the target.
        _rule("hand.raise", Empty, False, Sender.PARTICIPANT),
        _rule("hand.lower", HandLower, False, Sender.PARTICIPANT),
        _rule("reaction", Reaction, False, Sender.PARTICIPANT),
        # Room moderation (round 2): durable, host or admin, in a scheduled or live session.
        _rule("participant.mute", Mute, True, Sender.HOST),
        _rule("participant.unmute", ParticipantRef, True, Sender.HOST),
        _rule("participant.kick", ParticipantRef, True, Sender.HOST),
        _rule("room.slow_mode", SlowMode, True, Sender.HOST),
        _rule("room.lock_chat", LockChat, True, Sender.HOST),
        PublishRule(ChannelKind.THREAD, "typing", Empty, False, Sender.AUTHENTICATED, False),
    )
}


# The table, in order, for the AsyncAPI document.
PUBLISH_RULES: tuple[PublishRule, ...] = tuple(_RULES.values())


def check_publish(channel: ChannelName, event: str) -> PublishRule:
    """The rule for publishing ``event`` on ``channel``; ``event_not_allowed`` if there is none."""
    rule = _RULES.get((channel.kind, event))
    if rule is None:
        raise EventNotAllowed(details={"channel": str(channel), "event": event[:64]})
    return rule


_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def validate_payload(rule: PublishRule, data: dict[str, Any]) -> Any:
    """Check ``data`` against the rule's payload struct; ``bad_frame`` with ``details.path`` if invalid.

    Returns the payload struct instance (``ChatMessage``, ``QuestionRef``, …).
    """
    try:
        return msgspec.convert(data, rule.payload)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH.search(text)
        path = "$.data" + (match.group("path") if match else "")
        message = text[: match.start()] if match else text
        raise FrameError("invalid data", {"message": message, "path": path}) from None
