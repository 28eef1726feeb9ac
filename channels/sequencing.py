"""Per-channel ordering: every durable event once, in sequence order, no gaps.

Two users of the same logic:

* a connection's subscription to a durable channel (``since`` + replay + live);
* the instance listener, one per channel it has seen (gap fill after a missed
  notification or a LISTEN reconnect).

:class:`SequenceGate` is the bare verdict (deliver / duplicate / gap).
:class:`Subscription` adds the replay/live boundary: while the log is being read
(replay or gap fill in flight), live events are buffered (bounded) and drained
when the log read completes, skipping duplicates. Ephemeral events (``seq`` null)
do not pass through here; they carry no order promise.

Driving a subscription from the I/O layer::

    sub = Subscription()                 # buffering, position unknown
    fanout.add(channel, sub)             # register BEFORE reading the head, so nothing slips between
    decision = decide_resume(head, trimmed, since)
    step = sub.finish_replay(events_from_log, after=since)   # Replay
    # or sub.finish_replay([], after=head)                     # Live / Reset
    send(step.frames)
    while step.fill:                     # read (fill.after, fill.through] from the log
        step = sub.finish_replay(rows)
        send(step.frames)
    # live: step = sub.offer_live(seq, frame); send(step.frames); handle step.fill the same way
    #       (or first sub.take_next(seq): True means send the frame, nothing else to do)

If a fill's rows do not start at ``fill.after + 1`` the log has been pruned past
it: send ``reset`` and reposition with ``finish_replay([], after=head)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = [
    "DELIVER",
    "DUPLICATE",
    "Deliver",
    "Duplicate",
    "Gap",
    "NeedsFill",
    "SequenceGate",
    "Step",
    "Subscription",
]

F = TypeVar("F")


@dataclass(frozen=True, slots=True)
class Deliver:
    pass


@dataclass(frozen=True, slots=True)
class Duplicate:
    pass


DELIVER = Deliver()
DUPLICATE = Duplicate()


@dataclass(frozen=True, slots=True)
class Gap:
    """Events ``after + 1 .. through`` are missing and must come from the log first."""

    after: int
    through: int


class SequenceGate:
    """Tracks the last delivered sequence of one channel."""

    __slots__ = ("last",)

    def __init__(self, last: int) -> None:
        self.last = last

    def check(self, seq: int) -> Deliver | Duplicate | Gap:
        if seq <= self.last:
            return DUPLICATE
        if seq == self.last + 1:
            return DELIVER
        return Gap(self.last, seq - 1)

    def advance(self, seq: int) -> None:
        """Record that ``seq`` was delivered; it must be the next one."""
        if seq != self.last + 1:
            raise ValueError(f"out of order: last={self.last} seq={seq}")
        self.last = seq

    def skip_to(self, seq: int) -> None:
        """Jump forward (after a ``reset``); never backwards, which would deliver twice."""
        if seq < self.last:
            raise ValueError(f"cannot move back: last={self.last} seq={seq}")
        self.last = seq


@dataclass(frozen=True, slots=True)
class NeedsFill:
    """Read events ``after + 1 .. through`` from the log and pass them to ``finish_replay``."""

    after: int
    through: int


@dataclass(frozen=True, slots=True)
class Step(Generic[F]):
    """Frames to send now, in order; and, if ``fill`` is set, the log read to do next."""

    frames: list[F] = field(default_factory=list)
    fill: NeedsFill | None = None


class Subscription(Generic[F]):
    """One channel's ordered delivery, across replay and live.

    Invariant: the frames returned by all calls, concatenated, are exactly the
    events ``after + 1, after + 2, …`` in order, with no duplicate, provided every
    ``NeedsFill`` is answered from the log. While buffering, at most
    ``max_buffer`` live frames are held; beyond that the highest are dropped and
    re-read from the log later (``NeedsFill``), so memory is bounded and nothing is lost.
    """

    def __init__(self, *, max_buffer: int = 256) -> None:
        if max_buffer < 1:
            raise ValueError("max_buffer must be >= 1")
        self._max_buffer = max_buffer
        self._gate: SequenceGate | None = None
        self._buffering = True
        self._buffer: dict[int, F] = {}
        self._max_seen = -1  # highest live seq seen while buffering, held or dropped

    @property
    def last_seq(self) -> int | None:
        """Last delivered sequence, ``None`` until positioned by ``finish_replay(after=…)``."""
        return None if self._gate is None else self._gate.last

    @property
    def replaying(self) -> bool:
        """True while live events are buffered (a log read is in flight or position unknown)."""
        return self._buffering

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def begin_replay(self) -> None:
        """Start buffering live events, e.g. before a gap fill the I/O layer starts itself."""
        self._buffering = True

    def take_next(self, seq: int) -> bool:
        """The usual live case without a :class:`Step`: True when ``seq`` is the next event and the subscription
        is live, recorded as delivered (send its frame); False when :meth:`offer_live` must decide. The fan-out
        asks this for every subscriber of every event, so it allocates nothing."""
        gate = self._gate
        if self._buffering or gate is None or seq != gate.last + 1:
            return False
        gate.last = seq
        return True

    def offer_live(self, seq: int, frame: F) -> Step[F]:
        """A live event arrived. Deliver it, drop it as a duplicate, or buffer it."""
        gate = self._gate
        if self._buffering or gate is None:
            self._store(seq, frame)
            return Step()
        verdict = gate.check(seq)
        if isinstance(verdict, Deliver):
            gate.advance(seq)
            return Step([frame])
        if isinstance(verdict, Duplicate):
            return Step()
        self._buffering = True
        self._store(seq, frame)
        return Step([], NeedsFill(verdict.after, verdict.through))

    def finish_replay(self, events: Iterable[tuple[int, F]], *, after: int | None = None) -> Step[F]:
        """The log read finished: deliver ``events`` (``(seq, frame)``, ascending), then the buffer.

        ``after`` positions the subscription (the ``since`` of a replay, the head for
        a live start or a reset); it is required the first time and may only move
        forward. Returns a further ``NeedsFill`` while a gap remains.
        """
        if after is not None:
            if self._gate is None:
                self._gate = SequenceGate(after)
            else:
                self._gate.skip_to(after)
        gate = self._gate
        if gate is None:
            raise ValueError("finish_replay needs after= until the subscription is positioned")
        frames: list[F] = []
        for seq, frame in events:
            verdict = gate.check(seq)
            if isinstance(verdict, Deliver):
                gate.advance(seq)
                frames.append(frame)
            elif isinstance(verdict, Gap):
                self._store(seq, frame)
        return self._drain(gate, frames)

    def _drain(self, gate: SequenceGate, frames: list[F]) -> Step[F]:
        for seq in sorted(self._buffer):
            if seq <= gate.last:
                del self._buffer[seq]
            elif seq == gate.last + 1:
                gate.advance(seq)
                frames.append(self._buffer.pop(seq))
            else:
                return Step(frames, NeedsFill(gate.last, seq - 1))
        if self._max_seen > gate.last:
            # Frames were dropped on overflow; the log has them.
            return Step(frames, NeedsFill(gate.last, self._max_seen))
        self._buffering = False
        self._max_seen = -1
        return Step(frames)

    def _store(self, seq: int, frame: F) -> None:
        if (self._gate is not None and seq <= self._gate.last) or seq in self._buffer:
            return
        self._max_seen = max(self._max_seen, seq)
        if len(self._buffer) >= self._max_buffer:
            # Keep the lowest sequences: they go out first; higher ones are re-read.
            highest = max(self._buffer)
            if seq > highest:
                return
            del self._buffer[highest]
        self._buffer[seq] = frame
