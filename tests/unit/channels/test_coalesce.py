import pytest

from channels.coalesce import Coalescer


def test_first_value_after_quiet_goes_out_immediately() -> None:
    c: Coalescer[str, int] = Coalescer(window=0.1)
    c.offer("post", 1, now=10.0)
    assert c.next_deadline() == 10.0
    assert c.due(10.0) == [("post", 1)]
    assert c.next_deadline() is None


def test_storm_within_a_window_emits_only_the_latest_value_once_per_window() -> None:
    c: Coalescer[str, int] = Coalescer(window=0.1)
    c.offer("post", 1, now=10.0)
    assert c.due(10.0) == [("post", 1)]
    for i, t in enumerate((10.01, 10.02, 10.05), start=2):
        c.offer("post", i, now=t)
    assert c.next_deadline() == pytest.approx(10.1)
    assert c.due(10.09) == []
    assert c.due(10.1) == [("post", 4)]
    c.offer("post", 5, now=10.15)
    assert c.due(10.19) == []
    assert c.due(10.2) == [("post", 5)]


def test_window_counts_from_the_actual_emit_time() -> None:
    c: Coalescer[str, int] = Coalescer(window=0.1)
    c.offer("k", 1, now=0.0)
    assert c.due(0.05) == [("k", 1)]  # emitted late, at 0.05
    c.offer("k", 2, now=0.06)
    assert c.next_deadline() == pytest.approx(0.15)


def test_keys_are_independent_and_due_in_deadline_order() -> None:
    c: Coalescer[str, int] = Coalescer(window=0.1)
    c.offer("a", 1, now=0.0)
    assert c.due(0.0) == [("a", 1)]
    c.offer("a", 2, now=0.01)  # due 0.1
    c.offer("b", 1, now=0.02)  # quiet key: due 0.02
    assert c.due(0.2) == [("b", 1), ("a", 2)]


def test_quiet_keys_are_forgotten_so_memory_follows_activity() -> None:
    c: Coalescer[int, int] = Coalescer(window=0.1)
    for k in range(100):
        c.offer(k, k, now=0.0)
    assert len(c.due(0.0)) == 100
    c.due(0.2)
    assert c._slots == {}


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Coalescer(window=0)
