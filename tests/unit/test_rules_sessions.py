"""The session state machine, seat and admission rules, and registration prerequisites, with literals."""

from __future__ import annotations

from uuid import UUID

import pytest

from hub.errors import (
    AlreadyAttended,
    FeedbackNotAllowed,
    Forbidden,
    InvalidTransition,
    PlanRequired,
    PrerequisitesNotMet,
    SessionClosed,
)
from hub.rules.prerequisites import require_met
from hub.rules.session_state import (
    Action,
    admitted,
    may_host,
    next_status,
    require_cancellable,
    require_editable,
    require_feedback_allowed,
    require_open,
    seat_for,
    seats_free,
)

HOST = UUID("00000000-0000-0000-0000-00000000000a")
OTHER = UUID("00000000-0000-0000-0000-00000000000b")
LESSON_A = "11111111-1111-1111-1111-111111111111"
LESSON_B = "22222222-2222-2222-2222-222222222222"


@pytest.mark.parametrize(("current", "action", "target"), [
    ("scheduled", "start", "live"),
    ("live", "end", "ended"),
    ("scheduled", "cancel", "cancelled"),
])
def test_the_three_allowed_transitions_lead_forward(current: str, action: Action, target: str) -> None:
    assert next_status(current, action) == target


@pytest.mark.parametrize(("current", "action"), [
    ("scheduled", "end"), ("live", "start"), ("live", "cancel"),
    ("ended", "start"), ("ended", "end"), ("ended", "cancel"),
    ("cancelled", "start"), ("cancelled", "end"), ("cancelled", "cancel"),
])
def test_every_other_transition_is_invalid(current: str, action: Action) -> None:
    with pytest.raises(InvalidTransition):
        next_status(current, action)


def test_only_scheduled_sessions_are_editable() -> None:
    require_editable("scheduled")
    for status in ("live", "ended", "cancelled"):
        with pytest.raises(InvalidTransition):
            require_editable(status)


def test_registrations_are_open_while_scheduled_or_live_only() -> None:
    require_open("scheduled")
    require_open("live")
    for status in ("ended", "cancelled"):
        with pytest.raises(SessionClosed):
            require_open(status)


def test_registrations_and_waitlist_places_cancel_but_an_attendance_does_not() -> None:
    require_cancellable("registered")
    require_cancellable("waitlisted")
    with pytest.raises(AlreadyAttended):
        require_cancellable("attended")


def test_a_seat_is_given_while_one_is_free_and_unlimited_sessions_never_wait() -> None:
    assert seat_for(0, 1) == "registered"
    assert seat_for(49, 50) == "registered"
    assert seat_for(50, 50) == "waitlisted"
    assert seat_for(10_000, None) == "registered"


def test_promotions_fill_exactly_the_free_seats_and_never_more_than_wait() -> None:
    assert seats_free(49, 50, 10) == 1
    assert seats_free(50, 50, 10) == 0
    assert seats_free(40, 50, 3) == 3
    assert seats_free(60, 50, 3) == 0
    assert seats_free(5, None, 7) == 7


def test_host_routes_belong_to_the_host_and_admins() -> None:
    assert may_host(HOST, HOST, is_admin=False)
    assert may_host(OTHER, HOST, is_admin=True)
    assert not may_host(OTHER, HOST, is_admin=False)
    assert not may_host(None, HOST, is_admin=False)


def test_the_room_admits_hosts_and_seat_holders_but_not_the_waitlist() -> None:
    assert admitted(True, None)
    assert admitted(False, "registered")
    assert admitted(False, "attended")
    for status in ("waitlisted", "missed", None):
        assert not admitted(False, status)


def test_feedback_needs_an_ended_session_then_an_attendee() -> None:
    require_feedback_allowed("ended", "attended")
    for status in ("scheduled", "live", "cancelled"):
        with pytest.raises(FeedbackNotAllowed):
            require_feedback_allowed(status, "attended")
    for attendance in ("registered", "missed", "waitlisted", None):
        with pytest.raises(Forbidden):
            require_feedback_allowed("ended", attendance)


def test_no_prerequisites_admit_everyone() -> None:
    require_met(None, plan_limit=1, current_level=1, completed_lessons=set())
    require_met({}, plan_limit=1, current_level=1, completed_lessons=set())


def test_the_plan_is_checked_before_level_and_lessons() -> None:
    with pytest.raises(PlanRequired) as caught:
        require_met({"min_level": 3, "required_lessons": [LESSON_A]}, plan_limit=2, current_level=1,
                    completed_lessons=set())
    assert caught.value.extra == {"required_level": 3, "level_access_limit": 2}


def test_missing_lists_exactly_the_unmet_prerequisites() -> None:
    prerequisites = {"min_level": 3, "required_lessons": [LESSON_A, LESSON_B]}
    with pytest.raises(PrerequisitesNotMet) as caught:
        require_met(prerequisites, plan_limit=5, current_level=2, completed_lessons={LESSON_B})
    assert caught.value.extra == {"missing": {"min_level": 3, "required_lessons": [LESSON_A]}, "current_level": 2}
    with pytest.raises(PrerequisitesNotMet) as caught:
        require_met(prerequisites, plan_limit=5, current_level=3, completed_lessons=set())
    assert caught.value.extra["missing"] == {"required_lessons": [LESSON_A, LESSON_B]}
    require_met(prerequisites, plan_limit=3, current_level=3, completed_lessons={LESSON_A, LESSON_B})
