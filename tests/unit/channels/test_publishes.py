from typing import Any

import pytest

from channels.errors import EventNotAllowed, FrameError
from channels.names import parse_channel
from channels.publishes import (
    REACTION_EMOJI,
    ChatMessage,
    Empty,
    HandLower,
    LockChat,
    Mute,
    ParticipantRef,
    QuestionRef,
    Reaction,
    Sender,
    SlowMode,
    check_publish,
    validate_payload,
)

U = "6f1c2a3b-0000-4000-8000-00000000abcd"
SESSION = parse_channel(f"session:{U}")
THREAD = parse_channel(f"thread:{U}")


@pytest.mark.parametrize(
    ("event", "stored", "sender", "live"),
    [
        ("chat.message", True, Sender.PARTICIPANT, True),
        ("question.ask", True, Sender.PARTICIPANT, True),
        ("question.vote", True, Sender.PARTICIPANT, False),
        ("question.answer", True, Sender.HOST, False),
        ("announcement", True, Sender.HOST, False),
        ("hand.raise", False, Sender.PARTICIPANT, False),
        ("hand.lower", False, Sender.PARTICIPANT, False),
        ("reaction", False, Sender.PARTICIPANT, False),
        ("participant.mute", True, Sender.HOST, False),
        ("participant.unmute", True, Sender.HOST, False),
        ("participant.kick", True, Sender.HOST, False),
        ("room.slow_mode", True, Sender.HOST, False),
        ("room.lock_chat", True, Sender.HOST, False),
    ],
)
def test_session_publish_table(event: str, stored: bool, sender: Sender, live: bool) -> None:
    rule = check_publish(SESSION, event)
    assert (rule.stored, rule.sender, rule.requires_live) == (stored, sender, live)


def test_typing_is_an_ephemeral_thread_publish_for_any_authenticated_user() -> None:
    rule = check_publish(THREAD, "typing")
    assert (rule.stored, rule.sender) == (False, Sender.AUTHENTICATED)


@pytest.mark.parametrize(
    ("channel", "event"),
    [
        ("feed", "post.created"),
        (f"thread:{U}", "comment.created"),
        (f"thread:{U}", "chat.message"),
        (f"session:{U}", "typing"),
        (f"session:{U}", "chat.deleted"),
        (f"votes:{U}", "counts"),
        (f"user:{U}", "xp.awarded"),
        ("leaderboard:daily", "leaderboard.changed"),
    ],
)
def test_anything_else_is_event_not_allowed(channel: str, event: str) -> None:
    with pytest.raises(EventNotAllowed):
        check_publish(parse_channel(channel), event)


@pytest.mark.parametrize(
    ("event", "data", "expected"),
    [
        ("chat.message", {"text": "hi"}, ChatMessage("hi")),
        ("chat.message", {"text": "x" * 2000}, ChatMessage("x" * 2000)),
        ("question.vote", {"question_id": U}, QuestionRef(U)),
        ("hand.raise", {}, Empty()),
        ("hand.lower", {}, HandLower()),
        ("hand.lower", {"user_id": U}, HandLower(U)),
        ("reaction", {"emoji": "🔥"}, Reaction("🔥")),
        ("reaction", {"emoji": "❤️"}, Reaction("❤️")),
        ("participant.mute", {"user_id": U, "minutes": 1}, Mute(U, 1)),
        ("participant.mute", {"user_id": U, "minutes": 10_080}, Mute(U, 10_080)),
        ("participant.kick", {"user_id": U}, ParticipantRef(U)),
        ("room.slow_mode", {"seconds": 0}, SlowMode(0)),
        ("room.slow_mode", {"seconds": 3600}, SlowMode(3600)),
        ("room.lock_chat", {"locked": False}, LockChat(False)),
    ],
)
def test_valid_payloads_convert_to_structs(event: str, data: dict[str, Any], expected: object) -> None:
    assert validate_payload(check_publish(SESSION, event), data) == expected


@pytest.mark.parametrize(
    ("event", "data", "path"),
    [
        ("chat.message", {"text": ""}, "$.data.text"),
        ("chat.message", {"text": "x" * 2001}, "$.data.text"),
        ("chat.message", {"text": 1}, "$.data.text"),
        ("chat.message", {}, "$.data"),
        ("announcement", {"text": "a", "html": "<b>"}, "$.data"),
        ("question.answer", {"question_id": "nope"}, "$.data.question_id"),
        ("question.answer", {"question_id": U.upper()}, "$.data.question_id"),
        ("hand.raise", {"x": 1}, "$.data"),
        ("reaction", {"emoji": "💩"}, "$.data.emoji"),
        ("reaction", {"emoji": "❤"}, "$.data.emoji"),
        ("participant.mute", {"user_id": U, "minutes": 0}, "$.data.minutes"),
        ("participant.mute", {"user_id": U, "minutes": 10_081}, "$.data.minutes"),
        ("participant.mute", {"user_id": U, "minutes": 1.5}, "$.data.minutes"),
        ("participant.mute", {"user_id": U}, "$.data"),
        ("participant.unmute", {"user_id": "me"}, "$.data.user_id"),
        ("room.slow_mode", {"seconds": -1}, "$.data.seconds"),
        ("room.slow_mode", {"seconds": 3601}, "$.data.seconds"),
        ("room.lock_chat", {"locked": 1}, "$.data.locked"),
    ],
)
def test_invalid_payloads_are_bad_frame_with_path(event: str, data: dict[str, Any], path: str) -> None:
    with pytest.raises(FrameError) as info:
        validate_payload(check_publish(SESSION, event), data)
    assert info.value.details is not None
    assert info.value.details["path"] == path


def test_reaction_set_is_the_documented_eight() -> None:
    assert sorted(REACTION_EMOJI) == sorted(["👍", "👏", "🎉", "❤️", "😂", "😮", "🔥", "🚀"])
