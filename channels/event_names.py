"""Every event name the hub sends, per channel kind: the one list the AsyncAPI document is built from.

``DURABLE`` holds the names the hub itself appends to a channel's log (`persistence.events.append_event`);
a test reads every call site in ``hub/`` and fails when one appends a name missing here. ``TRANSIENT`` holds
the ephemeral and state events (``seq`` null). Server events (`POST /api/admin/channels/{channel}/events`)
may take any other name matching :data:`SERVER_EVENT_PATTERN`, but none of the names the hub appends on
that kind: a backend cannot forge a ``post.deleted`` that clients would act on.
"""

from __future__ import annotations

from collections.abc import Mapping

from channels.names import ChannelKind

__all__ = ["DURABLE", "SERVER_EVENT_PATTERN", "TRANSIENT", "is_reserved"]

SERVER_EVENT_PATTERN = r"^[a-z][a-z0-9_.]{0,63}$"

_POST = ("post.updated", "post.deleted", "post.locked")
_COMMENT = ("comment.created", "comment.updated", "comment.deleted")
_PARTICIPANT = ("participant.registered", "participant.waitlisted", "participant.cancelled",
                "participant.promoted", "participant.muted", "participant.unmuted", "participant.kicked")

# Name → what `data` is (the REST representation it repeats, where there is one).
DURABLE: Mapping[ChannelKind, Mapping[str, str]] = {
    ChannelKind.FEED: {
        "post.created": "the post, as GET /api/posts/{id}",
        "post.pinned": "the post, as GET /api/posts/{id}",
        **{name: "the post (post.deleted: {id})" for name in _POST},
    },
    ChannelKind.THREAD: {
        **{name: "the post (post.deleted: {id})" for name in _POST},
        **{name: "the comment, as GET /api/posts/{id}/comments lists it" for name in _COMMENT},
    },
    ChannelKind.SESSION: {
        "session.updated": "the session, as GET /api/sessions/{id}",
        **{name: "the participant, or {user_id[, until]} for a moderation" for name in _PARTICIPANT},
        "chat.message": "the room message",
        "chat.deleted": "{id}",
        "question.asked": "the room message",
        "question.answered": "the room message",
        "announcement": "the room message",
        "room.slow_mode": "{seconds}",
        "room.chat_locked": "{locked}",
    },
    ChannelKind.USER: {
        "xp.awarded": "{amount, source, total_xp, level, next_level_xp, lesson_id?, achievement_id?}",
        "level.up": "the new level",
        "achievement.unlocked": "the achievement",
        "streak.updated": "the streak",
        "subscription.updated": "the subscription, as GET /api/billing/subscription",
        "session.promoted": "{session, participant}",
        "notification.created": "the inbox item, as GET /api/notifications lists it",
    },
}

TRANSIENT: Mapping[ChannelKind, Mapping[str, str]] = {
    ChannelKind.THREAD: {"typing": "{user_id}"},
    ChannelKind.VOTES: {"counts": "absolute vote counts per target"},
    ChannelKind.SESSION: {
        "hand.raised": "{user_id}",
        "hand.lowered": "{user_id}",
        "reaction": "{user_id, emoji}",
        "question.votes": "{question_id, votes}",
        "participants.count": "{count}",
    },
    ChannelKind.LEADERBOARD: {"leaderboard.changed": "the top 20 with ranks"},
}


def is_reserved(kind: ChannelKind, event: str) -> bool:
    """Whether the hub itself sends `event` on channels of `kind` (so a server event may not use the name)."""
    return event in DURABLE.get(kind, {}) or event in TRANSIENT.get(kind, {})
