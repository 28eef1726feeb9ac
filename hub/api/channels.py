"""`GET /api/channels/{channel}/events`: the durable log behind a websocket channel.

Authorization is the websocket `subscribe`'s (`channels.access.decide_subscribe` on the same facts),
so history is never looser than live delivery. Protocol errors map to REST: `unknown_channel` → 422
`unknown_channel`, `forbidden` → 403, `not_found` → 404. State channels (`votes:`, `leaderboard:`) have
no log: 404. `since` older than the retained log → 409 `history_expired` with `head` (the websocket
sends `reset`); `since` ahead of the head → 422.

On `feed` and `thread:` the events of authors the caller blocks are left out, as the feed and thread
REST reads leave their posts and comments out; `next_since` still follows the log, so a page can be
short. Content hidden pending review is gone from the log itself (migration 0028).
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import get
from litestar.params import FromPath, FromQuery

from channels.access import decide_subscribe
from channels.errors import Forbidden as ForbiddenChannel
from channels.errors import NotFound as ChannelNotFound
from channels.errors import UnknownChannel as UnknownChannelName
from channels.names import ChannelKind, ChannelName, parse_channel
from hub.auth import AppServices, Caller
from hub.errors import Forbidden, HistoryExpired, NotFound, UnknownChannel, ValidationFailed
from hub.realtime.facts import viewer_of
from persistence import blocks, events
from persistence.channel_facts import channel_facts
from persistence.identity import SERVICE

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class HistoryItem(msgspec.Struct):
    seq: int
    event: str
    data: msgspec.Raw  # the stored JSON, passed through unparsed
    ts: datetime


class History(msgspec.Struct):
    items: list[HistoryItem]
    head: int
    next_since: int | None  # pass as `since` for the next page; null when this page reached the head


def _channel(text: str) -> ChannelName:
    try:
        name = parse_channel(text)
    except UnknownChannelName:
        raise UnknownChannel(f"{text[:200]!r} is not a channel name") from None
    if not name.is_durable:
        raise NotFound("State channels have no event log; subscribe for a snapshot")
    return name


@get("/api/channels/{channel:str}/events", tags=["realtime"])
async def channel_events(channel: FromPath[str], user: Caller, services: AppServices,
                         since: FromQuery[int] = 0, limit: FromQuery[int | None] = None) -> History:
    name = _channel(channel)
    count = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= count <= MAX_LIMIT:
        raise ValidationFailed({"limit": f"must be between 1 and {MAX_LIMIT}"})
    if since < 0:
        raise ValidationFailed({"since": "must be >= 0"})
    async with services.db.transaction(SERVICE) as conn:
        facts = await channel_facts(conn, name, user.require_user_id())
        try:
            decide_subscribe(name, viewer_of(user), facts)
        except ForbiddenChannel:
            raise Forbidden("You may not read this channel") from None
        except ChannelNotFound:
            raise NotFound("No such post or session") from None
        head, trimmed = await events.channel_position(conn, str(name))
        if since > head:
            raise ValidationFailed({"since": f"is ahead of the channel (head {head})"})
        if since < trimmed:
            raise HistoryExpired(head, trimmed)
        rows = await events.events_after_raw(conn, str(name), since, head, count)
        blocked = await blocks.blocked_by(conn, user.require_user_id()) \
            if name.kind in (ChannelKind.FEED, ChannelKind.THREAD) else set()
    last = rows[-1]["seq"] if rows else since
    items = [HistoryItem(r["seq"], r["event"], msgspec.Raw(r["data_json"].encode()), r["created_at"]) for r in rows
             if not blocked or _author(r["data_json"]) not in blocked]
    return History(items, head, last if last < head else None)


class _Authored(msgspec.Struct):
    author_id: str | None = None


def _author(data_json: str) -> str | None:
    return msgspec.json.decode(data_json, type=_Authored).author_id


ROUTES = [channel_events]
