from collections.abc import Callable
from uuid import UUID

import pytest

from channels.errors import UnknownChannel
from channels.names import ChannelKind, ChannelName, LeaderboardPeriod, parse_channel

U = "6f1c2a3b-0000-4000-8000-00000000abcd"


@pytest.mark.parametrize(
    ("text", "kind", "key"),
    [
        ("feed", ChannelKind.FEED, None),
        (f"thread:{U}", ChannelKind.THREAD, U),
        (f"votes:{U}", ChannelKind.VOTES, U),
        (f"session:{U}", ChannelKind.SESSION, U),
        (f"user:{U}", ChannelKind.USER, U),
        ("leaderboard:daily", ChannelKind.LEADERBOARD, "daily"),
        ("leaderboard:all_time", ChannelKind.LEADERBOARD, "all_time"),
    ],
)
def test_valid_names_parse_and_round_trip(text: str, kind: ChannelKind, key: str | None) -> None:
    name = parse_channel(text)
    assert name == ChannelName(kind, key)
    assert str(name) == text


def test_uuid_is_canonicalised_to_lower_case() -> None:
    assert str(parse_channel(f"thread:{U.upper()}")) == f"thread:{U}"
    assert parse_channel(f"thread:{U.upper()}") == parse_channel(f"thread:{U}")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Feed",
        "feed:",
        " feed",
        "feed\n",
        f"thread:{U}\n",
        f"thread:{U}:x",
        f"thread: {U}",
        f"thread:{U[:-1]}",
        f"thread:{U.replace('-', '')}",
        f"thread:{{{U}}}",
        f"urn:uuid:{U}",
        f"THREAD:{U}",
        f"post:{U}",
        "thread:",
        "leaderboard:yearly",
        "leaderboard:Daily",
        "leaderboard:",
        f"thread:{U[:-1]}\uff10",  # fullwidth zero
        f"thread:{U[:-1]}\u0660",  # Arabic-Indic zero
        f"thread:{U}\u200b",  # zero-width space
        "feed" + "x" * 300,
    ],
)
def test_malformed_names_are_unknown_channel(text: str) -> None:
    with pytest.raises(UnknownChannel) as info:
        parse_channel(text)
    assert info.value.code == "unknown_channel"


def test_kind_properties_follow_the_channel_table() -> None:
    durable = {k for k in ChannelKind if k.is_durable}
    state = {k for k in ChannelKind if k.is_state}
    assert durable == {ChannelKind.FEED, ChannelKind.THREAD, ChannelKind.SESSION, ChannelKind.USER}
    assert state == {ChannelKind.VOTES, ChannelKind.LEADERBOARD}
    assert [k for k in ChannelKind if k.has_presence] == [ChannelKind.SESSION]
    assert parse_channel(f"session:{U}").has_presence


V = "0a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"


@pytest.mark.parametrize(("built", "text"), [
    (ChannelName.feed(), "feed"),
    (ChannelName.thread(UUID(U)), f"thread:{U}"),
    (ChannelName.votes(U), f"votes:{U}"),
    (ChannelName.session(UUID(V)), f"session:{V}"),
    (ChannelName.user(V.upper()), f"user:{V}"),
    (ChannelName.leaderboard("weekly"), "leaderboard:weekly"),
    (ChannelName.leaderboard(LeaderboardPeriod.ALL_TIME), "leaderboard:all_time"),
])
def test_constructors_build_the_canonical_name_parse_channel_reads_back(built: ChannelName, text: str) -> None:
    assert str(built) == text
    assert parse_channel(str(built)) == built


@pytest.mark.parametrize("build", [
    lambda: ChannelName.thread("not-a-uuid"),
    lambda: ChannelName.user(f"{U}\n"),
    lambda: ChannelName.session(""),
    lambda: ChannelName.leaderboard("hourly"),
])
def test_constructors_refuse_what_is_not_a_channel_key(build: Callable[[], ChannelName]) -> None:
    with pytest.raises(ValueError):
        build()
