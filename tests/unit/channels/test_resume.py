import pytest

from channels.errors import FrameError
from channels.resume import Live, Replay, Reset, decide_resume


def test_without_since_goes_live_after_the_head() -> None:
    assert decide_resume(head=44, trimmed_seq=10, since=None) == Live(from_seq=45)


def test_since_within_the_log_replays_after_since_through_head() -> None:
    assert decide_resume(head=44, trimmed_seq=10, since=41) == Replay(after=41, through=44)
    assert decide_resume(head=44, trimmed_seq=10, since=44) == Replay(after=44, through=44)


def test_since_equal_to_trimmed_seq_is_still_replayable() -> None:
    # events <= 10 are gone, 11.. remain: a client at 10 misses nothing.
    assert decide_resume(head=44, trimmed_seq=10, since=10) == Replay(after=10, through=44)


def test_since_older_than_the_log_resets_with_history_expired() -> None:
    assert decide_resume(head=44, trimmed_seq=10, since=9) == Reset(head=44, reason="history_expired")


def test_fresh_channel_replays_from_zero() -> None:
    assert decide_resume(head=0, trimmed_seq=0, since=0) == Replay(after=0, through=0)


def test_since_ahead_of_the_channel_is_bad_frame() -> None:
    with pytest.raises(FrameError) as info:
        decide_resume(head=44, trimmed_seq=10, since=45)
    assert info.value.details is not None
    assert info.value.details["message"] == "since is ahead of the channel"


def test_negative_since_is_bad_frame() -> None:
    with pytest.raises(FrameError):
        decide_resume(head=44, trimmed_seq=0, since=-1)


def test_inconsistent_head_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        decide_resume(head=5, trimmed_seq=6, since=None)
