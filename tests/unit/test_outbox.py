"""The per-connection send queue: direct sends when idle, a writer only while frames back up, overflow."""

from __future__ import annotations

import asyncio

import pytest

from channels.frames import OutFrame
from hub.realtime.fanout import WRITE_BATCH, WRITE_BATCH_BYTES, Outbox


def out(text: str) -> OutFrame:
    return OutFrame(text.encode())


class Socket:
    """A send function whose sends complete at once until `block()`; then each waits for `release()`."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gate: asyncio.Event | None = None
        self.fail_with: Exception | None = None

    async def send(self, frame: OutFrame) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        if self.gate is not None:
            await self.gate.wait()
        self.sent.append(frame.text)

    def block(self) -> None:
        self.gate = asyncio.Event()

    def release(self) -> None:
        assert self.gate is not None
        self.gate.set()
        self.gate = None


class Writers:
    """Runs `outbox.drain()` in a task each time the outbox asks for a writer."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(self.outbox.drain()))

    async def finished(self) -> None:
        await asyncio.gather(*self.tasks)


def attached(limit: int = 8) -> tuple[Outbox, Socket, Writers, list[str]]:
    overflows: list[str] = []
    outbox = Outbox(limit, lambda: overflows.append("overflow"))
    socket, writers = Socket(), Writers(outbox)
    outbox.attach(socket.send, writers.start)
    return outbox, socket, writers, overflows


async def test_a_frame_pushed_to_an_idle_outbox_is_sent_inside_push_without_a_writer() -> None:
    outbox, socket, writers, _ = attached()
    outbox.push(out("a"))
    outbox.push(out("b"))
    assert socket.sent == ["a", "b"]
    assert writers.tasks == [] and not outbox.writing


async def test_a_send_that_waits_starts_one_writer_which_keeps_order_and_then_stops() -> None:
    outbox, socket, writers, _ = attached()
    socket.block()
    outbox.push(out("a"))  # begun by hand, has to wait
    outbox.push(out("b"))
    outbox.push(out("c"))
    assert socket.sent == [] and len(writers.tasks) == 1 and outbox.writing
    socket.release()
    await writers.finished()
    assert socket.sent == ["a", "b", "c"]
    assert not outbox.writing and len(outbox) == 0
    outbox.push(out("d"))  # idle again: direct
    assert socket.sent[-1] == "d" and len(writers.tasks) == 1


async def test_frames_queued_without_direct_send_are_drained_by_a_writer_in_order() -> None:
    outbox, socket, writers, _ = attached()
    for frame in ("a", "b", "c"):
        outbox.push(out(frame), direct=False)
    assert socket.sent == [] and len(writers.tasks) == 1
    await writers.finished()
    assert socket.sent == ["a", "b", "c"] and not outbox.writing


async def test_a_full_queue_drops_everything_closes_and_reports_the_overflow_once() -> None:
    outbox, socket, writers, overflows = attached(limit=3)
    socket.block()
    for n in range(10):
        outbox.push(out(str(n)))
    assert overflows == ["overflow"]
    assert outbox.closed and outbox.overflowed and len(outbox) == 0
    socket.release()
    await writers.finished()
    assert socket.sent == ["0"]  # only the send already begun went out


async def test_a_failed_send_is_raised_by_the_writer() -> None:
    outbox, socket, writers, _ = attached()
    socket.fail_with = ConnectionResetError("gone")
    outbox.push(out("a"))
    with pytest.raises(ConnectionResetError):
        await writers.finished()


async def test_a_replay_waits_for_room_instead_of_overflowing() -> None:
    outbox, socket, writers, overflows = attached(limit=4)
    socket.block()
    outbox.push(out("live-0"))
    for n in range(1, 4):
        outbox.push(out(f"live-{n}"))
    waiting = asyncio.create_task(outbox.wait_room(4))
    await asyncio.sleep(0)
    assert not waiting.done()
    socket.release()
    await asyncio.wait_for(waiting, 1)
    outbox.push_replay(out(f"replay-{n}") for n in range(4))
    await writers.finished()  # the replay started a second writer when the first had stopped, or fed the first
    assert overflows == []
    assert socket.sent == [f"live-{n}" for n in range(4)] + [f"replay-{n}" for n in range(4)]


async def test_close_lets_the_writer_send_what_is_queued_and_abort_drops_it() -> None:
    outbox, socket, writers, _ = attached()
    socket.block()
    outbox.push(out("a"))
    outbox.push(out("b"))
    outbox.close()
    outbox.push(out("after close"))
    socket.release()
    await writers.finished()
    assert socket.sent == ["a", "b"]

    outbox, socket, writers, _ = attached()
    socket.block()
    outbox.push(out("a"))
    outbox.push(out("b"))
    outbox.abort()
    socket.release()
    await writers.finished()
    assert socket.sent == ["a"]


def batching(limit: int) -> tuple[Outbox, Socket, Writers, list[list[str]]]:
    """An outbox attached with a batch send that records each batch it is handed."""
    outbox, socket, writers, _ = attached(limit)
    batches: list[list[str]] = []

    async def send_batch(frames: list[OutFrame]) -> None:
        batches.append([frame.text for frame in frames])

    outbox.attach(socket.send, writers.start, send_batch)
    return outbox, socket, writers, batches


async def test_a_backlog_goes_to_the_batch_send_in_order_in_chunks_of_at_most_write_batch() -> None:
    outbox, socket, writers, batches = batching(limit=1000)
    frames = [str(n) for n in range(WRITE_BATCH * 2 + 5)]
    for frame in frames:
        outbox.push(out(frame), direct=False)
    await writers.finished()
    assert [frame for batch in batches for frame in batch] == frames
    assert max(map(len, batches)) == WRITE_BATCH and socket.sent == []


async def test_a_batch_also_stops_at_its_size_cap_but_always_takes_one_frame() -> None:
    outbox, socket, writers, batches = batching(limit=100)
    big = "x" * (WRITE_BATCH_BYTES // 3 + 1)
    huge = "y" * (WRITE_BATCH_BYTES + 1)
    for frame in (big, big, big, huge, "a"):
        outbox.push(out(frame), direct=False)
    await writers.finished()
    assert [len(batch) for batch in batches] == [2, 1, 1] and socket.sent == ["a"]


async def test_a_frame_the_server_takes_at_once_is_written_without_send_and_a_declined_one_goes_through_send() -> None:
    outbox = Outbox(8, lambda: None)
    socket, writers = Socket(), Writers(outbox)
    written: list[str] = []
    taking = True

    def write_now(frame: OutFrame) -> bool:
        if taking:
            written.append(frame.text)
        return taking

    outbox.attach(socket.send, writers.start, None, write_now)
    outbox.push(out("a"))
    assert written == ["a"] and socket.sent == [] and not writers.tasks
    taking = False  # e.g. the transport paused: `send` waits or raises as it should
    outbox.push(out("b"))
    assert written == ["a"] and socket.sent == ["b"] and not writers.tasks
    socket.block()
    outbox.push(out("c"))
    taking = True
    outbox.push(out("d"))  # behind a send still waiting: queued, not written ahead of it
    socket.release()
    await writers.finished()
    assert written == ["a"] and socket.sent == ["b", "c", "d"]
