"""The live-session state machine and the seat rule, decided without I/O.

Statuses move only forward: `scheduled → live → ended`, or `scheduled → cancelled`. Everything else
(restarting an ended session, cancelling a live one, ending a scheduled one) is `InvalidTransition`.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from hub.errors import AlreadyAttended, FeedbackNotAllowed, Forbidden, InvalidTransition, SessionClosed

Status = Literal["scheduled", "live", "ended", "cancelled"]
Action = Literal["start", "end", "cancel"]
Seat = Literal["registered", "waitlisted"]

_TRANSITIONS: dict[tuple[str, str], Status] = {
    ("scheduled", "start"): "live",
    ("live", "end"): "ended",
    ("scheduled", "cancel"): "cancelled",
}

# Statuses in which a participant row holds one of the `max_participants` seats.
SEAT_HOLDING = ("registered", "attended")


def next_status(current: str, action: Action) -> Status:
    """The status `action` leads to from `current`; `InvalidTransition` when the machine has no such edge."""
    target = _TRANSITIONS.get((current, action))
    if target is None:
        raise InvalidTransition(f"cannot {action} a session that is {current}")
    return target


def require_editable(current: str) -> None:
    """Hosts edit a session only before it starts; afterwards its facts are history."""
    if current != "scheduled":
        raise InvalidTransition(f"a session that is {current} can no longer be edited")


def require_open(current: str) -> None:
    """Registrations (and their cancellations) are accepted while the session is scheduled or live."""
    if current not in ("scheduled", "live"):
        raise SessionClosed(f"the session is {current}")


def require_cancellable(attendance_status: str) -> None:
    """Only a registration or a waitlist place can be cancelled: once the participant joined the live
    session the row records an attendance (`sessions_attended` achievements count it), which stays."""
    if attendance_status == "attended":
        raise AlreadyAttended()


def seat_for(seats_taken: int, max_participants: int | None) -> Seat:
    """A newcomer gets a seat while one is free (no limit when `max_participants` is None), else waits.
    Callers count `seats_taken` under the session's row lock, so two newcomers never see the same free seat."""
    if max_participants is None or seats_taken < max_participants:
        return "registered"
    return "waitlisted"


def seats_free(seats_taken: int, max_participants: int | None, waiting: int) -> int:
    """How many waitlisted participants can be promoted now: at most everyone waiting."""
    if max_participants is None:
        return waiting
    return max(0, min(waiting, max_participants - seats_taken))


def may_host(user_id: UUID | None, host_id: UUID, is_admin: bool) -> bool:
    """Host routes belong to the session's host and to admins."""
    return is_admin or user_id == host_id


def admitted(hosts: bool, attendance_status: str | None) -> bool:
    """Whom the `session:<id>` channel admits: the host and admins (`hosts`) and seat holders, never the
    waitlist. They alone see the meeting link and the message history."""
    return hosts or attendance_status in SEAT_HOLDING


def require_feedback_allowed(status: str, attendance_status: str | None) -> None:
    """Feedback comes after the session ended (409 before), from someone who attended it (403 otherwise)."""
    if status != "ended":
        raise FeedbackNotAllowed(f"the session is {status}")
    if attendance_status != "attended":
        raise Forbidden("only attendees give feedback")
