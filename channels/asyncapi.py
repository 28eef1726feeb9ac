"""The protocol as an AsyncAPI 3.0.0 document, built from the definitions the hub runs on: the client frames
(`channels.frames.ClientFrame`), the server frames (`SERVER_FRAMES`), the channel kinds (`channels.names`),
the client publishes (`channels.publishes.PUBLISH_RULES`) and the events the hub sends
(`channels.event_names`). Nothing is listed by hand here, so a new op, frame, kind or event is in the
document as soon as it exists. Served at `/schema/asyncapi.json`.

One channel, `socket`, is the `/ws` connection itself, with every frame as a message; one channel per kind
(`thread:{post_id}`, …) carries the events and publishes of that kind inside `event` and `publish` frames.
The encodings (`channels.encodings.Encoding`) are the `socket` channel's websocket binding: the subprotocols a
client may offer in `Sec-WebSocket-Protocol`, with their content types in its description; the messages'
schemas hold for every encoding, which carry the same fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, get_args

import msgspec

from channels.encodings import Encoding
from channels.event_names import DURABLE, TRANSIENT
from channels.frames import SERVER_FRAMES, ClientFrame
from channels.names import ChannelKind, LeaderboardPeriod
from channels.publishes import PUBLISH_RULES

__all__ = ["CLIENT_OPS", "SERVER_OPS", "asyncapi_document"]

_REF = "#/components/schemas/{name}"

CLIENT_OPS: tuple[str, ...] = tuple(t.__struct_config__.tag for t in get_args(ClientFrame))
SERVER_OPS: tuple[str, ...] = tuple(dict.fromkeys(t.__struct_config__.tag for t in SERVER_FRAMES))  # type: ignore[misc]

_ADDRESS = {
    ChannelKind.FEED: ("feed", {}),
    ChannelKind.THREAD: ("thread:{post_id}", {"post_id": {"description": "the post's id, a lower-case uuid"}}),
    ChannelKind.VOTES: ("votes:{post_id}", {"post_id": {"description": "the post's id, a lower-case uuid"}}),
    ChannelKind.SESSION: ("session:{session_id}",
                          {"session_id": {"description": "the session's id, a lower-case uuid"}}),
    ChannelKind.USER: ("user:{user_id}", {"user_id": {"description": "the user's id, a lower-case uuid"}}),
    ChannelKind.LEADERBOARD: ("leaderboard:{period}",
                              {"period": {"enum": [p.value for p in LeaderboardPeriod]}}),
}


def _frame_key(frame: type[msgspec.Struct]) -> str:
    """`_ReplyOk` → `reply_ok`: the message's key in the `socket` channel."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", frame.__name__.lstrip("_")).lower()


def _event_message(kind: ChannelKind, event: str, about: str, durable: bool) -> dict[str, Any]:
    seq: dict[str, Any] = {"type": "integer", "minimum": 1} if durable else {"type": "null"}
    return {
        "name": event,
        "summary": f"{'durable' if durable else 'not logged'}: {about}",
        "payload": _event_payload(kind.value, {"const": event}, seq, about),
    }


def _event_payload(kind: str, event: dict[str, Any], seq: dict[str, Any], about: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["op", "channel", "seq", "event", "data", "ts"],
        "properties": {
            "op": {"const": "event"},
            "channel": {"type": "string", "description": f"a {kind} channel"},
            "seq": seq,
            "event": event,
            "data": {"description": about},
            "ts": {"type": "string", "format": "date-time"},
        },
    }


def _publish_message(event: str, payload_ref: str, stored: bool, sender: str) -> dict[str, Any]:
    return {
        "name": event,
        "summary": f"publish by {sender}; {'durable' if stored else 'not logged'}",
        "payload": {
            "type": "object",
            "required": ["op", "channel", "event", "data"],
            "properties": {
                "op": {"const": "publish"},
                "id": {"type": "integer", "minimum": 0},
                "channel": {"type": "string"},
                "event": {"const": event},
                "data": {"$ref": payload_ref},
            },
        },
    }


def asyncapi_document(*, host: str, protocol: str) -> dict[str, Any]:
    """The document for a hub reached at `host` (`example.org:443`) over `protocol` (`ws` or `wss`)."""
    # The event frame's `ts` (text or datetime, both encoded as RFC 3339) has no schema msgspec derives:
    # its schema is the one every event message spells out, with `event` and `data` left open.
    frames = [f for f in SERVER_FRAMES if f.__struct_config__.tag != "event"]
    _, schemas = msgspec.json.schema_components([*get_args(ClientFrame), *frames, *(r.payload for r in PUBLISH_RULES)],
                                                ref_template=_REF)
    event_frames = [f for f in SERVER_FRAMES if f not in frames]
    for frame in event_frames:
        schemas[frame.__name__] = _event_payload("any", {"type": "string"}, {"type": ["integer", "null"]}, "any JSON")
    socket_messages: dict[str, Any] = {}
    for frame in (*get_args(ClientFrame), *SERVER_FRAMES):
        socket_messages[_frame_key(frame)] = {
            "name": frame.__struct_config__.tag,
            "payload": {"$ref": _REF.format(name=frame.__name__)},
        }
    channels: dict[str, Any] = {"socket": {"address": "/ws", "title": "the websocket connection",
                                           "description": _ENCODINGS_NOTE, "bindings": {"ws": _ws_binding()},
                                           "messages": socket_messages}}
    client_keys = {_frame_key(f) for f in get_args(ClientFrame)}
    operations: dict[str, Any] = {
        "sendFrame": _operation("send", "socket", sorted(client_keys)),
        "receiveFrame": _operation("receive", "socket", [k for k in socket_messages if k not in client_keys]),
    }
    for kind in ChannelKind:
        address, parameters = _ADDRESS[kind]
        messages: dict[str, Any] = {}
        for names, durable in ((DURABLE, True), (TRANSIENT, False)):
            for event, about in _of(names, kind).items():
                messages[event] = _event_message(kind, event, about, durable)
        received = list(messages)
        published = []
        for rule in PUBLISH_RULES:
            if rule.kind is kind:
                key = f"publish.{rule.event}"
                messages[key] = _publish_message(rule.event, _REF.format(name=rule.payload.__name__), rule.stored,
                                                 rule.sender.value)
                published.append(key)
        channel: dict[str, Any] = {"address": address, "messages": messages}
        if parameters:
            channel["parameters"] = parameters
        channels[kind.value] = channel
        operations[f"receive_{kind.value}"] = _operation("receive", kind.value, received)
        if published:
            operations[f"publish_{kind.value}"] = _operation("send", kind.value, published)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "hub realtime protocol",
            "version": "1",
            "description": "The `/ws` protocol (v1): authenticate, subscribe with resume, publish. "
                           "docs/protocol.md explains it; this document is generated from the hub's definitions.",
        },
        "defaultContentType": Encoding.JSON.content_type,
        "servers": {"hub": {"host": host, "protocol": protocol, "pathname": "/ws"}},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas},
    }


_ENCODINGS_NOTE = "\n".join([
    "Every frame is one websocket message, in the encoding the client picks with the websocket subprotocol "
    "(`Sec-WebSocket-Protocol`); all encodings carry the same fields, so the schemas below hold for each:",
    "",
    *(f"- `{e.value}`{' (the default, also with no subprotocol)' if e is Encoding.JSON else ''}: "
      f"{'binary' if e.binary else 'text'} frames, `{e.content_type}`" for e in Encoding),
])


def _ws_binding() -> dict[str, Any]:
    """The `/ws` handshake: a GET whose `Sec-WebSocket-Protocol` names the encoding (docs/protocol.md, "Encodings")."""
    subprotocol = {
        "type": "string",
        "enum": [e.value for e in Encoding],
        "default": Encoding.JSON.value,
        "description": "the encoding; the hub answers with the first one it knows, in the client's order",
    }
    return {"method": "GET", "headers": {"type": "object", "properties": {"Sec-WebSocket-Protocol": subprotocol}},
            "bindingVersion": "0.1.0"}


def _of(names: Mapping[ChannelKind, Mapping[str, str]], kind: ChannelKind) -> Mapping[str, str]:
    return names.get(kind, {})


def _operation(action: str, channel: str, messages: list[str]) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{key}"} for key in messages],
    }
