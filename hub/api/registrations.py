"""Registration for live sessions, the participant list and feedback.

Seats are never oversold: a registration counts the seats and inserts its row while holding the
session's row lock (`persistence.sessions.lock_session`), so registrations for one session are
serialised and `current_participants` (trigger-kept) is exact when read. Waitlist order is FIFO by
(created_at, id), with `created_at` taken under that lock; positions are computed when read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Response, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from channels.names import ChannelName
from hub.auth import AppServices, Caller, require_verified
from hub.domain.seats import (
    FeedbackView,
    ParticipantPage,
    ParticipantView,
    StatusCounts,
    fill_seats,
    participant_view,
)
from hub.errors import AlreadyDone, Forbidden, NotFound, ValidationFailed
from hub.idempotency import IdempotencyKey, create_once
from hub.pagination import Aware, CursorQuery, CursorText, check_limit, cursor_key, page_of
from hub.rules.prerequisites import require_met, required_lessons
from hub.rules.session_state import (
    may_host,
    require_cancellable,
    require_feedback_allowed,
    require_open,
    seat_for,
)
from persistence import profiles, session_room, sessions
from persistence.db import set_identity
from persistence.events import append_event
from persistence.identity import SERVICE
from persistence.plans import level_access_limit

_STATUSES = ("attended", "missed", "registered", "waitlisted")


class FeedbackIn(msgspec.Struct, forbid_unknown_fields=True):
    rating: Annotated[int, msgspec.Meta(ge=1, le=5)]
    text: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


async def check_prerequisites(conn: asyncpg.Connection, user_id: UUID, prerequisites: dict[str, Any] | None,
                              free_tier_level: int) -> None:
    """402 `plan_required` / 409 `prerequisites_not_met`; read as the user (own plan, level, progress)."""
    if not prerequisites:
        return
    profile = await profiles.own_profile(conn, user_id)
    require_met(
        prerequisites,
        plan_limit=await level_access_limit(conn, user_id, free_tier_level),
        current_level=profile["current_level"] if profile else 1,
        completed_lessons=await sessions.completed_lessons(conn, user_id, required_lessons(prerequisites)),
    )


@post("/api/sessions/{session_id:uuid}/registration", status_code=HTTP_201_CREATED, tags=["sessions"])
async def register(session_id: FromPath[UUID], user: Caller, services: AppServices) -> Response[ParticipantView]:
    """201 with the new participant row (`registered` while seats remain, else `waitlisted`); 200 with the
    existing row when the caller is already registered or waitlisted; 403 `forbidden` for a participant the
    host kicked from the session's room (`hub.live_room.moderation`).

    Whether the caller is new is decided under the session lock: a cancel of the same user may commit
    between the first read and the lock, so the unlocked read only decides whether to check the rules early
    (outside the lock) and the locked read decides what happens."""
    require_verified(services, user)
    user_id = user.require_user_id()
    async with services.db.transaction(user) as conn:
        found = await sessions.session_rows(conn, [session_id], user_id)
        if not found:
            raise NotFound("Session not found")
        [session] = found
        checked = session["my_status"] is None
        if checked:
            require_open(session["status"])
            await check_prerequisites(conn, user_id, session["prerequisites"], services.settings.free_tier_level)
        await set_identity(conn, SERVICE)  # participant rows are server-owned
        locked = await sessions.lock_session(conn, session_id)
        if locked is None:
            raise NotFound("Session not found")
        row = await sessions.participant(conn, session_id, user_id)
        if row is not None:
            return Response(participant_view(row), status_code=HTTP_200_OK)
        require_open(locked["status"])  # it may have moved on while we checked prerequisites
        if await session_room.is_kicked(conn, session_id, user_id):
            raise Forbidden("You were removed from this session's room by its host")
        if not checked:  # registered at the first read, cancelled before the lock: a newcomer after all
            await set_identity(conn, user)
            await check_prerequisites(conn, user_id, session["prerequisites"], services.settings.free_tier_level)
            await set_identity(conn, SERVICE)
        seat = seat_for(locked["current_participants"], locked["max_participants"])
        # Every writer of participant rows holds the session lock, so the row read above is still absent.
        row = await sessions.insert_participant(conn, session_id, user_id, seat)
        view = participant_view(row)
        await append_event(conn, ChannelName.session(session_id), f"participant.{row['attendance_status']}", view)
    return Response(view, status_code=HTTP_201_CREATED)


@delete("/api/sessions/{session_id:uuid}/registration", status_code=HTTP_204_NO_CONTENT, tags=["sessions"])
async def cancel_registration(session_id: FromPath[UUID], user: Caller, services: AppServices) -> None:
    """Deletes the caller's row (the schema has no `cancelled` status) and, when that freed a seat,
    promotes the first waitlisted participant in the same transaction. 409 `already_attended` once the
    caller joined the live session: attendance is history (achievements count it), never deleted."""
    user_id = user.require_user_id()
    async with services.db.transaction(user) as conn:
        if await sessions.channel_facts(conn, session_id, user_id) is None:
            raise NotFound("Session not found")
        await set_identity(conn, SERVICE)  # participant rows are server-owned
        locked = await sessions.lock_session(conn, session_id)
        row = await sessions.participant(conn, session_id, user_id)
        if locked is None or row is None:
            raise NotFound("You are not registered for this session")
        require_open(locked["status"])
        require_cancellable(row["attendance_status"])
        await sessions.delete_participant(conn, session_id, user_id)
        await append_event(conn, ChannelName.session(session_id), "participant.cancelled", participant_view(row))
        await fill_seats(conn, session_id)


def _participants_cursor(cursor: str | None) -> tuple[str, datetime, UUID] | None:
    key = cursor_key(cursor, tuple[CursorText, Aware, UUID])
    if key is not None and key[0] not in _STATUSES:
        raise ValidationFailed({"cursor": "is not a cursor this route issued"})
    return key


@get("/api/sessions/{session_id:uuid}/participants", tags=["sessions"])
async def participants(
    session_id: FromPath[UUID],
    user: Caller,
    services: AppServices,
    limit: Annotated[int | None, QueryParameter()] = None,
    cursor: CursorQuery = None,
) -> ParticipantPage | StatusCounts:
    """Host and admins: `{items, next_cursor, counts}`, everyone grouped by status, FIFO within it.
    Anyone else: the counts only, `{registered, waitlisted, attended, missed}`."""
    size = check_limit(limit)
    after = _participants_cursor(cursor)
    async with services.db.transaction(user) as conn:
        facts = await sessions.channel_facts(conn, session_id, user.user_id)
        if facts is None:
            raise NotFound("Session not found")
        hosts = may_host(user.user_id, facts["host_id"], user.is_admin)
        rows = await sessions.participants_page(conn, session_id, after, size + 1) if hosts else []
        await set_identity(conn, SERVICE)  # counts are public, the rows behind them are not
        counts = (await sessions.status_counts(conn, [session_id]))[session_id]
    status_counts = StatusCounts(**counts)
    if not hosts:
        return status_counts
    page = page_of(rows, size, lambda row: [row["attendance_status"], row["created_at"].isoformat(), str(row["id"])])
    return ParticipantPage(items=[participant_view(row) for row in page.items], next_cursor=page.next_cursor,
                           counts=status_counts)


@post("/api/sessions/{session_id:uuid}/feedback", status_code=HTTP_201_CREATED, tags=["sessions"])
async def give_feedback(session_id: FromPath[UUID], data: JSONBody[FeedbackIn], user: Caller,
                        services: AppServices, idempotency_key: IdempotencyKey) -> Response[FeedbackView]:
    """Once per attendee, after the session ended: 409 `feedback_not_allowed` before that, 403 for
    anyone who did not attend, 409 `already_done` for a second submission."""
    user_id = user.require_user_id()

    async def create(conn: asyncpg.Connection) -> FeedbackView:
        facts = await sessions.channel_facts(conn, session_id, user_id)
        if facts is None:
            raise NotFound("Session not found")
        require_feedback_allowed(facts["status"], facts["attendance_status"])
        await set_identity(conn, SERVICE)  # participant rows are server-owned
        row = await sessions.record_feedback(conn, session_id, user_id, data.rating, data.text)
        if row is None:
            raise AlreadyDone("Feedback was already given")
        return FeedbackView(**dict(row))

    return await create_once(services.db, user, idempotency_key, f"POST /api/sessions/{session_id}/feedback", data,
                             create)


ROUTES = [register, cancel_registration, participants, give_feedback]
