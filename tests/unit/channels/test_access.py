import pytest

from channels.access import ChannelFacts, Role, Viewer, decide_publish, decide_subscribe
from channels.errors import Forbidden, NotFound, SessionNotLive
from channels.names import parse_channel
from channels.publishes import check_publish

SID = "6f1c2a3b-0000-4000-8000-00000000abcd"
ME = "11111111-1111-4111-8111-111111111111"
HOST = "22222222-2222-4222-8222-222222222222"
OTHER = "33333333-3333-4333-8333-333333333333"
SESSION = parse_channel(f"session:{SID}")
me = Viewer(ME)
admin = Viewer(OTHER, frozenset({Role.ADMIN}))
host = Viewer(HOST, frozenset({Role.HOST}))
other_host = Viewer(OTHER, frozenset({Role.HOST}))


def facts(status: str | None = None, session: str = "live", exists: bool = True) -> ChannelFacts:
    return ChannelFacts(exists=exists, host_id=HOST, attendance_status=status, session_status=session)


@pytest.mark.parametrize("name", ["feed", "leaderboard:weekly", f"thread:{SID}", f"votes:{SID}"])
def test_public_channels_admit_any_authenticated_viewer(name: str) -> None:
    decide_subscribe(parse_channel(name), me, ChannelFacts())


@pytest.mark.parametrize("name", [f"thread:{SID}", f"votes:{SID}"])
def test_thread_and_votes_of_a_missing_post_are_not_found(name: str) -> None:
    with pytest.raises(NotFound):
        decide_subscribe(parse_channel(name), me, ChannelFacts(exists=False))


@pytest.mark.parametrize("name", [f"thread:{SID}", f"votes:{SID}"])
def test_the_thread_of_a_post_hidden_pending_review_is_its_authors_and_admins_only(name: str) -> None:
    hidden = ChannelFacts(hidden_author_id=ME)
    decide_subscribe(parse_channel(name), me, hidden)
    decide_subscribe(parse_channel(name), admin, hidden)
    with pytest.raises(NotFound):
        decide_subscribe(parse_channel(name), host, hidden)


def test_user_channel_admits_only_that_user_even_against_admins() -> None:
    decide_subscribe(parse_channel(f"user:{ME}"), me, ChannelFacts())
    with pytest.raises(Forbidden):
        decide_subscribe(parse_channel(f"user:{ME}"), admin, ChannelFacts())
    with pytest.raises(Forbidden):
        decide_subscribe(parse_channel(f"user:{OTHER}"), me, ChannelFacts())


@pytest.mark.parametrize(
    ("viewer", "status", "allowed"),
    [
        (host, None, True),
        (admin, None, True),
        (me, "registered", True),
        (me, "attended", True),
        (me, "waitlisted", False),
        (me, "missed", False),
        (me, None, False),
        (other_host, None, False),
    ],
)
def test_session_admits_host_admins_and_registered_participants(
    viewer: Viewer, status: str | None, allowed: bool
) -> None:
    if allowed:
        decide_subscribe(SESSION, viewer, facts(status))
    else:
        with pytest.raises(Forbidden):
            decide_subscribe(SESSION, viewer, facts(status))


def test_missing_session_is_not_found() -> None:
    with pytest.raises(NotFound):
        decide_subscribe(SESSION, me, facts("registered", exists=False))


def test_chat_requires_a_live_session() -> None:
    rule = check_publish(SESSION, "chat.message")
    decide_publish(SESSION, rule, me, facts("registered", "live"))
    with pytest.raises(SessionNotLive):
        decide_publish(SESSION, rule, me, facts("registered", "scheduled"))


def test_host_only_events_refuse_participants() -> None:
    rule = check_publish(SESSION, "announcement")
    decide_publish(SESSION, rule, host, facts())
    decide_publish(SESSION, rule, admin, facts())
    with pytest.raises(Forbidden):
        decide_publish(SESSION, rule, me, facts("registered"))


def test_lowering_someone_elses_hand_is_host_only() -> None:
    rule = check_publish(SESSION, "hand.lower")
    decide_publish(SESSION, rule, me, facts("registered"), target_user_id=ME)
    decide_publish(SESSION, rule, host, facts(), target_user_id=ME)
    with pytest.raises(Forbidden):
        decide_publish(SESSION, rule, me, facts("registered"), target_user_id=OTHER)


def test_publishing_needs_membership_first() -> None:
    with pytest.raises(Forbidden):
        decide_publish(SESSION, check_publish(SESSION, "reaction"), me, facts("waitlisted"))
