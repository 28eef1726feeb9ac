"""Per-instance fan-out: channel → local subscribers, each behind a bounded send queue.

Every frame is one :class:`~channels.frames.OutFrame` per event (made by the listener,
the broker or the state channels), and the same object is queued on every subscriber's
:class:`Outbox`: its JSON and websocket bytes are built once, by the first send.
A frame that finds a connection's outbox idle is written at once by the pusher;
a backlog is drained by one writer task per connection, started only while there
is one (see :class:`Outbox`), so nothing a slow client does can slow the others:
a live frame that finds a full outbox closes that connection (4008) instead of
waiting or growing memory.

Durable channels go through the subscriber's :class:`~channels.sequencing.Subscription`
(replay/live boundary, duplicates, gaps); ephemeral and state frames bypass it.
Worst-case memory per connection: ``limit`` queued frames, plus, per replaying
subscription, ``limit // 4`` buffered live frames (frames are shared references),
plus what the socket buffers: up to one batch (``WRITE_BATCH_BYTES``) past the
transport's high-water mark, as private bytes.

Each live durable event is then shown to the :class:`~hub.realtime.observers.Observers`
registered for its channel kind and event.
"""

from __future__ import annotations

import asyncio
import logging
import random
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Iterable
from typing import Any, Protocol

from channels.frames import EventFrame, OutFrame, encode_reset
from channels.resume import HISTORY_EXPIRED
from channels.sequencing import NeedsFill, Subscription
from hub.realtime.observers import Observers

__all__ = ["WRITE_BATCH", "WRITE_BATCH_BYTES", "EventLog", "Fanout", "LogRow", "Outbox", "Subscriber"]

log = logging.getLogger("hub.fanout")
# Jitter from a generator of its own: the `random` module's shared state is not this module's to move.
_JITTER = random.Random()

# Frames a writer hands to a batch send at most: a backlog leaves in few socket writes (each one syscall, and
# the kernel packs the frames into full segments). The size cap (the transport's default high-water mark) keeps
# what one write can put past flow control near what a single frame could.
WRITE_BATCH = 64
WRITE_BATCH_BYTES = 64 * 1024

# (seq, event frame) of one durable event.
LogRow = tuple[int, EventFrame]


class EventLog(Protocol):
    """Read side of the durable log, as the fan-out and the listener need it."""

    async def read(self, channel: str, after: int, through: int, limit: int) -> list[LogRow]:
        """Retained events with ``after < seq <= through``, ascending, at most ``limit``."""
        ...

    async def position(self, channel: str) -> tuple[int, int]:
        """``(head, trimmed_seq)`` of the channel; ``(0, 0)`` when it never had an event."""
        ...


class Outbox:
    """One connection's send queue, with a writer that runs only while there is a backlog.

    :meth:`push` (live frames) never waits: at ``limit`` queued frames the queue
    is dropped, the outbox closes and ``on_overflow`` is called once. Replays use
    :meth:`wait_room` then :meth:`push_replay`, so a long resume waits for the
    client instead of overflowing. :meth:`close` lets the writer send what is
    queued and then stop; :meth:`abort` drops it.

    Once attached (:meth:`attach`), a frame pushed while nothing is queued or in
    flight is sent at once, inside :meth:`push`: the send coroutine is stepped by
    hand and, when the socket takes the frame without waiting (the usual case), it
    costs no task at all, as ``websockets.broadcast`` writes. Only when a send has
    to wait (socket buffer full) or frames queue behind one is ``start_writer``
    called, once, to run :meth:`drain` in a task: it finishes the waiting send,
    sends the queue in order and returns when the queue is empty, so an idle
    connection holds no writer task. A send that fails is raised by :meth:`drain`.

    Idle cost is a few pointers: the queue and the waiters are created on first use.
    """

    __slots__ = ("_closed", "_failed", "_frames", "_inflight", "_on_overflow", "_room", "_send", "_send_batch",
                 "_start_writer", "_write_now", "_writing", "limit", "overflowed")

    def __init__(self, limit: int, on_overflow: Callable[[], None]) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self.overflowed = False
        self._on_overflow = on_overflow
        self._frames: deque[OutFrame] | None = None
        self._closed = False
        self._room: asyncio.Future[None] | None = None  # a replay waits on it in wait_room()
        self._send: Callable[[OutFrame], Coroutine[Any, Any, None]] | None = None
        self._send_batch: Callable[[list[OutFrame]], Coroutine[Any, Any, None]] | None = None
        self._start_writer: Callable[[], None] | None = None
        self._write_now: Callable[[OutFrame], bool] | None = None
        self._writing = False  # a writer was started and has not returned from drain() yet
        self._inflight: tuple[Coroutine[Any, Any, None], Any] | None = None  # a send that has to wait
        self._failed: BaseException | None = None

    def __len__(self) -> int:
        return len(self._frames) if self._frames is not None else 0

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def writing(self) -> bool:
        """A writer is (or is about to be) running :meth:`drain`."""
        return self._writing

    def attach(self, send: Callable[[OutFrame], Coroutine[Any, Any, None]], start_writer: Callable[[], None],
               send_batch: Callable[[list[OutFrame]], Coroutine[Any, Any, None]] | None = None,
               write_now: Callable[[OutFrame], bool] | None = None) -> None:
        """Send frames with ``send``; ``start_writer`` must run :meth:`drain` in a task of its own. With
        ``send_batch``, the writer hands it up to ``WRITE_BATCH`` queued frames at once (one socket write).
        ``write_now``, when given, is tried first for a frame sent at once: True when it wrote the frame without
        waiting, False to go through ``send`` (no coroutine to create and step on the fan-out's hot path)."""
        self._send = send
        self._send_batch = send_batch
        self._write_now = write_now
        self._start_writer = start_writer
        if self._frames:
            self._need_writer()

    def push(self, frame: OutFrame, *, direct: bool = True) -> None:
        """Queue ``frame``, or with ``direct`` send it at once when nothing is queued or in flight."""
        if self._closed:
            return
        if direct and not self._writing and self._send is not None:
            if self._write_now is None or not self._write_now(frame):
                self._send_now(self._send, frame)
            return
        frames = self._frames
        if frames is None:
            frames = self._frames = deque()
        if len(frames) >= self.limit:
            self.overflowed = True
            self.abort()
            self._on_overflow()
            return
        frames.append(frame)
        self._need_writer()

    def push_replay(self, frames: Iterable[OutFrame]) -> None:
        """Queue frames whose room was reserved with :meth:`wait_room` (never overflows)."""
        if self._closed:
            return
        if self._frames is None:
            self._frames = deque()
        self._frames.extend(frames)
        if self._frames:
            self._need_writer()

    async def wait_room(self, n: int) -> None:
        """Wait until ``n`` more frames fit under ``limit`` (an empty queue when ``n >= limit``)."""
        target = max(self.limit - n, 0)
        while not self._closed and len(self) > target:
            if self._room is None:
                self._room = asyncio.get_running_loop().create_future()
            await self._room

    async def drain(self) -> None:
        """The writer's body: finish a waiting send, send the queue in order, return once it is empty.

        Raises what a send raised. Only the task ``start_writer`` started calls this.
        """
        send = self._send
        if send is None:
            raise RuntimeError("drain() before attach()")
        try:
            while True:
                if self._inflight is not None:
                    coro, waiting = self._inflight
                    try:
                        await _finish(coro, waiting)
                    finally:
                        self._inflight = None
                if self._failed is not None:
                    failed, self._failed = self._failed, None
                    raise failed
                frames = self._frames
                if not frames:
                    return
                if self._send_batch is not None and len(frames) > 1:
                    batch = [frames.popleft()]
                    size = len(batch[0].json)
                    while frames and len(batch) < WRITE_BATCH:
                        # `json` once per frame: a property, read for every frame of every connection's backlog.
                        length = len(frames[0].json)
                        if size + length > WRITE_BATCH_BYTES:
                            break
                        size += length
                        batch.append(frames.popleft())
                    self._notify_room()
                    await self._send_batch(batch)
                    continue
                frame = frames.popleft()
                self._notify_room()
                await send(frame)
        finally:
            self._writing = False

    def close(self) -> None:
        self._closed = True
        self._notify_room()

    def abort(self) -> None:
        if self._frames is not None:
            self._frames.clear()
        self.close()

    def _send_now(self, send: Callable[[OutFrame], Coroutine[Any, Any, None]], frame: OutFrame) -> None:
        coro = send(frame)
        try:
            waiting = coro.send(None)
        except StopIteration:
            return
        except Exception as exc:  # the socket is gone: the writer reports it
            self._failed = exc
        else:
            self._inflight = (coro, waiting)
        self._need_writer()

    def _need_writer(self) -> None:
        if not self._writing and self._start_writer is not None:
            self._writing = True
            self._start_writer()

    def _notify_room(self) -> None:
        if self._room is not None:
            if not self._room.done():
                self._room.set_result(None)
            self._room = None


@types.coroutine
def _finish(coro: Coroutine[Any, Any, None], waiting: Any) -> Generator[Any, None, None]:
    """Finish ``coro``, which yielded ``waiting`` (a future, or None for a bare yield) when stepped
    by hand: the calling task waits on it first, then drives ``coro`` to its end."""
    try:
        yield waiting
    except BaseException:
        coro.close()
        raise
    yield from coro


class Subscriber:
    """One connection's membership in one channel.

    ``seq`` is set for durable channels. ``ready`` turns true once the subscribe
    reply is queued: ephemeral and state frames are only sent after it.
    """

    __slots__ = ("channel", "fill_task", "full_view", "outbox", "ready", "seq", "user_id")

    def __init__(
        self, channel: str, outbox: Outbox, user_id: str, seq: Subscription[EventFrame] | None, *,
        full_view: bool = False
    ) -> None:
        self.channel = channel
        self.outbox = outbox
        self.user_id = user_id
        self.seq = seq
        self.full_view = full_view  # presence: host/admin see every entry in large rooms
        self.ready = False
        self.fill_task: asyncio.Task[None] | None = None


class Fanout:
    """Local subscribers by channel. ``on_open``/``on_close`` fire on a channel's first/last subscriber;
    ``observers`` see each live durable event after its subscribers got it."""

    def __init__(
        self,
        log: EventLog,
        *,
        on_open: Callable[[str], None] | None = None,
        on_close: Callable[[str], None] | None = None,
        retry_max_s: float = 2.0,
    ) -> None:
        self.log = log
        # False while the listener works through a backlog: then frames queue, and each connection's
        # writer sends several per wake-up instead of one socket write per frame and connection.
        self.direct = True
        self._subs: dict[str, set[Subscriber]] = {}
        self._on_open = on_open
        self._on_close = on_close
        self._retry_max_s = retry_max_s
        self.observers = Observers()

    # --- registry --------------------------------------------------------------

    def add(self, sub: Subscriber) -> None:
        subs = self._subs.get(sub.channel)
        if subs is None:
            subs = self._subs[sub.channel] = set()
            if self._on_open is not None:
                self._on_open(sub.channel)
        subs.add(sub)

    def remove(self, sub: Subscriber) -> None:
        if sub.fill_task is not None:
            sub.fill_task.cancel()
            sub.fill_task = None
        subs = self._subs.get(sub.channel)
        if subs is None or sub not in subs:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[sub.channel]
            if self._on_close is not None:
                self._on_close(sub.channel)

    def has(self, channel: str) -> bool:
        return channel in self._subs

    def channels(self) -> list[str]:
        return list(self._subs)

    def subscribers(self, channel: str) -> list[Subscriber]:
        return list(self._subs.get(channel, ()))

    def position(self, channel: str) -> int | None:
        """Lowest sequence delivered by a positioned subscriber of ``channel`` (after a listener outage,
        where the listener has to resume from)."""
        positions = [
            s.seq.last_seq for s in self._subs.get(channel, ()) if s.seq is not None and s.seq.last_seq is not None
        ]
        return min(positions) if positions else None

    # --- delivery --------------------------------------------------------------

    def deliver(self, seq: int, frame: EventFrame) -> None:
        """A durable event of ``frame.channel``, passed on in sequence order by the listener."""
        direct = self.direct
        for sub in self._subs.get(frame.channel, ()):
            order = sub.seq
            if order is None:
                continue
            if order.take_next(seq):
                sub.outbox.push(frame, direct=direct)
                continue
            step = order.offer_live(seq, frame)
            for out in step.frames:
                sub.outbox.push(out, direct=direct)
            if step.fill is not None:
                self.fill_later(sub, step.fill)
        self.observers.notify(frame)

    def broadcast(self, channel: str, frame: OutFrame, only: Callable[[Subscriber], bool] | None = None) -> None:
        """An ephemeral or state frame (no sequence) to every ready subscriber (that ``only`` accepts)."""
        for sub in self._subs.get(channel, ()):
            if sub.ready and (only is None or only(sub)):
                sub.outbox.push(frame)

    async def catch_up(self, sub: Subscriber, fill: NeedsFill) -> None:
        """Answer ``fill`` and every further gap from the log until ``sub`` is live.

        Frames go out in sequence order, read in chunks of a quarter of the send
        queue, each waiting for room first. When the log no longer has the start of
        a range (pruned meanwhile) the subscriber gets ``reset`` and continues from
        the head. Raises whatever the log raises; the subscription then stays in
        replay (buffering, bounded) and the caller decides.
        """
        seq = sub.seq
        if seq is None:
            raise ValueError("catch_up needs a durable subscriber")
        outbox = sub.outbox
        chunk = max(1, outbox.limit // 4)
        target = fill.through
        current: NeedsFill | None = fill
        while current is not None:
            rows = await self.log.read(sub.channel, current.after, min(current.through, current.after + chunk), chunk)
            if not rows or rows[0][0] != current.after + 1:
                head, _ = await self.log.position(sub.channel)
                await outbox.wait_room(1 + seq.buffered)
                outbox.push_replay([OutFrame(encode_reset(sub.channel, head, HISTORY_EXPIRED))])
                step = seq.finish_replay([], after=max(head, current.after))
            else:
                await outbox.wait_room(len(rows) + seq.buffered)
                step = seq.finish_replay(rows, after=current.after)
            outbox.push_replay(step.frames)
            current = step.fill
            if current is not None:
                target = max(target, current.through)
                continue
            last = seq.last_seq
            if last is not None and last < target:
                # Only part of the range was read: keep buffering live events while reading on.
                seq.begin_replay()
                current = NeedsFill(last, target)

    def fill_later(self, sub: Subscriber, fill: NeedsFill) -> None:
        """Answer ``fill`` in a task of its own, retrying while the log is down (unless one already runs).

        For gaps seen on live delivery (e.g. a listener outage) and for a subscribe's replay that
        failed after its reply was sent; the subscription buffers (bounded) meanwhile.
        """
        if sub.fill_task is None:
            sub.fill_task = asyncio.create_task(self._live_fill(sub, fill), name=f"fill {sub.channel}")

    async def _live_fill(self, sub: Subscriber, fill: NeedsFill) -> None:
        delay = 0.05
        try:
            while True:
                try:
                    last = sub.seq.last_seq if sub.seq is not None else None
                    # A failed catch_up may have got past `fill.through` (into a gap behind buffered live
                    # events); it always leaves `last + 1` missing, so read on from there.
                    retry = fill if last is None else NeedsFill(last, max(fill.through, last + 1))
                    await self.catch_up(sub, retry)
                    return
                except Exception:
                    log.warning("gap fill of %s failed; retrying", sub.channel, exc_info=True)
                    await asyncio.sleep(delay * (1 + _JITTER.random()))
                    delay = min(delay * 2, self._retry_max_s)
        finally:
            sub.fill_task = None
