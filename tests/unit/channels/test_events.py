"""Notifications decode once into typed values; an unreadable one is logged and skipped, never raised."""

from __future__ import annotations

import logging
from uuid import UUID

import msgspec
import pytest

from channels.events import (
    DurableNote,
    LeaderboardChanged,
    QuestionVoteCount,
    VoteCounts,
    decode_durable,
    decode_state,
)
from channels.frames import EventFrame
from channels.names import LeaderboardPeriod

P = "6f1c2a3b-0000-4000-8000-00000000abcd"
Q = "7f1c2a3b-0000-4000-8000-00000000abcd"
T = "2026-12-04T12:00:00.123456+00:00"


def test_a_whole_event_keeps_its_data_as_committed_and_becomes_its_frame() -> None:
    # PostgreSQL renders jsonb with spaces: the frame splices those bytes in as they are, not re-encoded.
    payload = f'{{"c": "thread:{P}", "s": 7, "e": "comment.created", "d": {{"id": 1, "body": "hi"}}, "t": "{T}"}}'
    note = decode_durable(payload)
    assert note == DurableNote(f"thread:{P}", 7, "comment.created", msgspec.Raw(b'{"id": 1, "body": "hi"}'), T)
    frame = note.frame() if note is not None else None
    assert isinstance(frame, EventFrame)
    assert (frame.channel, frame.seq, frame.event, frame.created_at) == (f"thread:{P}", 7, "comment.created", T)
    assert bytes(frame.data) == b'{"id": 1, "body": "hi"}'
    assert msgspec.json.decode(frame.json) == {"op": "event", "channel": f"thread:{P}", "seq": 7,
                                               "event": "comment.created", "data": {"id": 1, "body": "hi"}, "ts": T}


def test_a_key_only_notification_has_no_frame_the_listener_reads_the_row() -> None:
    note = decode_durable('{"c": "feed", "s": 12}')
    assert note is not None and (note.channel, note.seq) == ("feed", 12)
    assert note.frame() is None


@pytest.mark.parametrize("payload", [
    "", "not json", "[]", '{"c": "feed"}', '{"s": 1}', '{"c": 1, "s": 1}', '{"c": "feed", "s": "1"}',
    b'{"c": "feed", "s": 1, "e": "\xff"}',
])
def test_an_unreadable_event_notification_is_logged_and_skipped(payload: str | bytes,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="channels.events"):
        assert decode_durable(payload) is None
    assert "unreadable event notification" in caplog.text


@pytest.mark.parametrize(("payload", "note"), [
    (f'{{"k": "votes", "post_id": "{P}", "target_type": "comment", "target_id": "{Q}", "up": 3, "down": 1}}',
     VoteCounts(UUID(P), "comment", Q, 3, 1)),
    ('{"k": "leaderboard", "period": "weekly"}', LeaderboardChanged(LeaderboardPeriod.WEEKLY)),
    (f'{{"k": "question_votes", "session_id": "{P}", "question_id": "{Q}", "up": 5}}',
     QuestionVoteCount(UUID(P), Q, 5)),
])
def test_every_state_kind_decodes_into_its_own_type(payload: str, note: object) -> None:
    assert decode_state(payload) == note


def test_a_state_note_encodes_with_its_kind_tag() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(LeaderboardChanged(LeaderboardPeriod.DAILY)))
    assert encoded == {"k": "leaderboard", "period": "daily"}


@pytest.mark.parametrize("payload", [
    "", "{", "[]", '{"period": "weekly"}', '{"k": "nope"}', '{"k": "leaderboard", "period": "hourly"}',
    '{"k": "votes", "post_id": "x", "target_type": "post", "target_id": "y", "up": 1, "down": 0}',
    f'{{"k": "question_votes", "session_id": "{P}", "question_id": "{Q}"}}',
])
def test_an_unreadable_or_unknown_state_note_is_logged_and_skipped(payload: str,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="channels.events"):
        assert decode_state(payload) is None
    assert "unreadable state notification" in caplog.text
