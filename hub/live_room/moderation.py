"""Room moderation on `session:<id>`: the host's and admins' durable publishes, and their enforcement.

`channels.access.decide_publish` has already refused these publishes to anyone but the session's host and
admins (`forbidden`). Each is one transaction as `service_role` that takes the session's row lock
(`persistence.sessions.lock_session`), refuses with `session_not_live` unless the session is scheduled or
live, changes the room's rows (`persistence.session_room`, migration 0021) and appends its event
(`hub.domain.room_moderation`). Replies carry the event's data and its `seq`, null when nothing changed
(unmuting someone not muted, kicking someone already kicked, setting the mode the room already has):

* `participant.mute {user_id, minutes}` → `participant.muted {user_id, until}`; the host cannot be muted
  (`forbidden`), anyone without a registration cannot (`not_found`). A new mute replaces a running one.
* `participant.unmute {user_id}` → `participant.unmuted {user_id}`.
* `participant.kick {user_id}` → `participant.kicked {user_id}`: the registration is deleted (as a cancel
  does, attendance included: a kicked participant attended nothing), a freed seat goes to the waitlist
  (`participant.promoted`), the kick is kept so the participant cannot register again, and every instance
  revokes their subscriptions when it sees the event (`hub.live_room.revocation`).
* `room.slow_mode {seconds}` → `room.slow_mode {seconds}`; `room.lock_chat {locked}` → `room.chat_locked {locked}`.

Enforcement (`check_line`) runs inside the transaction that stores a participant's chat line or question,
after that transaction took the same session lock (`hub.live_room.publishes`): the moderation state it
reads is exactly the state at the line's place in the channel's order, on every instance, and slow mode's
spacing reads the sender's last stored chat line under the lock, so concurrent lines of one sender on any
number of instances are spaced by the database's clock (`channels.moderation.decide_line`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from channels.errors import Forbidden, NotFound, SessionNotLive
from channels.moderation import LineGate, decide_line
from hub.domain.room_moderation import ChatLocked, Muted, ParticipantRef, SlowMode
from hub.domain.seats import fill_seats
from hub.realtime.publish import PublishContext, PublishHandler
from persistence import session_room, sessions
from persistence.db import set_identity
from persistence.events import append_event
from persistence.identity import SERVICE

__all__ = ["HANDLERS", "check_line"]

# Moderation is set up before a session starts as well as during it; an ended room is history.
_OPEN = ("scheduled", "live")


def _exempt(ctx: PublishContext) -> bool:
    return ctx.identity.is_admin or ctx.facts.host_id == str(ctx.identity.require_user_id())


async def check_line(conn: asyncpg.Connection, ctx: PublishContext, session_id: UUID, kind: str) -> None:
    """Refuses a participant's `kind` line (`chat`, `question`) or question `vote` that the room's
    moderation forbids now. A mute silences the participant's whole say in the room, votes included (a vote
    moves a question up the host's list); the chat lock and slow mode hold chat lines only. The caller
    holds the session's row lock (`persistence.session_room.lock_status`)."""
    if _exempt(ctx):
        return
    gate = await session_room.line_gate(conn, session_id, ctx.identity.require_user_id())
    decide_line(ctx.channel, kind, LineGate(**dict(gate)), exempt=False)


async def _open(conn: asyncpg.Connection, ctx: PublishContext) -> tuple[UUID, UUID]:
    """Switches to `service_role` and locks the session row; (session id, host id)."""
    session_id = UUID(ctx.channel.key)
    await set_identity(conn, SERVICE)
    locked = await sessions.lock_session(conn, session_id)
    if locked is None:
        raise NotFound(details={"channel": str(ctx.channel)})
    if locked["status"] not in _OPEN:
        raise SessionNotLive(f"the session is {locked['status']}", {"channel": str(ctx.channel)})
    return session_id, locked["host_id"]


def _target(ctx: PublishContext, host_id: UUID) -> UUID:
    user_id = UUID(ctx.payload.user_id)
    if user_id == host_id:
        raise Forbidden("the host cannot be muted or kicked", {"user_id": ctx.payload.user_id})
    return user_id


async def _require_registered(conn: asyncpg.Connection, ctx: PublishContext, session_id: UUID,
                              user_id: UUID) -> None:
    if await sessions.participant(conn, session_id, user_id) is None:
        raise NotFound("no such participant", {"user_id": ctx.payload.user_id})


def _reply(seq: int | None, data: msgspec.Struct) -> dict[str, Any]:
    return {"seq": seq, **msgspec.structs.asdict(data)}


async def mute(ctx: PublishContext) -> dict[str, Any]:
    async with ctx.services.db.transaction(ctx.identity) as conn:
        session_id, host_id = await _open(conn, ctx)
        user_id = _target(ctx, host_id)
        await _require_registered(conn, ctx, session_id, user_id)
        until = await session_room.mute(conn, session_id, user_id, ctx.payload.minutes)
        muted = Muted(user_id=user_id, until=until)
        seq = await append_event(conn, ctx.channel, "participant.muted", muted)
    return _reply(seq, muted)


async def unmute(ctx: PublishContext) -> dict[str, Any]:
    async with ctx.services.db.transaction(ctx.identity) as conn:
        session_id, _ = await _open(conn, ctx)
        unmuted = ParticipantRef(user_id=UUID(ctx.payload.user_id))
        seq = None
        if await session_room.unmute(conn, session_id, unmuted.user_id):
            seq = await append_event(conn, ctx.channel, "participant.unmuted", unmuted)
    return _reply(seq, unmuted)


async def kick(ctx: PublishContext) -> dict[str, Any]:
    async with ctx.services.db.transaction(ctx.identity) as conn:
        session_id, host_id = await _open(conn, ctx)
        kicked = ParticipantRef(user_id=_target(ctx, host_id))
        if await session_room.is_kicked(conn, session_id, kicked.user_id):
            return _reply(None, kicked)
        await _require_registered(conn, ctx, session_id, kicked.user_id)
        await sessions.delete_participant(conn, session_id, kicked.user_id)
        await session_room.kick(conn, session_id, kicked.user_id)
        seq = await append_event(conn, ctx.channel, "participant.kicked", kicked)
        await fill_seats(conn, session_id)
    return _reply(seq, kicked)


async def slow_mode(ctx: PublishContext) -> dict[str, Any]:
    mode = SlowMode(seconds=ctx.payload.seconds)
    return await _change_room(ctx, "room.slow_mode", mode, lambda _seconds, locked: (mode.seconds, locked))


async def lock_chat(ctx: PublishContext) -> dict[str, Any]:
    state = ChatLocked(locked=ctx.payload.locked)
    return await _change_room(ctx, "room.chat_locked", state, lambda seconds, _locked: (seconds, state.locked))


async def _change_room(ctx: PublishContext, event: str, data: SlowMode | ChatLocked,
                       settings_after: Callable[[int, bool], tuple[int, bool]]) -> dict[str, Any]:
    """Stores the room's (slow mode seconds, chat locked) as `settings_after` makes them of the current ones and
    appends `event` with `data`; a setting the room already has changes nothing (`seq` null)."""
    async with ctx.services.db.transaction(ctx.identity) as conn:
        session_id, _ = await _open(conn, ctx)
        seconds, locked = await session_room.room_settings(conn, session_id)
        after = settings_after(seconds, locked)
        seq = None
        if after != (seconds, locked):
            await session_room.store_room_settings(conn, session_id, *after)
            seq = await append_event(conn, ctx.channel, event, data)
    return _reply(seq, data)


# (publish event → handler), merged into the live room's `RoomExtension.publish_handlers`.
HANDLERS: dict[str, PublishHandler] = {
    "participant.mute": mute,
    "participant.unmute": unmute,
    "participant.kick": kick,
    "room.slow_mode": slow_mode,
    "room.lock_chat": lock_chat,
}
