"""The frames of protocol v1 as the client sees them: server frames decoded into typed structs, client frames
encoded from the protocol's own definitions (``channels.frames``), so the client and the hub cannot spell an
``op`` or a field differently. Both encodings of ``channels.encodings`` decode into the same structs: JSON
(text frames) and ``hub.v1.msgpack`` (binary frames, the same fields).

Server frames are decoded leniently: a field a newer hub adds is ignored, and a frame whose ``op`` this client
does not know decodes to ``None`` (the caller skips it) rather than failing the connection.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from channels.encodings import Encoding
from channels.frames import Auth, ClientFrame, Ping, Publish, Subscribe, Unsubscribe

__all__ = [
    "Auth",
    "AuthResult",
    "ClientFrame",
    "ErrorBody",
    "ErrorFrame",
    "Event",
    "Ping",
    "Pong",
    "Presence",
    "PresenceEntry",
    "Publish",
    "Reply",
    "Reset",
    "ServerFrame",
    "Subscribe",
    "SubscribeResult",
    "Unsubscribe",
    "decode_server_frame",
    "encode_client_frame",
    "result_as",
]


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str
    details: dict[str, Any] | None = None


class Reply(msgspec.Struct, tag_field="op", tag="reply", frozen=True):
    """The answer to a frame that carried an ``id``: ``result`` (decoded, untyped: :func:`result_as` types it;
    None when absent) when ``ok``, else ``error``."""

    id: int | None
    ok: bool
    result: Any = None
    error: ErrorBody | None = None


class Event(msgspec.Struct, tag_field="op", tag="event", frozen=True):
    """An event on a channel; ``seq`` is None for ephemeral and state events. ``ts`` is ISO 8601."""

    channel: str
    seq: int | None
    event: str
    data: Any
    ts: str


class PresenceEntry(msgspec.Struct, frozen=True):
    metas: list[dict[str, Any]]


class Presence(msgspec.Struct, tag_field="op", tag="presence", frozen=True):
    """A presence diff: who joined and who left (user id → the metas of their connections)."""

    channel: str
    joins: dict[str, PresenceEntry]
    leaves: dict[str, PresenceEntry]


class Reset(msgspec.Struct, tag_field="op", tag="reset", frozen=True):
    """The history no longer reaches back to the client's position: refetch the channel's state through REST;
    events continue after ``seq``."""

    channel: str
    seq: int
    reason: str


class ErrorFrame(msgspec.Struct, tag_field="op", tag="error", frozen=True):
    error: ErrorBody


class Pong(msgspec.Struct, tag_field="op", tag="pong", frozen=True):
    id: int | None


ServerFrame = Reply | Event | Presence | Reset | ErrorFrame | Pong


class AuthResult(msgspec.Struct, frozen=True):
    """The result of an accepted ``auth``. ``expires_at``: the token's expiry, Unix seconds."""

    user_id: str
    expires_at: float
    connection_id: str
    heartbeat_s: float


class SubscribeResult(msgspec.Struct, frozen=True):
    """The result of a ``subscribe``: the channel's head ``seq`` (None on state channels), a state channel's
    ``snapshot``, a presence channel's current ``presence``."""

    channel: str
    seq: int | None = None
    snapshot: Any = None
    presence: dict[str, PresenceEntry] | None = None


T = TypeVar("T")


class _OpProbe(msgspec.Struct):
    op: str


_KNOWN_OPS = frozenset({"reply", "event", "presence", "reset", "error", "pong"})
_JSON_DECODER: msgspec.json.Decoder[ServerFrame] = msgspec.json.Decoder(ServerFrame)
_JSON_PROBE = msgspec.json.Decoder(_OpProbe)
_MSGPACK_DECODER: msgspec.msgpack.Decoder[ServerFrame] = msgspec.msgpack.Decoder(ServerFrame)
_MSGPACK_PROBE = msgspec.msgpack.Decoder(_OpProbe)
_JSON_ENCODER = msgspec.json.Encoder()
_MSGPACK_ENCODER = msgspec.msgpack.Encoder()


def decode_server_frame(raw: bytes | str, encoding: Encoding = Encoding.JSON) -> ServerFrame | None:
    """One server frame in ``encoding``; None for a well-formed frame with an ``op`` this client does not know.

    Raises ``msgspec.DecodeError`` (``ValidationError`` included) for anything that is not a frame of v1, a
    text frame on a msgpack connection included.
    """
    packed: bytes | None = None  # the frame, when it is msgpack
    if encoding.binary:
        if not isinstance(raw, bytes):
            raise msgspec.DecodeError(f"text frame on a {encoding.value} connection")
        packed = raw
    try:
        return _JSON_DECODER.decode(raw) if packed is None else _MSGPACK_DECODER.decode(packed)
    except msgspec.ValidationError:
        probe = _JSON_PROBE.decode(raw) if packed is None else _MSGPACK_PROBE.decode(packed)
        if probe.op not in _KNOWN_OPS:
            return None
        raise


def encode_client_frame(frame: ClientFrame, encoding: Encoding = Encoding.JSON) -> bytes:
    """``frame`` in ``encoding``: sent as a binary websocket frame when ``encoding.binary``, else as text."""
    return (_MSGPACK_ENCODER if encoding.binary else _JSON_ENCODER).encode(frame)


def result_as(reply: Reply, kind: type[T]) -> T:
    """A reply's ``result`` as ``kind`` (an absent result is ``{}``), whichever encoding it came in."""
    return msgspec.convert({} if reply.result is None else reply.result, kind)
