"""The listener decodes each notification once as it arrives; an unreadable one is logged and skipped."""

from __future__ import annotations

import logging

import pytest

from channels.events import LeaderboardChanged, StateNote
from channels.names import LeaderboardPeriod
from hub.realtime.fanout import Fanout, LogRow
from hub.realtime.listener import EVENTS_CHANNEL, STATE_CHANNEL, Listener


class _NoLog:
    async def read(self, channel: str, after: int, through: int, limit: int) -> list[LogRow]:
        return []

    async def position(self, channel: str) -> tuple[int, int]:
        return (0, 0)


def listener(states: list[StateNote]) -> Listener:
    log = _NoLog()
    return Listener("postgresql://unused", Fanout(log), log, states.append)


async def test_an_unreadable_event_notification_is_logged_and_not_queued(caplog: pytest.LogCaptureFixture) -> None:
    states: list[StateNote] = []
    lst = listener(states)
    with caplog.at_level(logging.ERROR, logger="channels.events"):
        lst._on_event(None, 1, EVENTS_CHANNEL, '{"c": "feed"')
    assert len(lst._pending) == 0 and "unreadable event notification" in caplog.text
    lst._on_event(None, 1, EVENTS_CHANNEL, '{"c": "feed", "s": 4}')
    assert [(note.channel, note.seq) for note in lst._pending] == [("feed", 4)]


async def test_state_notes_reach_on_state_decoded_and_unreadable_ones_do_not(
        caplog: pytest.LogCaptureFixture) -> None:
    states: list[StateNote] = []
    lst = listener(states)
    with caplog.at_level(logging.ERROR, logger="channels.events"):
        lst._on_state_note(None, 1, STATE_CHANNEL, '{"k": "mystery"}')
        lst._on_state_note(None, 1, STATE_CHANNEL, "garbage")
    assert states == [] and caplog.text.count("unreadable state notification") == 2
    lst._on_state_note(None, 1, STATE_CHANNEL, '{"k": "leaderboard", "period": "monthly"}')
    assert states == [LeaderboardChanged(LeaderboardPeriod.MONTHLY)]
