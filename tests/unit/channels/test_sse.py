"""The SSE framing of server frames and the stream's resume positions (`channels.sse`, `OutFrame.sse`)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from channels.errors import FrameError
from channels.frames import EventFrame, OutFrame, encode_json, encode_presence, encode_reply_ok, encode_reset
from channels.sse import parse_position


def _parse(message: bytes) -> tuple[dict[str, str], Any]:
    assert message.endswith(b"\n\n") and message.count(b"\n\n") == 1
    fields = dict(line.split(": ", 1) for line in message.decode().rstrip("\n").split("\n"))
    return fields, json.loads(fields["data"])


def test_a_durable_event_is_one_message_with_its_channel_and_seq_as_id_and_the_websocket_json_as_data() -> None:
    frame = EventFrame("thread:abc", 42, "comment.created", encode_json({"text": "line\nbreak\r\u2028"}),
                       "2026-01-01T00:00:00Z")
    fields, data = _parse(frame.sse)
    assert fields["id"] == "thread:abc:42"
    assert fields["event"] == "event"
    assert fields["data"].encode() == frame.json  # byte for byte what the websocket sends
    assert data["data"] == {"text": "line\nbreak\r\u2028"}


def test_frames_without_a_sequence_have_no_id_and_reset_has_the_head_as_id() -> None:
    ephemeral = EventFrame("session:s", None, "reaction", encode_json({"emoji": "🎉"}), "2026-01-01T00:00:00Z")
    presence = OutFrame(encode_presence("session:s", {"u": [{"conn_id": "c"}]}, {}))
    reply = OutFrame(encode_reply_ok(None, {"channel": "feed", "seq": 3}))
    reset = OutFrame(encode_reset("feed", 9, "history_expired"))
    assert "id" not in _parse(ephemeral.sse)[0]
    assert _parse(presence.sse)[0] == {"event": "presence", "data": presence.json.decode()}
    assert _parse(reply.sse)[0] == {"event": "reply", "data": reply.json.decode()}
    assert _parse(reset.sse)[0] == {"id": "feed:9", "event": "reset", "data": reset.json.decode()}


def test_a_frame_is_framed_for_sse_once_whatever_the_number_of_streams() -> None:
    frame = EventFrame("feed", 1, "post.created", msgspec.Raw(b"{}"), "2026-01-01T00:00:00Z")
    assert frame.sse is frame.sse


@pytest.mark.parametrize(("text", "expected"), [
    ("feed:0", ("feed", 0)),
    ("thread:6f1c:12", ("thread:6f1c", 12)),
    ("session:a:b:3", ("session:a:b", 3)),
])
def test_a_position_is_the_channel_then_the_seq_after_the_last_colon(text: str, expected: tuple[str, int]) -> None:
    assert parse_position(text, "since") == expected


@pytest.mark.parametrize("text", ["feed", "feed:", ":3", "feed:-1", "feed:1.5", "feed:x", "feed:" + "9" * 17])
def test_a_malformed_position_is_a_bad_frame_naming_its_field(text: str) -> None:
    with pytest.raises(FrameError) as raised:
        parse_position(text, "Last-Event-ID")
    assert raised.value.details == {"path": "Last-Event-ID", "message": "expected <channel>:<seq>"}
