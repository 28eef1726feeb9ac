from datetime import UTC, datetime, timedelta

import pytest

from channels.errors import Forbidden, RateLimited
from channels.moderation import LineGate, decide_line
from channels.names import parse_channel

SESSION = parse_channel("session:6f1c2a3b-0000-4000-8000-00000000abcd")
NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


def gate(*, slow: int = 0, locked: bool = False, muted_until: datetime | None = None, kicked: bool = False,
         last_chat_at: datetime | None = None) -> LineGate:
    return LineGate(NOW, slow, locked, muted_until, kicked, last_chat_at)


@pytest.mark.parametrize("kind", ["chat", "question"])
def test_an_unmoderated_room_takes_every_line(kind: str) -> None:
    decide_line(SESSION, kind, gate(last_chat_at=NOW), exempt=False)


@pytest.mark.parametrize("kind", ["chat", "question"])
def test_a_running_mute_refuses_chat_and_questions_naming_its_end(kind: str) -> None:
    until = NOW + timedelta(minutes=5)
    with pytest.raises(Forbidden) as info:
        decide_line(SESSION, kind, gate(muted_until=until), exempt=False)
    assert info.value.details == {"channel": str(SESSION), "until": until}
    decide_line(SESSION, kind, gate(muted_until=NOW), exempt=False)  # ended: over at its end


@pytest.mark.parametrize("kind", ["chat", "question"])
def test_a_kicked_sender_is_refused_naming_the_channel(kind: str) -> None:
    with pytest.raises(Forbidden) as info:
        decide_line(SESSION, kind, gate(kicked=True), exempt=False)
    assert info.value.details == {"channel": str(SESSION)}


def test_the_chat_lock_refuses_chat_but_not_questions() -> None:
    with pytest.raises(Forbidden) as info:
        decide_line(SESSION, "chat", gate(locked=True), exempt=False)
    assert info.value.details == {"channel": str(SESSION), "chat_locked": True}
    decide_line(SESSION, "question", gate(locked=True), exempt=False)


def test_slow_mode_spaces_chat_lines_by_its_seconds_and_says_how_long_to_wait() -> None:
    with pytest.raises(RateLimited) as info:
        decide_line(SESSION, "chat", gate(slow=30, last_chat_at=NOW - timedelta(seconds=12.5)), exempt=False)
    assert info.value.details == {"retry_after": 17.5}
    decide_line(SESSION, "chat", gate(slow=30, last_chat_at=NOW - timedelta(seconds=30)), exempt=False)
    decide_line(SESSION, "chat", gate(slow=30), exempt=False)  # a first line
    decide_line(SESSION, "question", gate(slow=30, last_chat_at=NOW), exempt=False)
    decide_line(SESSION, "chat", gate(slow=0, last_chat_at=NOW), exempt=False)


def test_hosts_and_admins_are_exempt_from_everything() -> None:
    everything = gate(slow=3600, locked=True, muted_until=NOW + timedelta(days=1), kicked=True, last_chat_at=NOW)
    for kind in ("chat", "question"):
        decide_line(SESSION, kind, everything, exempt=True)
