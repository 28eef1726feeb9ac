from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.sequencing import DELIVER, DUPLICATE, Gap, NeedsFill, SequenceGate, Step, Subscription


def ev(seq: int) -> str:
    return f"e{seq}"


def log(after: int, through: int) -> list[tuple[int, str]]:
    return [(s, ev(s)) for s in range(after + 1, through + 1)]


def test_gate_delivers_next_drops_old_and_reports_gaps() -> None:
    gate = SequenceGate(5)
    assert gate.check(6) is DELIVER
    assert gate.check(5) is DUPLICATE
    assert gate.check(1) is DUPLICATE
    assert gate.check(9) == Gap(after=5, through=8)


def test_gate_advance_refuses_skipping_and_skip_to_refuses_going_back() -> None:
    gate = SequenceGate(5)
    gate.advance(6)
    with pytest.raises(ValueError):
        gate.advance(8)
    with pytest.raises(ValueError):
        gate.skip_to(3)
    gate.skip_to(10)
    assert gate.last == 10


def test_live_events_during_replay_are_buffered_then_drained_without_duplicates() -> None:
    sub: Subscription[str] = Subscription()
    assert sub.offer_live(44, ev(44)) == Step()  # head read after this one: it is also in the replay
    assert sub.offer_live(45, ev(45)) == Step()
    step = sub.finish_replay(log(41, 44), after=41)
    assert step == Step([ev(42), ev(43), ev(44), ev(45)])
    assert not sub.replaying
    assert sub.offer_live(46, ev(46)) == Step([ev(46)])
    assert sub.offer_live(46, ev(46)) == Step()


def test_live_start_drops_buffered_events_up_to_the_head() -> None:
    sub: Subscription[str] = Subscription()
    sub.offer_live(10, ev(10))
    sub.offer_live(11, ev(11))
    assert sub.finish_replay([], after=10) == Step([ev(11)])
    assert sub.last_seq == 11


def test_gap_in_live_stream_asks_for_a_fill_and_buffers_until_it_arrives() -> None:
    sub: Subscription[str] = Subscription()
    sub.finish_replay([], after=3)
    assert sub.offer_live(6, ev(6)) == Step([], NeedsFill(after=3, through=5))
    assert sub.offer_live(7, ev(7)) == Step()
    assert sub.finish_replay(log(3, 5)) == Step([ev(4), ev(5), ev(6), ev(7)])


def test_overflowing_buffer_is_refilled_from_the_log_not_lost() -> None:
    sub: Subscription[str] = Subscription(max_buffer=2)
    for seq in (1, 2, 3, 4):
        sub.offer_live(seq, ev(seq))
    assert sub.buffered == 2
    assert sub.finish_replay([], after=0) == Step([ev(1), ev(2)], NeedsFill(after=2, through=4))
    assert sub.finish_replay(log(2, 4)) == Step([ev(3), ev(4)])


def test_take_next_passes_only_the_next_live_event_and_records_it() -> None:
    sub: Subscription[str] = Subscription()
    assert not sub.take_next(1)  # not positioned yet: offer_live buffers it
    sub.finish_replay([], after=3)
    assert sub.take_next(4)
    assert sub.last_seq == 4
    assert not sub.take_next(4)  # a duplicate
    assert not sub.take_next(6)  # a gap: offer_live asks for the fill
    assert sub.offer_live(6, ev(6)) == Step([], NeedsFill(after=4, through=5))
    assert not sub.take_next(7)  # buffering until the fill is answered
    assert sub.last_seq == 4


def test_first_finish_needs_a_position() -> None:
    sub: Subscription[str] = Subscription()
    with pytest.raises(ValueError):
        sub.finish_replay([])


def test_reset_repositions_forward_only() -> None:
    sub: Subscription[str] = Subscription()
    sub.finish_replay([], after=5)
    sub.begin_replay()
    assert sub.finish_replay([], after=9) == Step()
    assert sub.offer_live(10, ev(10)) == Step([ev(10)])
    sub.begin_replay()
    with pytest.raises(ValueError):
        sub.finish_replay([], after=4)


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_replay_live_boundary_delivers_exactly_since_plus_one_to_n_in_order(data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 25), label="n")
    registered_at = data.draw(st.integers(0, n), label="head when registered")
    head = data.draw(st.integers(registered_at, n), label="head read by resume")
    since = data.draw(st.integers(0, head), label="since")
    live_seqs = list(range(registered_at + 1, n + 1))
    arrivals = (
        data.draw(st.lists(st.sampled_from(live_seqs), max_size=3 * len(live_seqs)), label="arrivals")
        if live_seqs
        else []
    )
    finish_at = data.draw(st.integers(0, len(arrivals)), label="finish at")
    sub: Subscription[str] = Subscription(max_buffer=data.draw(st.integers(1, 6), label="max buffer"))
    expected = [ev(s) for s in range(since + 1, n + 1)]
    out: list[str] = []
    fills: deque[NeedsFill] = deque()

    def run(step: Step[str]) -> None:
        out.extend(step.frames)
        if step.fill is not None:
            fills.append(step.fill)
        assert len(fills) <= 1, "at most one log read in flight"
        assert out == expected[: len(out)], "output is always a prefix of since+1..n"

    def answer() -> None:
        fill = fills.popleft()
        run(sub.finish_replay(log(fill.after, fill.through)))

    def offer(seq: int) -> Step[str]:
        # As the fan-out does, sometimes: the allocation-free check first, the full decision only when it says no.
        if data.draw(st.booleans(), label="take_next first") and sub.take_next(seq):
            return Step([ev(seq)])
        return sub.offer_live(seq, ev(seq))

    for i, seq in enumerate(arrivals):
        if i == finish_at:
            run(sub.finish_replay(log(since, head), after=since))
        run(offer(seq))
        if len(fills) > 0 and data.draw(st.booleans(), label="answer fill now"):
            answer()
    if finish_at == len(arrivals):
        run(sub.finish_replay(log(since, head), after=since))
    while fills:
        answer()
    # No lag: everything up to the newest event seen (log or live) is out once the log reads are done.
    newest = max([head, *arrivals])
    assert out == [ev(s) for s in range(since + 1, newest + 1)]
    # The newest event eventually arrives live (or is noticed by the listener).
    run(offer(n))
    while fills:
        answer()
    assert out == expected
    assert not sub.replaying
