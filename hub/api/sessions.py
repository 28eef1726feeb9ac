"""Live sessions: listing, creation and edits by hosts, and the status transitions.

Answers are `hub.domain.sessions.ViewedSession`, the session as the caller sees it; every change is
announced as `session.updated` (see `hub.domain.sessions` for what the event shows).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, TypeVar
from uuid import UUID

import asyncpg
import msgspec
from litestar import Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from hub.auth import AppServices, Caller, require_host
from hub.domain.notifications import SessionNote, notify_session_audience
from hub.domain.reminders import schedule_reminder
from hub.domain.seats import fill_seats
from hub.domain.sessions import (
    ViewedSession,
    announce_update,
    read_sessions,
    require_hosting,
    time_id_cursor,
    view_for,
)
from hub.errors import CapacityBelowRegistered, NotFound, ValidationFailed
from hub.fields import HttpUrl
from hub.idempotency import IdempotencyKey, create_once
from hub.pagination import CursorQuery, Page, check_limit, page_of
from hub.rules.session_state import Action, next_status, require_editable
from persistence import sessions
from persistence.db import set_identity
from persistence.identity import SERVICE, Identity

T = TypeVar("T")

MAX_DURATION = timedelta(hours=24)

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=5000)]
SessionType = Literal["workshop", "q&a", "presentation"]
SessionStatus = Literal["scheduled", "live", "ended", "cancelled"]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=100_000)]
Tags = Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=50)]], msgspec.Meta(max_length=20)]


class Prerequisites(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    min_level: Annotated[int, msgspec.Meta(ge=1, le=1000)] | msgspec.UnsetType = msgspec.UNSET
    required_lessons: Annotated[list[UUID], msgspec.Meta(max_length=100)] | msgspec.UnsetType = msgspec.UNSET


class SessionIn(msgspec.Struct, forbid_unknown_fields=True):
    """What a host may set; `status`, `host_id` and the counters are server-owned and not accepted."""

    title: Title
    scheduled_at: AwareTime
    duration: timedelta
    description: Description | None = None
    session_type: SessionType = "workshop"
    max_participants: Capacity | None = None
    prerequisites: Prerequisites | None = None
    tags: Tags | None = None
    meeting_url: HttpUrl | None = None
    recording_url: HttpUrl | None = None
    is_recorded: bool = False


class SessionPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields present are changed; `max_participants: null` lifts the limit."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    scheduled_at: AwareTime | msgspec.UnsetType = msgspec.UNSET
    duration: timedelta | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    session_type: SessionType | msgspec.UnsetType = msgspec.UNSET
    max_participants: Capacity | msgspec.UnsetType | None = msgspec.UNSET
    prerequisites: Prerequisites | msgspec.UnsetType | None = msgspec.UNSET
    tags: Tags | msgspec.UnsetType | None = msgspec.UNSET
    meeting_url: HttpUrl | msgspec.UnsetType | None = msgspec.UNSET
    recording_url: HttpUrl | msgspec.UnsetType | None = msgspec.UNSET
    is_recorded: bool | msgspec.UnsetType = msgspec.UNSET


def check_schedule(scheduled_at: datetime | None, duration: timedelta | None, now: float) -> None:
    errors: dict[str, str] = {}
    if scheduled_at is not None and scheduled_at <= datetime.fromtimestamp(now, UTC):
        errors["scheduled_at"] = "must be in the future"
    if duration is not None and not timedelta(0) < duration <= MAX_DURATION:
        errors["duration"] = "must be more than zero and at most 24 hours"
    if errors:
        raise ValidationFailed(errors)


def _unset_to_none(value: T | msgspec.UnsetType) -> T | None:
    return None if isinstance(value, msgspec.UnsetType) else value


@get("/api/sessions", tags=["sessions"])
async def list_sessions(
    user: Caller,
    services: AppServices,
    status: Annotated[SessionStatus | None, QueryParameter()] = None,
    session_type: Annotated[SessionType | None, QueryParameter()] = None,
    scheduled_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
    scheduled_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
    host_id: Annotated[UUID | None, QueryParameter()] = None,
    limit: Annotated[int | None, QueryParameter()] = None,
    cursor: CursorQuery = None,
) -> Page[ViewedSession]:
    """Sessions in `scheduled_at` order (then id), `from <= scheduled_at < to`; keyset-paginated."""
    size = check_limit(limit)
    after = time_id_cursor(cursor)
    async with services.db.transaction(user) as conn:
        ids = await sessions.list_session_ids(
            conn, status=status, session_type=session_type, scheduled_from=scheduled_from,
            scheduled_to=scheduled_to, host_id=host_id, after=after, limit=size + 1)
        found = await read_sessions(conn, user, ids)
    page = page_of(found, size, lambda item: [item[0]["scheduled_at"].isoformat(), str(item[0]["id"])])
    return Page(items=[view_for(user, row, waitlisted) for row, waitlisted in page.items],
                next_cursor=page.next_cursor)


@post("/api/sessions", status_code=201, tags=["sessions"])
async def create_session(data: JSONBody[SessionIn], user: Caller, services: AppServices,
                         idempotency_key: IdempotencyKey) -> Response[ViewedSession]:
    require_host(user)
    prerequisites = msgspec.to_builtins(data.prerequisites) if data.prerequisites is not None else None

    async def create(conn: asyncpg.Connection) -> ViewedSession:
        # Checked here, not before `create_once`: a retry after `scheduled_at` passed still gets its replay.
        check_schedule(data.scheduled_at, data.duration, services.clock())
        session_id = await sessions.insert_session(
            conn, user.require_user_id(), title=data.title, description=data.description,
            session_type=data.session_type, scheduled_at=data.scheduled_at, duration=data.duration,
            max_participants=data.max_participants, meeting_url=data.meeting_url,
            recording_url=data.recording_url, is_recorded=data.is_recorded, prerequisites=prerequisites,
            tags=data.tags)
        [(row, waitlisted)] = await read_sessions(conn, user, [session_id])
        await schedule_reminder(conn, session_id, data.scheduled_at)
        return view_for(user, row, waitlisted)

    return await create_once(services.db, user, idempotency_key, "POST /api/sessions", data, create)


@get("/api/sessions/{session_id:uuid}", tags=["sessions"])
async def get_session(session_id: FromPath[UUID], user: Caller, services: AppServices) -> ViewedSession:
    async with services.db.transaction(user) as conn:
        found = await read_sessions(conn, user, [session_id])
    if not found:
        raise NotFound("Session not found")
    [(row, waitlisted)] = found
    return view_for(user, row, waitlisted)


@patch("/api/sessions/{session_id:uuid}", tags=["sessions"])
async def edit_session(session_id: FromPath[UUID], data: JSONBody[SessionPatch], user: Caller,
                       services: AppServices) -> ViewedSession:
    """Host or admin, while `scheduled`. Raising `max_participants` (or lifting it) promotes waitlisted
    participants into the new seats in the same transaction; a new `scheduled_at` notifies every
    registered and waitlisted user (`session.rescheduled`)."""
    check_schedule(_unset_to_none(data.scheduled_at), _unset_to_none(data.duration), services.clock())
    changes = msgspec.to_builtins(data)
    async with services.db.transaction(user) as conn:
        await require_hosting(conn, user, session_id)
        locked = await sessions.lock_session(conn, session_id)
        if locked is None:
            raise NotFound("Session not found")
        require_editable(locked["status"])
        capacity = changes.get("max_participants")
        if capacity is not None and capacity < locked["current_participants"]:
            raise CapacityBelowRegistered(
                f"{locked['current_participants']} participants hold seats",
                extra={"registered": locked["current_participants"]})
        if not changes:
            [(row, waitlisted)] = await read_sessions(conn, user, [session_id])
            return view_for(user, row, waitlisted)
        # Server-owned from here: the patch reads `meeting_url` (not readable by users) and promotions
        # write participant rows; the lock above proved the caller the host or an admin.
        await set_identity(conn, SERVICE)
        await sessions.patch_session(conn, session_id, changes)
        await fill_seats(conn, session_id)
        starts_at = _unset_to_none(data.scheduled_at)
        if starts_at is not None:
            await schedule_reminder(conn, session_id, starts_at)
        viewed = await announce_update(conn, user, session_id)
        if viewed.scheduled_at != locked["scheduled_at"]:
            await notify_session_audience(conn, session_id, "session.rescheduled", SessionNote(
                session_id=session_id, title=viewed.title, scheduled_at=viewed.scheduled_at,
                previous_scheduled_at=locked["scheduled_at"]))
        return viewed


async def transition(session_id: UUID, action: Action, user: Identity, services: AppServices) -> ViewedSession:
    async with services.db.transaction(user) as conn:
        await require_hosting(conn, user, session_id)
        # `status` is not writable by users (column grants): written as service_role after the check above.
        await set_identity(conn, SERVICE)
        locked = await sessions.lock_session(conn, session_id)
        if locked is None:
            raise NotFound("Session not found")
        target = next_status(locked["status"], action)
        await sessions.set_status(conn, session_id, target)
        if target == "ended":
            await sessions.mark_missed(conn, session_id)
        viewed = await announce_update(conn, user, session_id)
        if target == "cancelled":
            await notify_session_audience(conn, session_id, "session.cancelled", SessionNote(
                session_id=session_id, title=viewed.title, scheduled_at=viewed.scheduled_at))
        return viewed


@post("/api/sessions/{session_id:uuid}/start", status_code=200, tags=["sessions"])
async def start_session(session_id: FromPath[UUID], user: Caller, services: AppServices) -> ViewedSession:
    return await transition(session_id, "start", user, services)


@post("/api/sessions/{session_id:uuid}/end", status_code=200, tags=["sessions"])
async def end_session(session_id: FromPath[UUID], user: Caller, services: AppServices) -> ViewedSession:
    """Registered participants who never joined become `missed`."""
    return await transition(session_id, "end", user, services)


@post("/api/sessions/{session_id:uuid}/cancel", status_code=200, tags=["sessions"])
async def cancel_session(session_id: FromPath[UUID], user: Caller, services: AppServices) -> ViewedSession:
    return await transition(session_id, "cancel", user, services)


ROUTES = [list_sessions, create_session, get_session, edit_session, start_session, end_session, cancel_session]
