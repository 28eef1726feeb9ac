import pytest

from channels.errors import UnknownChannel
from channels.names import ChannelKind, ChannelName, parse_channel

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
