"""The msgpack encoding without sockets: negotiation, client frames in msgpack, server frames derived once from
their JSON with the same fields, and the limits and refusals a JSON connection has."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from websockets.frames import Frame, Opcode

import channels.frames
from channels.connection import Close, Connection, SendFrame
from channels.encodings import Encoding, negotiate
from channels.errors import CloseCode, FrameError
from channels.frames import (
    EventFrame,
    OutFrame,
    Publish,
    Subscribe,
    decode_client_frame,
    encode_event,
    encode_json,
    json_to_msgpack,
    ws_binary_frame,
)
from channels.json_depth import MAX_JSON_DEPTH
from channels.limits import ProtocolLimits
from channels.sequencing import Subscription
from hub.realtime.fanout import Fanout, LogRow, Outbox, Subscriber

pack = msgspec.msgpack.encode
MSGPACK = Encoding.MSGPACK


@pytest.mark.parametrize(("offered", "expected"), [
    ([], (Encoding.JSON, None)),
    (["hub.v1.json"], (Encoding.JSON, "hub.v1.json")),
    (["hub.v1.msgpack"], (Encoding.MSGPACK, "hub.v1.msgpack")),
    (["hub.v2.cbor", "hub.v1.msgpack", "hub.v1.json"], (Encoding.MSGPACK, "hub.v1.msgpack")),
    (["hub.v1.json", "hub.v1.msgpack"], (Encoding.JSON, "hub.v1.json")),
    (["hub.v2.cbor"], (Encoding.JSON, None)),
])
def test_the_first_known_offered_subprotocol_wins_and_an_unknown_one_alone_gets_json_and_no_answer(
        offered: list[str], expected: tuple[Encoding, str | None]) -> None:
    assert negotiate(offered) == expected


def test_every_client_op_decodes_from_msgpack_as_from_json() -> None:
    ops: list[dict[str, Any]] = [
        {"op": "auth", "id": 1, "token": "t"},
        {"op": "subscribe", "id": 2, "channel": "feed", "since": 5},
        {"op": "unsubscribe", "id": 3, "channel": "feed"},
        {"op": "publish", "id": 4, "channel": "thread:x", "event": "typing", "data": {"a": [1, 2.5, None, True, "é"]}},
        {"op": "ping", "id": 5},
    ]
    for op in ops:
        assert decode_client_frame(pack(op), MSGPACK) == decode_client_frame(json.dumps(op))


@pytest.mark.parametrize(("raw", "path"), [
    (pack({"op": "publish", "id": 9, "channel": "c", "event": "e", "data": {"a": b"bytes"}}), "$.data"),
    (pack({"op": "publish", "id": 9, "channel": "c", "event": "e", "data": {"a": {1: "int key"}}}), "$.data"),
    (pack({"op": "publish", "id": 9, "channel": "c", "event": "e", "data": {"a": float("nan")}}), "$.data"),
    (pack({"op": "publish", "id": 9, "channel": "c", "event": "e", "data": {"a": msgspec.msgpack.Ext(1, b"x")}}),
     "$.data"),
    (pack({"op": "subscribe", "id": 9, "channel": "c", "since": -1}), "$.since"),
    (pack({"op": "teleport", "id": 9}), "$.op"),
])
def test_a_msgpack_frame_json_could_not_carry_is_a_bad_frame_answered_by_its_id(raw: bytes, path: str) -> None:
    with pytest.raises(FrameError) as caught:
        decode_client_frame(raw, MSGPACK)
    assert (caught.value.code, caught.value.frame_id, caught.value.details["path"]) == ("bad_frame", 9, path)


@pytest.mark.parametrize("raw", [b"", b"\xc1", b"\x91" * 100_000, pack([1, 2]), pack("auth"), b"\x82\xa2op"])
def test_malformed_msgpack_is_a_bad_frame_never_another_exception(raw: bytes) -> None:
    with pytest.raises(FrameError) as caught:
        decode_client_frame(raw, MSGPACK)
    assert caught.value.code == "bad_frame"


def test_msgpack_publish_data_keeps_to_the_json_depth_bound() -> None:
    def nested(depth: int) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for _ in range(depth - 1):
            value = {"d": value}
        return value

    frame = {"op": "publish", "id": 3, "channel": "c", "event": "e"}
    assert isinstance(decode_client_frame(pack({**frame, "data": nested(MAX_JSON_DEPTH - 1)}), MSGPACK), Publish)
    with pytest.raises(FrameError) as caught:
        decode_client_frame(pack({**frame, "data": nested(MAX_JSON_DEPTH)}), MSGPACK)
    assert caught.value.frame_id == 3 and "nesting" in caught.value.details["message"]


def msgpack_conn(limits: ProtocolLimits | None = None) -> Connection[object]:
    conn: Connection[object] = Connection("c1", now=0.0, limits=limits, encoding=MSGPACK)
    conn.on_auth(1, "u1", exp=1_000_100.0, now=0.0, wall_now=1_000_000.0)
    return conn


def sent(actions: list[SendFrame | Close]) -> list[dict[str, Any]]:
    return [json.loads(a.data) for a in actions if isinstance(a, SendFrame)]


def test_a_msgpack_connection_takes_binary_frames_and_refuses_text_ones_with_bad_frame() -> None:
    conn = msgpack_conn()
    frame, actions = conn.receive(pack({"op": "subscribe", "id": 2, "channel": "feed"}), 1.0, binary=True)
    assert frame == Subscribe(id=2, channel="feed") and actions == []
    _, actions = conn.receive('{"op":"subscribe","id":3,"channel":"feed"}', 1.0)
    [error] = sent(actions)
    assert error["op"] == "error" and error["error"]["code"] == "bad_frame"
    assert error["error"]["details"]["expected"] == "binary"


def test_a_json_connection_refuses_binary_frames_with_bad_frame() -> None:
    conn: Connection[object] = Connection("c1", now=0.0)
    _, actions = conn.receive(b'{"op":"ping","id":1}', 1.0, binary=True)
    [error] = sent(actions)
    assert error["error"]["code"] == "bad_frame" and error["error"]["details"]["expected"] == "text"


def test_binary_frames_meet_the_same_size_rate_and_strike_limits() -> None:
    limits = ProtocolLimits(max_frame_bytes=100, frame_rate_per_s=1.0, frame_burst=2, strike_limit=3)
    conn = msgpack_conn(limits)
    _, actions = conn.receive(pack({"op": "publish", "channel": "c", "event": "e", "data": {"t": "x" * 100}}), 1.0,
                              binary=True)
    assert actions == [Close(CloseCode.TOO_BIG, "frame too big")]

    conn = msgpack_conn(limits)
    ping = pack({"op": "ping", "id": 1})
    assert conn.receive(ping, 1.0, binary=True)[1] == [SendFrame(b'{"op":"pong","id":1}')]
    conn.receive(ping, 1.0, binary=True)
    [limited] = sent(conn.receive(ping, 1.0, binary=True)[1])
    assert limited["error"]["code"] == "rate_limited"
    for n in range(2):
        conn.receive(b"\xc1", 10.0 + n, binary=True)
    assert Close(CloseCode.POLICY, "too many refused frames") in conn.receive(b"\xc1", 12.0, binary=True)[1]


def test_a_frames_msgpack_has_exactly_its_json_fields_and_is_one_binary_websocket_frame() -> None:
    data = encode_json({"text": "héllo", "n": 3, "f": 0.5, "list": [None, True], "nested": {"k": "v"}})
    frame = EventFrame("thread:x", 7, "comment.created", data, "2026-12-04T12:00:00Z")
    assert msgspec.msgpack.decode(frame.msgpack) == json.loads(frame.json)
    assert frame.binary_wire == Frame(Opcode.BINARY, frame.msgpack).serialize(mask=False)
    for size in (0, 125, 126, 65_535, 65_536):
        payload = b"\x00" * size
        assert ws_binary_frame(payload) == Frame(Opcode.BINARY, payload).serialize(mask=False)


def test_an_integer_json_holds_but_msgpack_cannot_arrives_as_the_float_javascript_reads() -> None:
    packed = json_to_msgpack(encode_event("c", None, "e", encode_json({"big": 10**30, "ok": 2**63}), "t"))
    assert msgspec.msgpack.decode(packed)["data"] == {"big": 1e30, "ok": 2**63}


class _NoLog:
    async def read(self, channel: str, after: int, through: int, limit: int) -> list[LogRow]:
        return []

    async def position(self, channel: str) -> tuple[int, int]:
        return (0, 0)


def fanout_of(binary: dict[str, bool], wires: dict[str, list[bytes]]) -> Fanout:
    """A fan-out of `feed` whose subscribers (name -> msgpack or not) write what their socket would."""
    fanout = Fanout(_NoLog())
    for user, packed in binary.items():
        outbox = Outbox(8, lambda: None)
        wires[user] = []

        async def send(frame: OutFrame, user: str = user, packed: bool = packed) -> None:
            wires[user].append(frame.binary_wire if packed else frame.wire)

        outbox.attach(send, lambda: None)
        seq: Subscription[EventFrame] = Subscription(max_buffer=4)
        seq.finish_replay([], after=0)
        sub = Subscriber("feed", outbox, user, seq)
        sub.ready = True
        fanout.add(sub)
    return fanout


def test_an_event_is_encoded_to_msgpack_once_for_all_its_msgpack_subscribers_and_never_for_json_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    conversions: list[bytes] = []

    def counting(data: bytes) -> bytes:
        conversions.append(data)
        return json_to_msgpack(data)

    monkeypatch.setattr(channels.frames, "json_to_msgpack", counting)
    wires: dict[str, list[bytes]] = {}
    mixed = fanout_of({"json": False, "mp1": True, "mp2": True, "mp3": True}, wires)
    frame = EventFrame("feed", 1, "post.created", msgspec.Raw(b'{"id":1}'), "2026-12-04T12:00:00Z")
    mixed.deliver(1, frame)
    assert conversions == [frame.json]
    assert wires["mp1"][0] is wires["mp2"][0] is wires["mp3"][0] is frame.binary_wire
    assert wires["json"] == [frame.wire]

    conversions.clear()
    json_only = fanout_of({"a": False, "b": False}, wires)
    json_only.deliver(1, EventFrame("feed", 1, "post.created", msgspec.Raw(b"{}"), "2026-12-04T12:00:00Z"))
    json_only.broadcast("feed", OutFrame(b'{"op":"presence"}'))
    assert len(wires["a"]) == len(wires["b"]) == 2 and conversions == []
