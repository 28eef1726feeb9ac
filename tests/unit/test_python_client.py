"""The pure parts of `hub.client`: frames in both encodings against the hub's own codec, presence merging, the
subscription's order keeping (duplicates dropped, a gap reported, a reset moving on), the backoff's jitter
source, and an import that loads no server."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys

import msgspec
import pytest

from channels.encodings import Encoding
from channels.errors import FrameError
from channels.frames import (
    EventFrame,
    OutFrame,
    decode_client_frame,
    encode_presence,
    encode_reply_ok,
    encode_reset,
)
from hub.client import DEFAULT_BACKOFF, Event, HubClient, Presence, Reset, SubscribeResult, Subscription
from hub.client.frames import (
    PresenceEntry,
    Publish,
    Reply,
    Subscribe,
    decode_server_frame,
    encode_client_frame,
    result_as,
)
from hub.client.presence import apply_diff, from_entries

ENCODINGS = pytest.mark.parametrize("encoding", list(Encoding), ids=lambda e: e.name.lower())


def _as_sent(json_frame: bytes, encoding: Encoding) -> bytes:
    """A server frame as the hub sends it in ``encoding``: its JSON, or the msgpack the hub derives from it."""
    return OutFrame(json_frame).msgpack if encoding.binary else json_frame


@ENCODINGS
def test_client_frames_are_what_the_hubs_decoder_accepts(encoding: Encoding) -> None:
    frame = Subscribe(id=3, channel="feed", since=41)
    assert decode_client_frame(encode_client_frame(frame, encoding), encoding) == frame
    publish = Publish(id=4, channel="thread:x", event="typing", data={"nested": [1, 2.5, None, "é"]})
    assert decode_client_frame(encode_client_frame(publish, encoding), encoding) == publish


def test_a_msgpack_client_frame_is_msgpack_not_json() -> None:
    packed = encode_client_frame(Subscribe(id=3, channel="feed"), Encoding.MSGPACK)
    assert msgspec.msgpack.decode(packed) == {"op": "subscribe", "id": 3, "channel": "feed", "since": None}
    with pytest.raises(FrameError):
        decode_client_frame(packed)


@ENCODINGS
def test_server_frames_from_the_hubs_encoders_decode_to_typed_frames(encoding: Encoding) -> None:
    event = EventFrame("feed", 7, "post.created", msgspec.Raw(b'{"id":"p","n":[1,2.5]}'), "2026-01-01T00:00:00Z")
    sent = event.msgpack if encoding.binary else event.json
    assert decode_server_frame(sent, encoding) == Event("feed", 7, "post.created", {"id": "p", "n": [1, 2.5]},
                                                        "2026-01-01T00:00:00Z")
    reply = decode_server_frame(
        _as_sent(encode_reply_ok(2, {"channel": "feed", "seq": 44, "snapshot": None}), encoding), encoding)
    assert isinstance(reply, Reply) and reply.ok
    assert result_as(reply, SubscribeResult) == SubscribeResult("feed", 44)
    ok = decode_server_frame(_as_sent(encode_reply_ok(5), encoding), encoding)
    assert isinstance(ok, Reply) and result_as(ok, dict[str, object]) == {}
    reset = decode_server_frame(_as_sent(encode_reset("feed", 9, "history_expired"), encoding), encoding)
    assert reset == Reset("feed", 9, "history_expired")
    diff = decode_server_frame(_as_sent(encode_presence("session:s", {"u": [{"conn_id": "c"}]}, {}), encoding),
                               encoding)
    assert diff == Presence("session:s", {"u": PresenceEntry([{"conn_id": "c"}])}, {})


def test_a_frame_of_an_unknown_op_is_skipped_and_a_broken_known_one_is_an_error() -> None:
    assert decode_server_frame(b'{"op":"hello","x":1}') is None
    assert decode_server_frame(msgspec.msgpack.encode({"op": "hello", "x": 1}), Encoding.MSGPACK) is None
    with pytest.raises(msgspec.ValidationError):
        decode_server_frame(b'{"op":"event","channel":"feed"}')
    with pytest.raises(msgspec.ValidationError):
        decode_server_frame(msgspec.msgpack.encode({"op": "event", "channel": "feed"}), Encoding.MSGPACK)
    with pytest.raises(msgspec.DecodeError):
        decode_server_frame(b"not json")
    with pytest.raises(msgspec.DecodeError):
        decode_server_frame('{"op":"pong","id":1}', Encoding.MSGPACK)  # a text frame on a msgpack connection


def test_a_client_speaks_the_encoding_it_is_asked_for_and_refuses_an_unknown_one() -> None:
    assert HubClient("ws://127.0.0.1:1/ws", token="t").encoding is Encoding.JSON
    assert HubClient("ws://127.0.0.1:1/ws", token="t", encoding="msgpack").encoding is Encoding.MSGPACK
    with pytest.raises(ValueError):
        HubClient("ws://127.0.0.1:1/ws", token="t", encoding="cbor")  # type: ignore[arg-type]


def test_presence_applies_leaves_then_joins_matched_by_connection() -> None:
    state = from_entries({"a": PresenceEntry([{"conn_id": "a1", "hand_raised": False}]),
                          "b": PresenceEntry([{"conn_id": "b1"}])})
    # A raised hand: the old meta leaves, the new one joins; a second tab of `a` joins beside it.
    apply_diff(state, Presence("r", joins={"a": PresenceEntry([{"conn_id": "a1", "hand_raised": True},
                                                               {"conn_id": "a2", "hand_raised": False}])},
                               leaves={"a": PresenceEntry([{"conn_id": "a1", "hand_raised": False}]),
                                       "b": PresenceEntry([{"conn_id": "b1"}])}))
    assert state == {"a": [{"conn_id": "a1", "hand_raised": True}, {"conn_id": "a2", "hand_raised": False}]}


def _event(seq: int | None) -> Event:
    return Event("user:u", seq, "xp.awarded", {}, "2026-01-01T00:00:00Z")


async def _queued(sub: Subscription) -> list[object]:
    sub.end()
    return [item async for item in sub]


async def test_a_subscription_drops_duplicates_reports_a_gap_and_moves_on_after_a_reset() -> None:
    sub = Subscription(HubClient("ws://127.0.0.1:1/ws", token="t"), "user:u", since=None, max_pending=100)
    await sub.subscribed(SubscribeResult("user:u", seq=5), since=None)
    assert await sub.deliver(_event(6))
    assert await sub.deliver(_event(6))  # a replayed duplicate: accepted, not queued again
    assert await sub.deliver(_event(None))  # ephemeral: no order to keep
    assert not await sub.deliver(_event(8))  # 7 is missing: the client reconnects to refill it
    assert sub.last_seq == 6
    await sub.reset(Reset("user:u", 20, "history_expired"))
    assert await sub.deliver(_event(21))
    assert sub.last_seq == 21
    items = await _queued(sub)
    assert items == [_event(6), _event(None), Reset("user:u", 20, "history_expired"), _event(21)]


async def test_a_resubscribe_resumes_from_the_last_queued_event_and_says_so() -> None:
    sub = Subscription(HubClient("ws://127.0.0.1:1/ws", token="t"), "user:u", since=3, max_pending=100)
    assert sub.last_seq == 3
    await sub.subscribed(SubscribeResult("user:u", seq=4), since=3)
    assert await sub.deliver(_event(4))
    await sub.subscribed(SubscribeResult("user:u", seq=9), since=sub.last_seq)
    assert await sub.deliver(_event(4)) and await sub.deliver(_event(5))
    assert [getattr(item, "seq", "resubscribed") for item in await _queued(sub)] == [4, "resubscribed", 5]


def test_backoff_grows_within_its_caps_and_never_moves_the_global_random_state() -> None:
    before = random.getstate()
    jitter = random.Random(1)
    delays = [DEFAULT_BACKOFF.delay(attempt, 1.0, jitter.random()) for attempt in range(12)]
    assert random.getstate() == before
    assert all(DEFAULT_BACKOFF.first_s / 2 <= d <= DEFAULT_BACKOFF.fast_max_s for d in delays)
    assert max(delays) > DEFAULT_BACKOFF.fast_max_s / 2
    assert DEFAULT_BACKOFF.delay(30, 3600.0, 0.999) <= DEFAULT_BACKOFF.slow_max_s


def test_a_client_needs_exactly_one_source_of_tokens() -> None:
    with pytest.raises(ValueError):
        HubClient("ws://127.0.0.1:1/ws")
    with pytest.raises(ValueError):
        HubClient("ws://127.0.0.1:1/ws", token="t", token_provider=lambda: _token())


async def _token() -> str:
    return "t"


def test_importing_the_client_loads_neither_litestar_nor_asyncpg() -> None:
    code = "import sys, hub.client; print(sorted(m for m in ('litestar', 'asyncpg', 'redis') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_ending_a_full_subscription_releases_the_reader_waiting_to_queue_into_it() -> None:
    sub = Subscription(HubClient("ws://127.0.0.1:1/ws", token="t"), "user:u", since=None, max_pending=1)
    await sub.subscribed(SubscribeResult("user:u", seq=0), since=None)
    assert await sub.deliver(_event(1))
    blocked = asyncio.ensure_future(sub.deliver(_event(2)))  # the queue is full: this waits for room
    await asyncio.sleep(0)
    assert not blocked.done()
    sub.end()  # unsubscribed: nobody will make room
    assert await asyncio.wait_for(blocked, 5)
    assert [getattr(item, "seq", None) for item in [item async for item in sub]] == [1]
