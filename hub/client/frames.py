"""The frames of protocol v1 as the client sees them: server frames decoded into typed structs, client frames
encoded from the protocol's own definitions (``channels.frames``), so the client and the hub cannot spell an
``op`` or a field differently.

Server frames are decoded leniently: a field a newer hub adds is ignored, and a frame whose ``op`` this client
does not know decodes to ``None`` (the caller skips it) rather than failing the connection.
"""

from __future__ import annotations

from typing import Any

import msgspec

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
]


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str
    details: dict[str, Any] | None = None


class Reply(msgspec.Struct, tag_field="op", tag="reply", frozen=True):
    """The answer to a frame that carried an ``id``: ``result`` (still encoded; empty when absent) when ``ok``,
    else ``error``."""

    id: int | None
    ok: bool
    result: msgspec.Raw = msgspec.Raw()
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


_DECODER: msgspec.json.Decoder[ServerFrame] = msgspec.json.Decoder(ServerFrame)
_ENCODER = msgspec.json.Encoder()


class _OpProbe(msgspec.Struct):
    op: str


_OP_PROBE = msgspec.json.Decoder(_OpProbe)
_KNOWN_OPS = frozenset({"reply", "event", "presence", "reset", "error", "pong"})


def decode_server_frame(raw: bytes | str) -> ServerFrame | None:
    """One server frame; None for a well-formed frame with an ``op`` this client does not know.

    Raises ``msgspec.DecodeError`` (``ValidationError`` included) for anything that is not a frame of v1.
    """
    try:
        return _DECODER.decode(raw)
    except msgspec.ValidationError:
        if _OP_PROBE.decode(raw).op not in _KNOWN_OPS:
            return None
        raise


def encode_client_frame(frame: ClientFrame) -> bytes:
    return _ENCODER.encode(frame)
