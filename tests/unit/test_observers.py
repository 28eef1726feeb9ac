"""Observers register for (channel kind, event) and receive the event; no other event reaches them."""

from __future__ import annotations

import logging

import msgspec
import pytest

from channels.events import LeaderboardChanged, VoteCounts, decode_state
from channels.frames import EventFrame
from channels.names import ChannelKind, ChannelName
from hub.metrics import Metrics
from hub.realtime.fanout import Fanout, LogRow
from hub.realtime.incoming import StateRoutes
from hub.realtime.observers import Observers

S = "6f1c2a3b-0000-4000-8000-00000000abcd"
T = "2026-12-04T12:00:00+00:00"


def event(channel: str, name: str, data: bytes = b"{}") -> EventFrame:
    return EventFrame(channel, 1, name, msgspec.Raw(data), T)


def test_a_registered_observer_sees_its_events_structured_and_nothing_else() -> None:
    observers = Observers()
    seen: list[tuple[ChannelName, EventFrame]] = []
    observers.observe(ChannelKind.SESSION, "session.updated", lambda name, frame: seen.append((name, frame)))
    going_live = event(f"session:{S}", "session.updated", b'{"status": "live"}')
    observers.notify(going_live)
    observers.notify(event(f"session:{S}", "chat.message"))  # another event of the kind
    observers.notify(event(f"thread:{S}", "session.updated"))  # the event name on another kind
    observers.notify(event("feed", "post.created"))
    assert seen == [(ChannelName.session(S), going_live)]
    assert msgspec.json.decode(seen[0][1].data) == {"status": "live"}


def test_a_malformed_channel_is_reported_not_raised_into_the_listener(caplog: pytest.LogCaptureFixture) -> None:
    observers = Observers()
    seen: list[EventFrame] = []
    observers.observe(ChannelKind.SESSION, "session.updated", lambda name, frame: seen.append(frame))
    with caplog.at_level(logging.ERROR, logger="hub.realtime"):
        observers.notify(event("session:not-a-uuid", "session.updated"))
    assert seen == []
    assert "malformed channel" in caplog.text


def test_a_failing_observer_is_logged_and_the_next_one_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    observers = Observers()
    seen: list[str] = []

    def broken(name: ChannelName, frame: EventFrame) -> None:
        raise RuntimeError("boom")

    observers.observe(ChannelKind.SESSION, "participant.cancelled", broken)
    observers.observe(ChannelKind.SESSION, "participant.cancelled", lambda name, frame: seen.append(frame.event))
    with caplog.at_level(logging.ERROR, logger="hub.realtime"):
        observers.notify(event(f"session:{S}", "participant.cancelled"))
    assert seen == ["participant.cancelled"] and "observer of participant.cancelled failed" in caplog.text


class _NoLog:
    async def read(self, channel: str, after: int, through: int, limit: int) -> list[LogRow]:
        return []

    async def position(self, channel: str) -> tuple[int, int]:
        return (0, 0)


def test_the_fanout_shows_each_delivered_durable_event_to_its_observers() -> None:
    fanout = Fanout(_NoLog())
    seen: list[EventFrame] = []
    fanout.observers.observe(ChannelKind.USER, "session.promoted", lambda name, frame: seen.append(frame))
    promoted = event(f"user:{S}", "session.promoted")
    fanout.deliver(1, promoted)  # no local subscriber: observers see it all the same
    assert seen == [promoted]


def test_state_notes_go_to_the_one_handler_of_their_type() -> None:
    routes = StateRoutes(Metrics())
    votes: list[VoteCounts] = []
    boards: list[LeaderboardChanged] = []
    routes.route(VoteCounts, votes.append)
    routes.route(LeaderboardChanged, boards.append)
    for payload in (f'{{"k": "votes", "post_id": "{S}", "target_type": "post", "target_id": "{S}", "up": 1, '
                    '"down": 0}',
                    '{"k": "leaderboard", "period": "daily"}',
                    f'{{"k": "question_votes", "session_id": "{S}", "question_id": "{S}", "up": 2}}'):
        note = decode_state(payload)
        assert note is not None
        routes.dispatch(note)  # question votes: nobody routed, ignored
    assert [n.up for n in votes] == [1] and [n.period.value for n in boards] == ["daily"]
