"""Wire frames of protocol v1: client frames in, server frames out.

Decoding never raises anything but :class:`~channels.errors.FrameError`, for any
input. Encoding uses one reusable encoder; an event's ``data`` can be spliced in
already encoded (``msgspec.Raw``), so an event read from the log is encoded once
per event, not once per subscriber.

A server frame leaves as an :class:`OutFrame`: one object per frame, shared by every
subscriber it goes to, that builds its JSON, its text and its websocket wire bytes on
first use and keeps them, so a fan-out to a thousand connections encodes and frames an
event once (docs/benchmarks.md, "The hot path"). :class:`EventFrame` is the one of an
event, built from the event's fields. Its msgpack form (``hub.v1.msgpack``, :mod:`channels.encodings`) is
derived from its JSON, on first use by a msgpack connection and once for all of them, so both encodings carry
exactly the same fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import msgspec

from channels.encodings import Encoding
from channels.errors import FrameError, ProtocolError
from channels.json_depth import MAX_JSON_DEPTH, nested_deeper_than
from channels.sse import sse_message

__all__ = [
    "SERVER_FRAMES",
    "Auth",
    "ClientFrame",
    "EventFrame",
    "OutFrame",
    "Ping",
    "Publish",
    "Subscribe",
    "Unsubscribe",
    "decode_client_frame",
    "encode_error",
    "encode_event",
    "encode_json",
    "encode_pong",
    "encode_presence",
    "encode_reply_error",
    "encode_reply_ok",
    "encode_reset",
    "json_to_msgpack",
    "ws_binary_frame",
    "ws_text_frame",
]

# Ids and sequences stay within what both JavaScript numbers (2**53 - 1) and a
# PostgreSQL bigint hold exactly, so a huge integer is a bad frame, not a crash later.
MAX_SAFE_INT = 2**53 - 1
FrameId = Annotated[int, msgspec.Meta(ge=0, le=MAX_SAFE_INT)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SAFE_INT)]
Token = Annotated[str, msgspec.Meta(max_length=4096)]
ChannelText = Annotated[str, msgspec.Meta(max_length=200)]
EventName = Annotated[str, msgspec.Meta(max_length=64)]


class _ClientFrame(msgspec.Struct, tag_field="op", forbid_unknown_fields=True, frozen=True, kw_only=True):
    id: FrameId | None = None


class Auth(_ClientFrame, tag="auth", frozen=True):
    token: Token


class Subscribe(_ClientFrame, tag="subscribe", frozen=True):
    channel: ChannelText
    since: Seq | None = None


class Unsubscribe(_ClientFrame, tag="unsubscribe", frozen=True):
    channel: ChannelText


class Publish(_ClientFrame, tag="publish", frozen=True):
    channel: ChannelText
    event: EventName
    data: dict[str, Any]


class Ping(_ClientFrame, tag="ping", frozen=True):
    pass


ClientFrame = Auth | Subscribe | Unsubscribe | Publish | Ping

_DECODER: msgspec.json.Decoder[ClientFrame] = msgspec.json.Decoder(ClientFrame)
_MSGPACK_DECODER: msgspec.msgpack.Decoder[ClientFrame] = msgspec.msgpack.Decoder(ClientFrame)


class _IdProbe(msgspec.Struct):
    id: FrameId | None = None


_ID_PROBE = msgspec.json.Decoder(_IdProbe)
_MSGPACK_ID_PROBE = msgspec.msgpack.Decoder(_IdProbe)
_PATH = re.compile(r" - at `(?P<path>[^`]*)`$")


def decode_client_frame(raw: bytes | str, encoding: Encoding = Encoding.JSON) -> ClientFrame:
    """Decode one client frame (``raw`` is msgpack bytes when ``encoding`` is msgpack).

    Raises :class:`FrameError` (``bad_frame``) for anything that is not a valid
    frame: bad JSON, msgpack or UTF-8, wrong types, unknown ``op`` or fields, values out of
    range, nesting too deep, a msgpack ``data`` that JSON cannot carry. ``details`` carry msgspec's
    ``message`` and, when it names one, the ``path`` (``$.since``). Nothing else is ever raised.
    """
    msgpack = encoding is Encoding.MSGPACK
    malformed = "malformed msgpack" if msgpack else "malformed JSON"
    try:
        if msgpack:
            if not isinstance(raw, bytes):
                raise FrameError(malformed, {"message": "msgpack arrives as bytes"})
            frame = _MSGPACK_DECODER.decode(raw)
        else:
            frame = _DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        raise _frame_error(raw, str(exc), encoding) from None
    except msgspec.DecodeError as exc:
        raise FrameError(malformed, {"message": str(exc)}) from None
    except UnicodeError:
        # A str with lone surrogates cannot be UTF-8 encoded.
        raise FrameError(malformed, {"message": "invalid unicode text"}) from None
    except RecursionError:
        raise FrameError(malformed, {"message": "nesting too deep"}) from None
    if isinstance(frame, Publish):
        # Only a publish carries free-form data, relayed to every subscriber: its `data` sits one level
        # inside the frame, and the frame as a whole keeps to the hub's one depth bound.
        if nested_deeper_than(None if msgpack else raw, frame.data, MAX_JSON_DEPTH - 1):
            raise FrameError(malformed, {"message": f"nesting deeper than {MAX_JSON_DEPTH} levels"},
                             frame_id=frame.id)
        if msgpack and not _json_equivalent(frame.data):
            # Stored and relayed as JSON: binary, extension types, non-string keys and NaN would not come back
            # the same to anyone (a JSON subscriber, the log), so they are refused rather than changed.
            raise FrameError("invalid frame", {"message": "data must hold only JSON values", "path": "$.data"},
                             frame_id=frame.id)
    return frame


def _json_equivalent(data: dict[str, Any]) -> bool:
    """Whether ``data`` (decoded from msgpack) survives a JSON round trip unchanged."""
    try:
        return bool(msgspec.json.decode(_ENCODER.encode(data)) == data)
    except (TypeError, ValueError, msgspec.MsgspecError):
        return False


def _frame_error(raw: bytes | str, text: str, encoding: Encoding) -> FrameError:
    details: dict[str, Any] = {"message": text, "path": "$"}
    match = _PATH.search(text)
    if match is not None:
        details["message"] = text[: match.start()]
        details["path"] = match.group("path")
    return FrameError("invalid frame", details, frame_id=_probe_id(raw, encoding))


def _probe_id(raw: bytes | str, encoding: Encoding) -> int | None:
    """The frame's ``id`` if it is readable on its own, so a bad frame still gets its reply."""
    try:
        if encoding is Encoding.MSGPACK:
            return _MSGPACK_ID_PROBE.decode(raw).id if isinstance(raw, bytes) else None
        return _ID_PROBE.decode(raw).id
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        return None


# --- server frames -----------------------------------------------------------

Timestamp = str | datetime


class _ErrorBody(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    details: dict[str, Any] | None = None


class _ReplyOk(msgspec.Struct, tag_field="op", tag="reply"):
    id: int | None
    ok: bool
    result: Any


class _ReplyError(msgspec.Struct, tag_field="op", tag="reply"):
    id: int | None
    ok: bool
    error: _ErrorBody


class _Event(msgspec.Struct, tag_field="op", tag="event"):
    channel: str
    seq: int | None
    event: str
    data: msgspec.Raw
    ts: Timestamp


class _PresenceEntry(msgspec.Struct):
    metas: Sequence[Any]


class _Presence(msgspec.Struct, tag_field="op", tag="presence"):
    channel: str
    joins: dict[str, _PresenceEntry]
    leaves: dict[str, _PresenceEntry]


class _Reset(msgspec.Struct, tag_field="op", tag="reset"):
    channel: str
    seq: int
    reason: str


class _Error(msgspec.Struct, tag_field="op", tag="error"):
    error: _ErrorBody


class _Pong(msgspec.Struct, tag_field="op", tag="pong"):
    id: int | None


# Every server frame, for the AsyncAPI document (`channels.asyncapi`; a test finds any frame missing here).
SERVER_FRAMES: tuple[type[msgspec.Struct], ...] = (_ReplyOk, _ReplyError, _Event, _Presence, _Reset, _Error, _Pong)

# msgspec encoders are reusable and keep an internal buffer; one per module is
# safe because encoding never yields control in the middle.
_ENCODER = msgspec.json.Encoder()
_MSGPACK_ENCODER = msgspec.msgpack.Encoder()


def encode_json(value: Any) -> msgspec.Raw:
    """Encode an event's ``data`` once, to be spliced into many frames by :func:`encode_event`."""
    return msgspec.Raw(_ENCODER.encode(value))


def encode_reply_ok(frame_id: int | None, result: Mapping[str, Any] | msgspec.Struct | None = None) -> bytes:
    """``{"op":"reply","id":…,"ok":true,"result":{…}}``; ``result`` defaults to ``{}``."""
    return _ENCODER.encode(_ReplyOk(frame_id, True, {} if result is None else result))


def _body(err: ProtocolError) -> _ErrorBody:
    return _ErrorBody(err.code, err.message, err.details)


def encode_reply_error(frame_id: int | None, err: ProtocolError) -> bytes:
    """``{"op":"reply","id":…,"ok":false,"error":{code,message,details?}}``."""
    return _ENCODER.encode(_ReplyError(frame_id, False, _body(err)))


def encode_error(err: ProtocolError) -> bytes:
    """``{"op":"error","error":{code,message,details?}}``: a problem not tied to a request."""
    return _ENCODER.encode(_Error(_body(err)))


def encode_event(
    channel: str,
    seq: int | None,
    event: str,
    data_json: bytes | msgspec.Raw,
    ts: Timestamp,
) -> bytes:
    """An ``event`` frame. ``data_json`` is already-encoded JSON, spliced in as is.

    The caller guarantees ``data_json`` is one valid JSON value (it comes from the
    log or :func:`encode_json`). ``seq`` is ``None`` for ephemeral events. ``ts``
    is an ISO 8601 string or an aware datetime (encoded as RFC 3339).
    """
    raw = data_json if isinstance(data_json, msgspec.Raw) else msgspec.Raw(data_json)
    return _ENCODER.encode(_Event(channel, seq, event, raw, ts))


def encode_presence(
    channel: str,
    joins: Mapping[str, Sequence[Any]],
    leaves: Mapping[str, Sequence[Any]],
) -> bytes:
    """A ``presence`` diff: maps of user id → metas, wrapped as ``{"metas": [...]}``."""
    return _ENCODER.encode(
        _Presence(
            channel,
            {user: _PresenceEntry(metas) for user, metas in joins.items()},
            {user: _PresenceEntry(metas) for user, metas in leaves.items()},
        )
    )


def presence_state(entries: Mapping[str, Sequence[Any]]) -> dict[str, dict[str, Sequence[Any]]]:
    """Presence state in the shape of ``joins`` (for a subscribe reply's ``result.presence``)."""
    return {user: {"metas": metas} for user, metas in entries.items()}


def encode_reset(channel: str, seq: int, reason: str) -> bytes:
    """``reset``: the client must refetch the channel's state through REST."""
    return _ENCODER.encode(_Reset(channel, seq, reason))


def encode_pong(frame_id: int | None) -> bytes:
    return _ENCODER.encode(_Pong(frame_id))


# --- frames on their way out -----------------------------------------------------


def ws_text_frame(payload: bytes) -> bytes:
    """``payload`` as one final, unmasked, uncompressed websocket text frame (RFC 6455 section 5.2): what
    a server writes on a connection that negotiated no extension."""
    return _ws_frame(0x81, payload)


def ws_binary_frame(payload: bytes) -> bytes:
    """``payload`` as one final, unmasked, uncompressed websocket binary frame (see :func:`ws_text_frame`)."""
    return _ws_frame(0x82, payload)


def _ws_frame(first: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        header = bytes((first, n))
    elif n < 1 << 16:
        header = bytes((first, 0x7E)) + n.to_bytes(2, "big")
    else:
        header = bytes((first, 0x7F)) + n.to_bytes(8, "big")
    return header + payload


def json_to_msgpack(data: bytes) -> bytes:
    """One JSON document as msgpack with the same values. An integer past 64 bits (JSON has no bound, msgpack
    has) becomes a float: the number a JavaScript client reads from the JSON frame anyway."""
    value = msgspec.json.decode(data)
    try:
        return _MSGPACK_ENCODER.encode(value)
    except OverflowError:
        return _MSGPACK_ENCODER.encode(_wide_ints_as_floats(value))


def _wide_ints_as_floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _wide_ints_as_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wide_ints_as_floats(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return float(value)
    return value


class _Head(msgspec.Struct):
    op: str
    channel: str | None = None
    seq: int | None = None


_HEAD = msgspec.json.Decoder(_Head)


class OutFrame:
    """One server frame, shared by every connection it goes to: its JSON (``json``), ``text`` and websocket
    ``wire`` bytes, for msgpack connections its ``msgpack`` and ``binary_wire`` bytes, and its SSE message
    (``sse``) are each built once, on first use, and kept on the object."""

    __slots__ = ("_binary_wire", "_json", "_msgpack", "_sse", "_text", "_wire")

    def __init__(self, json: bytes) -> None:
        self._json: bytes | None = json
        self._text: str | None = None
        self._wire: bytes | None = None
        self._msgpack: bytes | None = None
        self._binary_wire: bytes | None = None
        self._sse: bytes | None = None

    @property
    def json(self) -> bytes:
        data = self._json
        if data is None:
            data = self._json = self._encode()
        return data

    @property
    def text(self) -> str:
        """For a transport that takes text (the ASGI ``websocket.send`` path)."""
        text = self._text
        if text is None:
            text = self._text = self.json.decode()
        return text

    @property
    def wire(self) -> bytes:
        """The websocket text frame, for a connection without extensions (:func:`ws_text_frame`)."""
        wire = self._wire
        if wire is None:
            wire = self._wire = ws_text_frame(self.json)
        return wire

    @property
    def msgpack(self) -> bytes:
        """The same frame in msgpack (:func:`json_to_msgpack`), for ``hub.v1.msgpack`` connections."""
        data = self._msgpack
        if data is None:
            data = self._msgpack = json_to_msgpack(self.json)
        return data

    @property
    def binary_wire(self) -> bytes:
        """The websocket binary frame of :attr:`msgpack`, for a msgpack connection without extensions."""
        wire = self._binary_wire
        if wire is None:
            wire = self._binary_wire = ws_binary_frame(self.msgpack)
        return wire

    @property
    def sse(self) -> bytes:
        """The Server-Sent Events message (:func:`channels.sse.sse_message`)."""
        message = self._sse
        if message is None:
            message = self._sse = sse_message(*self._sse_head(), self.json)
        return message

    def _sse_head(self) -> tuple[str, str | None, int | None]:
        head = _HEAD.decode(self.json)
        return head.op, head.channel, head.seq

    def _encode(self) -> bytes:
        raise AssertionError("an OutFrame is made with its JSON")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.json!r})"


class EventFrame(OutFrame):
    """An ``event`` frame, encoded on first use (:func:`encode_event`). ``seq`` is ``None`` for ephemeral and
    state events; ``data`` is the event's data, already JSON."""

    __slots__ = ("channel", "created_at", "data", "event", "seq")

    def __init__(self, channel: str, seq: int | None, event: str, data: msgspec.Raw, created_at: Timestamp) -> None:
        self._json = None
        self._text = None
        self._wire = None
        self._msgpack = None
        self._binary_wire = None
        self._sse = None
        self.channel = channel
        self.seq = seq
        self.event = event
        self.data = data
        self.created_at = created_at

    def _sse_head(self) -> tuple[str, str | None, int | None]:
        return "event", self.channel, self.seq

    def _encode(self) -> bytes:
        return encode_event(self.channel, self.seq, self.event, self.data, self.created_at)
