"""Server-Sent Events framing of protocol v1's server frames, and the stream's resume positions (no I/O).

A server frame travels on `GET /sse` as one SSE message: ``event:`` is the frame's ``op``, ``data:`` its JSON
exactly as the websocket sends it (one line: the JSON encoder escapes every line break), and ``id:`` is
``<channel>:<seq>`` for a frame that has a sequence (a durable ``event``, a ``reset``), so the browser's
``Last-Event-ID`` names the channel and position to resume from. The message is built once per frame and
shared by every stream the frame goes to (:attr:`channels.frames.OutFrame.sse`).
"""

from __future__ import annotations

from channels.errors import FrameError

__all__ = ["HEARTBEAT", "event_id", "parse_position", "sse_message"]

# A comment line: keeps proxies from timing the stream out; `EventSource` ignores it.
HEARTBEAT = b": heartbeat\n\n"


def event_id(channel: str, seq: int) -> str:
    return f"{channel}:{seq}"


def sse_message(op: str, channel: str | None, seq: int | None, data: bytes) -> bytes:
    """One SSE message for a frame whose JSON is ``data`` (which holds no line break)."""
    head = b"" if channel is None or seq is None else f"id: {event_id(channel, seq)}\n".encode()
    return b"%sevent: %s\ndata: %s\n\n" % (head, op.encode(), data)


def parse_position(text: str, field: str) -> tuple[str, int]:
    """``<channel>:<seq>`` (a ``since`` parameter or ``Last-Event-ID``) → (channel, seq); ``bad_frame``
    naming ``field`` otherwise. Channel names hold colons themselves: the seq is after the last one."""
    channel, sep, seq = text.rpartition(":")
    if not sep or not channel or not seq.isdigit() or len(seq) > 16:
        raise FrameError("invalid position", {"path": field, "message": "expected <channel>:<seq>"})
    return channel, int(seq)
