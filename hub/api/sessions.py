"""Live sessions: listing, creation and edits by hosts, and the status transitions.

The session view is the one JSON shape of a session, for REST and for the `session.updated` event on
`session:<id>`. `meeting_url` is shown only to the host, admins and seat holders; the event carries the
view as a participant without a seat sees it (`meeting_url` null), because the channel's log is replayed
to whoever subscribes later. Seat holders read the link through `GET /api/sessions/{id}`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import asyncpg
import msgspec
from litestar import Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from channels.names import ChannelName
from hub.auth import AppServices, Caller, require_host
from hub.errors import CapacityBelowRegistered, Forbidden, NotFound, ValidationFailed
from hub.fields import HttpUrl
from hub.idempotency import IdempotencyKey, create_once
from hub.pagination import Aware, CursorQuery, Page, check_limit, cursor_key, page_of
from hub.rules.session_state import Action, admitted, may_host, next_status, require_editable, seats_free
from persistence import sessions
from persistence.db import set_identity
from persistence.events import append_event
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


def channel_of(session_id: UUID) -> str:
    return str(ChannelName.session(session_id))


def session_view(row: asyncpg.Record, waitlist_count: int, *, show_meeting_url: bool) -> dict[str, Any]:
    """A `persistence.sessions.session_rows` row as the API shows it."""
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "host_id": row["host_id"],
        "host": {"id": row["host_id"], "full_name": row["host_full_name"], "avatar_url": row["host_avatar_url"]},
        "session_type": row["session_type"],
        "scheduled_at": row["scheduled_at"],
        "duration": row["duration"],
        "max_participants": row["max_participants"],
        "current_participants": row["current_participants"],
        "waitlist_count": waitlist_count,
        "meeting_url": row["meeting_url"] if show_meeting_url else None,
        "recording_url": row["recording_url"],
        "is_recorded": row["is_recorded"],
        "status": row["status"],
        "prerequisites": row["prerequisites"],
        "tags": row["tags"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def participant_view(row: asyncpg.Record) -> dict[str, Any]:
    """A `persistence.sessions.participant` row: the REST registration and the `participant.*` events."""
    return {
        "session_id": row["session_id"],
        "user_id": row["user_id"],
        "user": {"id": row["user_id"], "full_name": row["full_name"]},
        "attendance_status": row["attendance_status"],
        "waitlist_position": row["waitlist_position"],
        "joined_at": row["joined_at"],
        "left_at": row["left_at"],
        "created_at": row["created_at"],
    }


async def read_sessions(conn: asyncpg.Connection, viewer: Identity,
                        session_ids: list[UUID]) -> list[tuple[asyncpg.Record, int]]:
    """(row, waitlist count) per session. The rows are read as the current role; the counts need
    `service_role` (other users' participant rows are hidden), so the transaction is left in it."""
    rows = await sessions.session_rows(conn, session_ids, viewer.user_id)
    await set_identity(conn, SERVICE)
    counts = await sessions.status_counts(conn, session_ids)
    return [(row, counts[row["id"]]["waitlisted"]) for row in rows]


def view_for(viewer: Identity, row: asyncpg.Record, waitlist_count: int) -> dict[str, Any]:
    """The session as `viewer` sees it over REST: the shared view plus the viewer's own
    `my_status` (registered, waitlisted, … or null), which events cannot carry."""
    hosts = may_host(viewer.user_id, row["host_id"], viewer.is_admin)
    view = session_view(row, waitlist_count, show_meeting_url=admitted(hosts, row["my_status"]))
    view["my_status"] = row["my_status"]
    return view


async def announce_update(conn: asyncpg.Connection, viewer: Identity, session_id: UUID) -> dict[str, Any]:
    """Appends `session.updated` and returns the session as `viewer` sees it."""
    [(row, waitlisted)] = await read_sessions(conn, viewer, [session_id])
    await append_event(conn, channel_of(session_id), "session.updated",
                       session_view(row, waitlisted, show_meeting_url=False))
    return view_for(viewer, row, waitlisted)


async def fill_seats(conn: asyncpg.Connection, session_id: UUID) -> None:
    """Promotes waitlisted participants (FIFO) into the seats now free, each with `participant.promoted`
    on the session and `session.promoted` `{session, participant}` on their own `user:<id>`. Runs as
    `service_role` with the session locked."""
    locked = await sessions.lock_session(conn, session_id)
    if locked is None:
        return
    waiting = (await sessions.status_counts(conn, [session_id]))[session_id]["waitlisted"]
    free = seats_free(locked["current_participants"], locked["max_participants"], waiting)
    if free == 0:
        return
    promoted = await sessions.promote_waitlisted(conn, session_id, free)
    [(row, waitlisted)] = await read_sessions(conn, SERVICE, [session_id])
    seat_holder_view = session_view(row, waitlisted, show_meeting_url=True)
    for user_id in promoted:
        participant = await sessions.participant(conn, session_id, user_id)
        assert participant is not None  # promoted under the lock held by this transaction
        view = participant_view(participant)
        await append_event(conn, channel_of(session_id), "participant.promoted", view)
        await append_event(conn, str(ChannelName.user(user_id)), "session.promoted",
                           {"session": seat_holder_view, "participant": view})


def check_schedule(scheduled_at: datetime | None, duration: timedelta | None, now: float) -> None:
    errors: dict[str, str] = {}
    if scheduled_at is not None and scheduled_at <= datetime.fromtimestamp(now, UTC):
        errors["scheduled_at"] = "must be in the future"
    if duration is not None and not timedelta(0) < duration <= MAX_DURATION:
        errors["duration"] = "must be more than zero and at most 24 hours"
    if errors:
        raise ValidationFailed(errors)


def time_id_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    return cursor_key(cursor, tuple[Aware, UUID])


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
) -> Page[dict[str, Any]]:
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
                         idempotency_key: IdempotencyKey) -> Response[Any]:
    require_host(user)
    prerequisites = msgspec.to_builtins(data.prerequisites) if data.prerequisites is not None else None

    async def create(conn: asyncpg.Connection) -> dict[str, Any]:
        # Checked here, not before `create_once`: a retry after `scheduled_at` passed still gets its replay.
        check_schedule(data.scheduled_at, data.duration, services.clock())
        session_id = await sessions.insert_session(
            conn, user.require_user_id(), title=data.title, description=data.description,
            session_type=data.session_type, scheduled_at=data.scheduled_at, duration=data.duration,
            max_participants=data.max_participants, meeting_url=data.meeting_url,
            recording_url=data.recording_url, is_recorded=data.is_recorded, prerequisites=prerequisites,
            tags=data.tags)
        [(row, waitlisted)] = await read_sessions(conn, user, [session_id])
        return view_for(user, row, waitlisted)

    return await create_once(services.db, user, idempotency_key, "POST /api/sessions", data, create)


@get("/api/sessions/{session_id:uuid}", tags=["sessions"])
async def get_session(session_id: FromPath[UUID], user: Caller, services: AppServices) -> dict[str, Any]:
    async with services.db.transaction(user) as conn:
        found = await read_sessions(conn, user, [session_id])
    if not found:
        raise NotFound("Session not found")
    [(row, waitlisted)] = found
    return view_for(user, row, waitlisted)


async def require_hosting(conn: asyncpg.Connection, user: Identity, session_id: UUID) -> None:
    """404 for a missing session, 403 unless the caller is its host or an admin."""
    facts = await sessions.channel_facts(conn, session_id, user.user_id)
    if facts is None:
        raise NotFound("Session not found")
    if not may_host(user.user_id, facts["host_id"], user.is_admin):
        raise Forbidden("Only the session's host or an admin may do this")


@patch("/api/sessions/{session_id:uuid}", tags=["sessions"])
async def edit_session(session_id: FromPath[UUID], data: JSONBody[SessionPatch], user: Caller,
                       services: AppServices) -> dict[str, Any]:
    """Host or admin, while `scheduled`. Raising `max_participants` (or lifting it) promotes waitlisted
    participants into the new seats in the same transaction."""
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
        return await announce_update(conn, user, session_id)


async def transition(session_id: UUID, action: Action, user: Identity, services: AppServices) -> dict[str, Any]:
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
        return await announce_update(conn, user, session_id)


@post("/api/sessions/{session_id:uuid}/start", status_code=200, tags=["sessions"])
async def start_session(session_id: FromPath[UUID], user: Caller, services: AppServices) -> dict[str, Any]:
    return await transition(session_id, "start", user, services)


@post("/api/sessions/{session_id:uuid}/end", status_code=200, tags=["sessions"])
async def end_session(session_id: FromPath[UUID], user: Caller, services: AppServices) -> dict[str, Any]:
    """Registered participants who never joined become `missed`."""
    return await transition(session_id, "end", user, services)


@post("/api/sessions/{session_id:uuid}/cancel", status_code=200, tags=["sessions"])
async def cancel_session(session_id: FromPath[UUID], user: Caller, services: AppServices) -> dict[str, Any]:
    return await transition(session_id, "cancel", user, services)


ROUTES = [list_sessions, create_session, get_session, edit_session, start_session, end_session, cancel_session]
