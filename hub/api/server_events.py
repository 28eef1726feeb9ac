"""`POST /api/admin/channels/{channel}/events`: a backend (the `HUB_SERVICE_KEY`) or an admin appends a durable
event to a channel's log, delivered to its subscribers like any event the hub appends (the listener fans it
out; resume and the history route replay it).

Only channels with a log take one (`feed`, `thread:`, `session:`, `user:`): `votes:` and `leaderboard:` carry
state, not events, so they answer 409 `conflict`. A name the hub itself sends on that kind
(`channels.event_names`) is refused, so no backend can forge a `post.deleted` clients act on. Every publish is
audited in its transaction: an admin's with its actor, the service key's with none.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Request, Response, post
from litestar.params import FromPath, JSONBody

from channels.errors import UnknownChannel as UnknownChannelName
from channels.event_names import SERVER_EVENT_PATTERN, is_reserved
from channels.names import ChannelName, parse_channel
from hub.auth import SERVICE_KEY_OWNER, AppServices, admin_or_service_key, publisher_of
from hub.budgets import SERVER_PUBLISHES, spend
from hub.errors import Conflict, UnknownChannel, ValidationFailed
from hub.idempotency import IdempotencyKey, create_once
from persistence import audit
from persistence.events import append_event

# The data of one event: well within PostgreSQL's notification payload (larger events are sent by key and
# read back from the log, one query per instance).
MAX_DATA_BYTES = 8192

_encoder = msgspec.json.Encoder()


class ServerEventIn(msgspec.Struct, forbid_unknown_fields=True):
    event: Annotated[str, msgspec.Meta(pattern=SERVER_EVENT_PATTERN)]
    data: dict[str, Any]


class ServerEvent(msgspec.Struct):
    channel: str
    seq: int
    event: str


def _channel(text: str) -> ChannelName:
    try:
        name = parse_channel(text)
    except UnknownChannelName:
        raise UnknownChannel(f"{text[:200]!r} is not a channel name") from None
    if not name.is_durable:
        raise Conflict(f"{name.kind.value}: channels carry state, not events")
    return name


@post("/api/admin/channels/{channel:str}/events", status_code=201, tags=["admin"],
      guards=[admin_or_service_key])
async def publish_server_event(channel: FromPath[str], data: JSONBody[ServerEventIn], request: Request[Any, Any, Any],
                               services: AppServices, idempotency_key: IdempotencyKey = None) -> Response[ServerEvent]:
    """Appends `{event, data}` to the channel's log and answers its `seq`. The same `Idempotency-Key` with the
    same body answers the first result without appending again."""
    publisher = publisher_of(request)
    name = _channel(channel)
    if is_reserved(name.kind, data.event):
        raise ValidationFailed({"event": f"is an event the hub sends on {name.kind.value} channels"})
    if len(_encoder.encode(data.data)) > MAX_DATA_BYTES:
        raise ValidationFailed({"data": f"must encode to at most {MAX_DATA_BYTES} bytes of JSON"})
    owner = SERVICE_KEY_OWNER if publisher.user_id is None else publisher.user_id

    async def create(conn: asyncpg.Connection) -> ServerEvent:
        seq = await append_event(conn, name, data.event, data.data)
        await audit.record(conn, actor_id=publisher.user_id, action="channel.event", target_type="channel",
                           target_id=str(name), reason=None, details={"event": data.event, "seq": seq})
        return ServerEvent(channel=str(name), seq=seq, event=data.event)

    # The channel is part of the route: one key may name one event on each channel.
    return await create_once(services.db, publisher, idempotency_key, f"POST /api/admin/channels/{name}/events",
                             data, create, owner=owner, charge=partial(spend, services, SERVER_PUBLISHES, str(owner)))


ROUTES = [publish_server_event]
