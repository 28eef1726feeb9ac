"""The shared deadline timer: each owner called once at (or just after) its latest time, never when cleared."""

from __future__ import annotations

import time

from hub.realtime.deadlines import COMPACT_SLACK, Deadlines
from tests.helpers.eventually import eventually

Calls = list[tuple[str, float]]


class Owner:
    def __init__(self, name: str, calls: list[tuple[str, float]], again_in: float | None = None,
                 deadlines: Deadlines | None = None) -> None:
        self.name, self.calls, self.again_in, self.deadlines = name, calls, again_in, deadlines

    def on_deadline(self) -> None:
        self.calls.append((self.name, time.monotonic()))
        if self.again_in is not None and self.deadlines is not None:
            again, self.again_in = self.again_in, None
            self.deadlines.set(self, time.monotonic() + again)


async def test_owners_are_called_once_in_time_order_at_or_after_their_time() -> None:
    deadlines, calls = Deadlines(), Calls()
    start = time.monotonic()
    owners = {name: Owner(name, calls) for name in "abc"}
    deadlines.set(owners["c"], start + 0.09)
    deadlines.set(owners["a"], start + 0.03)
    deadlines.set(owners["b"], start + 0.06)
    await eventually(lambda: len(calls) == 3)
    assert [name for name, _ in calls] == ["a", "b", "c"]
    assert all(at >= start + offset for (_, at), offset in zip(calls, (0.03, 0.06, 0.09), strict=True))
    assert len(deadlines) == 0


async def test_set_replaces_the_earlier_time_and_clear_cancels() -> None:
    deadlines, calls = Deadlines(), Calls()
    start = time.monotonic()
    moved, cleared = Owner("moved", calls), Owner("cleared", calls)
    deadlines.set(moved, start + 0.02)
    deadlines.set(moved, start + 0.08)
    deadlines.set(cleared, start + 0.04)
    deadlines.clear(cleared)
    # `cleared`, and `moved` at its first time, would both have come up before `moved` at its second.
    await eventually(lambda: len(calls) >= 1)
    assert [name for name, _ in calls] == ["moved"] and calls[0][1] >= start + 0.08, calls


async def test_an_earlier_time_set_later_fires_first_and_a_callback_can_set_its_next_time() -> None:
    deadlines, calls = Deadlines(), Calls()
    start = time.monotonic()
    late = Owner("late", calls)
    early = Owner("early", calls, again_in=0.05, deadlines=deadlines)
    # `late` is far enough out that even a loop stalled for most of a second calls `early` twice before it.
    deadlines.set(late, start + 1.0)
    deadlines.set(early, start + 0.02)
    await eventually(lambda: len(calls) == 3)
    assert [name for name, _ in calls] == ["early", "early", "late"]
    assert calls[1][1] >= calls[0][1] + 0.05 and calls[2][1] >= start + 1.0


async def test_one_failing_callback_does_not_stop_the_others() -> None:
    deadlines, calls = Deadlines(), Calls()

    class Broken:
        def on_deadline(self) -> None:
            raise RuntimeError("boom")

    start = time.monotonic()
    deadlines.set(Broken(), start + 0.01)
    deadlines.set(Owner("fine", calls), start + 0.01)
    await eventually(lambda: len(calls) == 1)
    assert [name for name, _ in calls] == ["fine"]


async def test_cleared_times_do_not_pile_up_in_the_heap_until_they_come_up() -> None:
    deadlines, calls = Deadlines(), Calls()
    far = time.monotonic() + 3600  # a token's lifetime away: without compaction every entry would stay an hour
    keep = Owner("keep", calls)
    deadlines.set(keep, far)
    for n in range(10 * COMPACT_SLACK):
        owner = Owner(str(n), calls)
        deadlines.set(owner, far + n)
        deadlines.clear(owner)
    assert len(deadlines) == 1
    assert len(deadlines._heap) <= 2 * len(deadlines) + COMPACT_SLACK + 1
    deadlines.set(keep, time.monotonic() + 0.01)
    await eventually(lambda: len(calls) == 1)
    assert [name for name, _ in calls] == ["keep"]
