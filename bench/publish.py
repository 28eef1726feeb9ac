"""Publishers: put numbered events into a server, paced or as fast as it takes them.

Every event carries `t`, the publisher's `time.time()` when it sent it, and a body the size of a
small post, so frames are alike in size on every server. For the hub the event goes into the log
with `realtime.append_event` on owner connections (the path every REST write takes, without REST);
the load client then measures from the event's own `ts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import msgspec

from channels.names import ChannelName

BODY = "x" * 200
FLOOD_BATCH = 10
_APPEND = "SELECT realtime.append_event($1, $2, $3::jsonb)"


def event_data(number: int) -> dict[str, Any]:
    return {"n": number, "t": time.time(), "body": BODY}


def baseline_frame(number: int) -> str:
    """A frame shaped like the hub's `event` frame, for servers that pass text through."""
    data = event_data(number)
    return msgspec.json.encode({"op": "event", "channel": str(ChannelName.feed()), "seq": number,
                                "event": "post.created",
                                "data": data, "ts": datetime.fromtimestamp(data["t"], UTC).isoformat()}).decode()


class Publisher(Protocol):
    concurrency: int

    async def send(self, number: int) -> None: ...

    async def close(self) -> None: ...


class FloodPublisher(Publisher, Protocol):
    flood_batch: int  # events per `send_many` in a flood

    async def send_many(self, numbers: list[int]) -> None: ...


class OneByOne:
    """For publishers that have no cheaper way to send several events than one at a time."""

    flood_batch = 1

    async def send(self, number: int) -> None:
        raise NotImplementedError

    async def send_many(self, numbers: list[int]) -> None:
        for number in numbers:
            await self.send(number)


class PlainPublisher(OneByOne):
    """Text frames to a baseline's `/pub`."""

    concurrency = 1

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str) -> PlainPublisher:
        from websockets.asyncio.client import connect

        return cls(await connect(url, compression=None, ping_interval=None, max_size=1 << 20))

    async def send(self, number: int) -> None:
        await self.ws.send(baseline_frame(number))

    async def close(self) -> None:
        await self.ws.close()


class SocketIOPublisher(OneByOne):
    """`publish` events over a raw Engine.IO websocket (`?role=pub`: it joins no room)."""

    concurrency = 1

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._reader = asyncio.create_task(self._answer_pings())

    @classmethod
    async def open(cls, url: str) -> SocketIOPublisher:
        from websockets.asyncio.client import connect

        ws = await connect(url, compression=None, ping_interval=None, max_size=1 << 20)
        await ws.recv()
        await ws.send("40")
        while not str(await ws.recv()).startswith("40"):
            pass
        return cls(ws)

    async def _answer_pings(self) -> None:
        with contextlib.suppress(Exception):
            async for message in self.ws:
                if message == "2":
                    await self.ws.send("3")

    async def send(self, number: int) -> None:
        await self.ws.send("42" + msgspec.json.encode(["publish", event_data(number)]).decode())

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self.ws.close()


class Lanes:
    """A few dedicated asyncpg connections, each used by one sender at a time. Not a pool: a pool's
    reset query on every release would double the transactions the database counts."""

    def __init__(self, connections: list[asyncpg.Connection]) -> None:
        self.connections = connections
        self._free: asyncio.Queue[asyncpg.Connection] = asyncio.Queue()
        for conn in connections:
            self._free.put_nowait(conn)

    @classmethod
    async def open(cls, dsn: str, count: int) -> Lanes:
        return cls(list(await asyncio.gather(*(asyncpg.connect(dsn) for _ in range(count)))))

    async def execute(self, query: str, *args: Any) -> None:
        conn = await self._free.get()
        try:
            await conn.execute(query, *args)
        finally:
            self._free.put_nowait(conn)

    async def execute_many(self, query: str, rows: list[tuple[Any, ...]]) -> None:
        """All of `rows` in one transaction."""
        conn = await self._free.get()
        try:
            async with conn.transaction():
                await conn.executemany(query, rows)
        finally:
            self._free.put_nowait(conn)

    async def close(self) -> None:
        await asyncio.gather(*(conn.close() for conn in self.connections))


class HubPublisher:
    """Events appended to the hub's log from a few owner connections: one transaction each when paced, and
    `FLOOD_BATCH` per transaction in a flood, so the flood measures the fan-out rather than how fast one
    channel's commits follow each other (each holds the channel's head row; the end-to-end scenario measures
    that path, one REST write per event)."""

    flood_batch = FLOOD_BATCH

    def __init__(self, lanes: Lanes, channel: str, event: str) -> None:
        self.lanes = lanes
        self.channel = channel
        self.event = event
        self.concurrency = len(lanes.connections)

    @classmethod
    async def open(cls, owner_dsn: str, channel: str, event: str = "post.created",
                   concurrency: int = 4) -> HubPublisher:
        return cls(await Lanes.open(owner_dsn, concurrency), channel, event)

    async def send(self, number: int) -> None:
        await self.lanes.execute(_APPEND, self.channel, self.event, msgspec.json.encode(event_data(number)).decode())

    async def send_many(self, numbers: list[int]) -> None:
        await self.lanes.execute_many(_APPEND, [(self.channel, self.event, msgspec.json.encode(event_data(n)).decode())
                                                for n in numbers])

    async def close(self) -> None:
        await self.lanes.close()


async def paced(publisher: Publisher, count: int, rate: float) -> float:
    """Sends `count` events at `rate` per second, at most `concurrency` in flight (a late send does
    not shift the schedule); returns the seconds it took. The first failed send is raised at the end."""
    started = time.monotonic()
    gate = asyncio.Semaphore(publisher.concurrency)

    async def one(number: int) -> None:
        async with gate:
            await publisher.send(number)

    tasks = []
    for number in range(count):
        delay = started + number / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(number)))
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome
    return time.monotonic() - started


async def flood(publisher: FloodPublisher, count: int) -> float:
    """Sends `count` events as fast as the server takes them (`concurrency` in flight at most)."""
    started = time.monotonic()
    numbers = iter(range(count))

    async def lane() -> None:
        while chunk := list(itertools.islice(numbers, publisher.flood_batch)):
            await publisher.send_many(chunk)

    await asyncio.gather(*(lane() for _ in range(publisher.concurrency)))
    return time.monotonic() - started
