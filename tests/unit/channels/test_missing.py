import pytest

from channels.missing import MissingIds


def test_an_id_found_missing_is_remembered_for_the_ttl_only() -> None:
    missing = MissingIds(ttl_s=2.0, max_entries=10)
    assert not missing.is_missing(("post", "a"), 0.0)
    missing.add(("post", "a"), 0.0)
    assert missing.is_missing(("post", "a"), 1.99)
    assert not missing.is_missing(("session", "a"), 1.0)  # posts and sessions are told apart
    assert not missing.is_missing(("post", "a"), 2.0)
    assert len(missing) == 0  # an expired entry is dropped when looked at


def test_at_most_max_entries_are_kept_and_the_least_recently_used_goes_first() -> None:
    missing = MissingIds(ttl_s=60.0, max_entries=2)
    missing.add("a", 0.0)
    missing.add("b", 0.0)
    assert missing.is_missing("a", 1.0)  # "a" used: "b" is now the oldest
    missing.add("c", 1.0)
    assert len(missing) == 2
    assert (missing.is_missing("a", 2.0), missing.is_missing("b", 2.0), missing.is_missing("c", 2.0)) == (
        True, False, True)


def test_a_zero_ttl_remembers_nothing() -> None:
    missing = MissingIds(ttl_s=0.0, max_entries=5)
    missing.add("a", 0.0)
    assert not missing.is_missing("a", 0.0)


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        MissingIds(ttl_s=-1.0, max_entries=5)
    with pytest.raises(ValueError):
        MissingIds(ttl_s=1.0, max_entries=0)
