"""One OutFrame per event: its JSON and websocket bytes are built once and shared by every subscriber."""

from __future__ import annotations

import msgspec
import pytest
from websockets.frames import Frame, Opcode

import channels.frames
from channels.frames import EventFrame, OutFrame, encode_event, ws_text_frame
from channels.sequencing import Subscription
from hub.realtime.fanout import Fanout, LogRow, Outbox, Subscriber


class _NoLog:
    async def read(self, channel: str, after: int, through: int, limit: int) -> list[LogRow]:
        return []

    async def position(self, channel: str) -> tuple[int, int]:
        return (0, 0)


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536])
def test_wire_bytes_are_one_unmasked_text_frame_as_websockets_writes_it(size: int) -> None:
    payload = ("é" * (size // 2) + "x" * (size % 2)).encode()
    assert ws_text_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False)
    assert OutFrame(payload).wire == ws_text_frame(payload)


def test_an_event_frame_is_encoded_once_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(*args: object) -> bytes:
        calls.append("encode")
        return encode_event(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(channels.frames, "encode_event", counting)
    frame = EventFrame("feed", 3, "post.created", msgspec.Raw(b'{"id": 1}'), "2026-12-04T12:00:00+00:00")
    assert calls == []  # nothing is encoded before someone sends it
    first = frame.json
    assert frame.wire is frame.wire and frame.text is frame.text and frame.json is first
    assert calls == ["encode"]
    assert frame.wire == ws_text_frame(first) and frame.text == first.decode()
    assert msgspec.json.decode(first)["data"] == {"id": 1}


async def test_two_subscribers_are_sent_the_same_frame_object_and_its_bytes_are_built_once() -> None:
    fanout = Fanout(_NoLog())
    sent: dict[str, list[OutFrame]] = {"a": [], "b": []}
    for user in sent:
        outbox = Outbox(8, lambda: None)

        async def send(frame: OutFrame, user: str = user) -> None:
            sent[user].append(frame)
            frame.wire  # noqa: B018 - what the socket does with it

        outbox.attach(send, lambda: None)
        seq: Subscription[EventFrame] = Subscription(max_buffer=4)
        seq.finish_replay([], after=0)
        sub = Subscriber("feed", outbox, user, seq)
        sub.ready = True
        fanout.add(sub)
    frame = EventFrame("feed", 1, "post.created", msgspec.Raw(b"{}"), "2026-12-04T12:00:00+00:00")
    fanout.deliver(1, frame)
    assert sent["a"] == [frame] and sent["b"] == [frame]
    assert sent["a"][0].wire is sent["b"][0].wire
    shared = OutFrame(b'{"op":"presence"}')
    fanout.broadcast("feed", shared)
    assert sent["a"][-1] is shared and sent["b"][-1] is shared
