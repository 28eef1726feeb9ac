import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.errors import FrameError, RateLimited, TokenExpired
from channels.frames import (
    Auth,
    Ping,
    Publish,
    Subscribe,
    Unsubscribe,
    decode_client_frame,
    encode_error,
    encode_event,
    encode_json,
    encode_pong,
    encode_presence,
    encode_reply_error,
    encode_reply_ok,
    encode_reset,
)
from channels.json_depth import MAX_JSON_DEPTH


def test_decodes_each_client_op_into_its_struct() -> None:
    assert decode_client_frame(b'{"op":"auth","id":1,"token":"t"}') == Auth(token="t", id=1)
    assert decode_client_frame('{"op":"subscribe","channel":"feed","since":41}') == Subscribe(
        channel="feed", since=41
    )
    assert decode_client_frame('{"op":"subscribe","channel":"feed"}') == Subscribe(channel="feed")
    assert decode_client_frame('{"op":"unsubscribe","channel":"feed"}') == Unsubscribe(channel="feed")
    assert decode_client_frame('{"op":"publish","channel":"c","event":"typing","data":{}}') == Publish(
        channel="c", event="typing", data={}
    )
    assert decode_client_frame('{"op":"ping","id":7}') == Ping(id=7)


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b'{"op":"subscribe","channel":"feed","since":"1"}', "$.since"),
        (b'{"op":"subscribe","channel":"feed","since":-1}', "$.since"),
        (b'{"op":"auth","token":1}', "$.token"),
        (b'{"op":"auth","id":1.5,"token":"t"}', "$.id"),
        (b'{"op":"nope"}', "$.op"),
        (b'{"op":"ping","extra":1}', "$"),
        (b'{"op":"publish","channel":"c","event":"e","data":[]}', "$.data"),
    ],
)
def test_invalid_frames_raise_bad_frame_naming_the_path(raw: bytes, path: str) -> None:
    with pytest.raises(FrameError) as info:
        decode_client_frame(raw)
    assert info.value.code == "bad_frame"
    assert info.value.details is not None
    assert info.value.details["path"] == path


def test_length_limits_are_enforced() -> None:
    decode_client_frame(json.dumps({"op": "auth", "token": "x" * 4096}))
    for frame in (
        {"op": "auth", "token": "x" * 4097},
        {"op": "unsubscribe", "channel": "c" * 201},
        {"op": "publish", "channel": "c", "event": "e" * 65, "data": {}},
    ):
        with pytest.raises(FrameError):
            decode_client_frame(json.dumps(frame))


def test_huge_integer_id_or_since_is_a_bad_frame() -> None:
    with pytest.raises(FrameError):
        decode_client_frame(b'{"op":"ping","id":99999999999999999999999}')
    with pytest.raises(FrameError):
        decode_client_frame(b'{"op":"subscribe","channel":"feed","since":9007199254740992}')


def test_bad_frame_keeps_the_id_when_readable_so_it_can_be_answered() -> None:
    with pytest.raises(FrameError) as info:
        decode_client_frame(b'{"op":"subscribe","id":9,"channel":5}')
    assert info.value.frame_id == 9
    with pytest.raises(FrameError) as info:
        decode_client_frame(b"{nope")
    assert info.value.frame_id is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe",
        b'{"op":"ping"',
        "\ud800",
        '{"op":"publish","channel":"c","event":"e","data":{"x":"\ud800"}}',
        b'{"op":"publish","channel":"c","event":"e","data":{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        b'{"op":"publish","channel":"c","event":"e","data":{"x":1e999}}',
        b"null",
        b"[]",
        b'"auth"',
    ],
)
def test_hostile_inputs_raise_only_frame_error(raw: bytes | str) -> None:
    with pytest.raises(FrameError):
        decode_client_frame(raw)


def _only_frame_error(raw: bytes | str) -> None:
    try:
        decode_client_frame(raw)
    except FrameError as err:
        assert err.code == "bad_frame"
        msgspec.json.encode(err.details)  # details are always JSON-safe


@settings(max_examples=300)
@given(st.binary(max_size=512))
def test_fuzz_arbitrary_bytes_are_accepted_or_rejected_with_bad_frame(raw: bytes) -> None:
    _only_frame_error(raw)


@settings(max_examples=300)
@given(st.text(max_size=512))
def test_fuzz_arbitrary_text_is_accepted_or_rejected_with_bad_frame(raw: str) -> None:
    _only_frame_error(raw)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "op": st.sampled_from(["auth", "subscribe", "unsubscribe", "publish", "ping", "x"]) | _json,
        "id": st.integers() | _json,
        "token": st.text(max_size=10) | _json,
        "channel": st.text(max_size=10) | _json,
        "since": st.integers() | _json,
        "event": st.text(max_size=10) | _json,
        "data": _json,
    },
)


@settings(max_examples=500)
@given(_fields, st.integers(min_value=0, max_value=3000))
def test_fuzz_frame_shaped_json_and_deep_nesting_raise_only_frame_error(
    fields: dict[str, object], depth: int
) -> None:
    text = json.dumps(fields)
    _only_frame_error(text)
    _only_frame_error(text.encode())
    nested = '{"op":"publish","channel":"c","event":"e","data":{"x":' + "[" * depth + "]" * depth + "}}"
    _only_frame_error(nested)


def publish_nesting(depth: int) -> str:
    """A publish frame whose JSON nests `depth` levels in all (the frame itself is the first)."""
    data = "[" * (depth - 2) + "]" * (depth - 2)
    return '{"op":"publish","id":3,"channel":"c","event":"e","data":{"x":' + data + "}}"


def test_publish_data_nested_past_the_hub_bound_is_bad_frame_with_its_reply_id() -> None:
    """A publish is relayed to every subscriber: past MAX_JSON_DEPTH it never reaches the fan-out."""
    frame = decode_client_frame(publish_nesting(MAX_JSON_DEPTH))
    assert isinstance(frame, Publish)
    for raw in (publish_nesting(MAX_JSON_DEPTH + 1), publish_nesting(MAX_JSON_DEPTH + 1).encode()):
        with pytest.raises(FrameError) as caught:
            decode_client_frame(raw)
        assert caught.value.code == "bad_frame" and caught.value.frame_id == 3
        assert "deeper than" in caught.value.details["message"]


def test_reply_ok_and_error_frames_have_the_protocol_shape() -> None:
    assert json.loads(encode_reply_ok(1, {"user_id": "u"})) == {
        "op": "reply",
        "id": 1,
        "ok": True,
        "result": {"user_id": "u"},
    }
    assert json.loads(encode_reply_ok(2)) == {"op": "reply", "id": 2, "ok": True, "result": {}}
    assert json.loads(encode_reply_error(3, RateLimited(1.5))) == {
        "op": "reply",
        "id": 3,
        "ok": False,
        "error": {"code": "rate_limited", "message": "rate limited", "details": {"retry_after": 1.5}},
    }


def test_error_frame_omits_absent_details() -> None:
    assert json.loads(encode_error(TokenExpired())) == {
        "op": "error",
        "error": {"code": "token_expired", "message": "token expired"},
    }


def test_event_frame_splices_pre_encoded_data_verbatim() -> None:
    data = encode_json({"id": "c1", "body": "hi"})
    frame = encode_event("thread:x", 42, "comment.created", data, "2025-01-01T00:00:00Z")
    assert frame == (
        b'{"op":"event","channel":"thread:x","seq":42,"event":"comment.created",'
        b'"data":{"id":"c1","body":"hi"},"ts":"2025-01-01T00:00:00Z"}'
    )
    assert encode_event("thread:x", None, "typing", b"{}", "t") == (
        b'{"op":"event","channel":"thread:x","seq":null,"event":"typing","data":{},"ts":"t"}'
    )


def test_presence_reset_and_pong_frames_have_the_protocol_shape() -> None:
    assert json.loads(encode_presence("session:s", {"u1": [{"conn_id": "c"}]}, {"u2": []})) == {
        "op": "presence",
        "channel": "session:s",
        "joins": {"u1": {"metas": [{"conn_id": "c"}]}},
        "leaves": {"u2": {"metas": []}},
    }
    assert json.loads(encode_reset("feed", 9, "history_expired")) == {
        "op": "reset",
        "channel": "feed",
        "seq": 9,
        "reason": "history_expired",
    }
    assert encode_pong(4) == b'{"op":"pong","id":4}'
