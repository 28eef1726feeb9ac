"""Seats of a live session: the participant view, promotion from the waitlist, and feedback.

Seats are never oversold: every writer of participant rows holds the session's row lock
(`persistence.sessions.lock_session`), so `current_participants` (trigger-kept) is exact when read.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from channels.names import ChannelName
from hub.domain.notifications import SessionNote, notify
from hub.domain.sessions import SessionView, read_sessions, session_view
from hub.rules.session_state import seats_free
from persistence import sessions
from persistence.events import append_event
from persistence.identity import SERVICE


class ParticipantUser(msgspec.Struct):
    id: UUID
    full_name: str | None


class ParticipantView(msgspec.Struct):
    """A registration: the REST answer and the data of the `participant.*` events."""

    session_id: UUID
    user_id: UUID
    user: ParticipantUser
    attendance_status: str
    waitlist_position: int | None
    joined_at: datetime | None
    left_at: datetime | None
    created_at: datetime


class SessionPromoted(msgspec.Struct):
    """`session.promoted` on the promoted user's own channel: the session as a seat holder sees it."""

    session: SessionView
    participant: ParticipantView


class StatusCounts(msgspec.Struct):
    """Participants of a session per attendance status."""

    registered: int
    waitlisted: int
    attended: int
    missed: int


class ParticipantPage(msgspec.Struct):
    """The participant list as the host and admins see it: everyone grouped by status, FIFO within it."""

    items: list[ParticipantView]
    next_cursor: str | None
    counts: StatusCounts


class FeedbackView(msgspec.Struct):
    session_id: UUID
    user_id: UUID
    rating: int
    text: str | None


def participant_view(row: asyncpg.Record) -> ParticipantView:
    """A `persistence.sessions.participant` row."""
    return ParticipantView(
        session_id=row["session_id"],
        user_id=row["user_id"],
        user=ParticipantUser(id=row["user_id"], full_name=row["full_name"]),
        attendance_status=row["attendance_status"],
        waitlist_position=row["waitlist_position"],
        joined_at=row["joined_at"],
        left_at=row["left_at"],
        created_at=row["created_at"],
    )


async def fill_seats(conn: asyncpg.Connection, session_id: UUID) -> None:
    """Promotes waitlisted participants (FIFO) into the seats now free, each with `participant.promoted`
    on the session, `session.promoted` `{session, participant}` on their own `user:<id>` and a
    `session.promoted` notification. Runs as
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
        await append_event(conn, ChannelName.session(session_id), "participant.promoted", view)
        await append_event(conn, ChannelName.user(user_id), "session.promoted",
                           SessionPromoted(session=seat_holder_view, participant=view))
        await notify(conn, user_id, "session.promoted", SessionNote(
            session_id=session_id, title=seat_holder_view.title, scheduled_at=seat_holder_view.scheduled_at))
