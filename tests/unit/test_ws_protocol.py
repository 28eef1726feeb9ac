"""The receive queue and writable flag the hub's uvicorn websocket protocol uses in place of asyncio's."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from uvicorn._types import ASGIReceiveEvent

from hub.realtime.ws_protocol import ReceiveQueue, WritableFlag


def message(n: int) -> ASGIReceiveEvent:
    return cast(ASGIReceiveEvent, {"type": "websocket.receive", "text": str(n)})


def held(obj: Any) -> list[object]:
    """What the primitive holds besides its flag: nothing between uses is the point of it."""
    return [getattr(obj, slot) for slot in ("_items", "_waiter", "_waiters") if getattr(obj, slot, None) is not None]


async def test_receive_queue_is_fifo_and_holds_nothing_once_emptied() -> None:
    queue = ReceiveQueue()
    assert queue.empty() and held(queue) == []
    for n in range(3):
        queue.put_nowait(message(n))
    assert not queue.empty()
    assert [await queue.get() for _ in range(3)] == [message(n) for n in range(3)]
    assert queue.empty() and held(queue) == []


async def test_receive_queue_wakes_a_waiting_getter_and_forgets_a_cancelled_one() -> None:
    queue = ReceiveQueue()
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait(message(1))
    assert await asyncio.wait_for(getter, 1) == message(1)

    cancelled = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    assert held(queue) == []
    queue.put_nowait(message(2))
    assert await queue.get() == message(2)


async def test_a_second_concurrent_receive_is_refused() -> None:
    queue = ReceiveQueue()
    first = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        await queue.get()
    queue.put_nowait(message(1))
    assert await asyncio.wait_for(first, 1) == message(1)


async def test_writable_flag_blocks_waiters_while_cleared_and_releases_them_all_on_set() -> None:
    flag = WritableFlag(is_set=True)
    assert await asyncio.wait_for(flag.wait(), 1)
    flag.clear()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters) and not flag.is_set()
    flag.set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True, True]
    assert held(flag) == []


async def test_a_cancelled_wait_on_the_writable_flag_leaves_nothing_behind() -> None:
    flag = WritableFlag(is_set=False)
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert held(flag) == [] and not flag.is_set()
