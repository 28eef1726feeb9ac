"""Websocket helpers for tests.

`ProtocolClient` is a raw protocol-v1 client on the `websockets` library, for the tests of the wire itself
(frames, limits, close codes): frames are read on demand (no background task) and filed: replies by id,
events by channel, plus presence/reset/error/pong lists, so a test can wait for what it needs while
everything else is kept for later assertions. A test that only needs what arrives on a channel uses the
project's own client, `hub.client.HubClient`, with `next_durable` and `settle` below.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hub.client import Event, Item, Subscription

Frame = dict[str, Any]


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1).rstrip("/") + "/ws"


MSGPACK = "hub.v1.msgpack"


class ProtocolClient:
    """``msgpack``: frames both ways are msgpack (the connection negotiated ``hub.v1.msgpack``); a server frame
    of the other websocket type (text) fails the read."""

    def __init__(self, ws: ClientConnection, *, msgpack: bool = False) -> None:
        self.ws = ws
        self.msgpack = msgpack
        self._next_id = 0
        self.replies: dict[int, Frame] = {}
        self.events: defaultdict[str, list[Frame]] = defaultdict(list)
        self.presence: defaultdict[str, list[Frame]] = defaultdict(list)
        self.resets: list[Frame] = []
        self.errors: list[Frame] = []
        self.pongs: list[Frame] = []
        self.frames: list[Frame] = []  # everything, in arrival order

    @classmethod
    async def open(cls, base_url: str, token: str | None = None, *, msgpack: bool = False,
                   **options: Any) -> ProtocolClient:
        options.setdefault("compression", None)
        options.setdefault("open_timeout", 10)
        if msgpack:
            options.setdefault("subprotocols", [MSGPACK])
        ws = await connect(ws_url(base_url), **options)
        client = cls(ws, msgpack=msgpack)
        if token is not None:
            reply = await client.request({"op": "auth", "token": token})
            assert reply["ok"], reply
        return client

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def send(self, frame: Frame | str | bytes) -> None:
        if isinstance(frame, (str, bytes)):
            await self.ws.send(frame)
        else:
            await self.ws.send(msgspec.msgpack.encode(frame) if self.msgpack else json.dumps(frame))

    async def pump(self, within: float) -> Frame | None:
        """Read and file one frame; None on timeout. Raises ConnectionClosed when the server closed."""
        try:
            raw = await asyncio.wait_for(self.ws.recv(), within)
        except TimeoutError:
            return None
        if self.msgpack:
            assert isinstance(raw, bytes), f"text frame on a msgpack connection: {raw!r}"
            frame: Frame = msgspec.msgpack.decode(raw)
        else:
            frame = json.loads(raw)
        self.frames.append(frame)
        op = frame.get("op")
        if op == "reply":
            self.replies[frame["id"]] = frame
        elif op == "event":
            self.events[frame["channel"]].append(frame)
        elif op == "presence":
            self.presence[frame["channel"]].append(frame)
        elif op == "reset":
            self.resets.append(frame)
        elif op == "error":
            self.errors.append(frame)
        elif op == "pong":
            self.pongs.append(frame)
        return frame

    async def until(self, done: Callable[[], bool], within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for the server")
            await self.pump(left)

    async def request(self, frame: Frame, within: float = 10.0) -> Frame:
        frame_id = self.new_id()
        await self.send({**frame, "id": frame_id})
        await self.until(lambda: frame_id in self.replies, within)
        return self.replies[frame_id]

    async def subscribe(self, channel: str, since: int | None = None, within: float = 10.0) -> Frame:
        frame: Frame = {"op": "subscribe", "channel": channel}
        if since is not None:
            frame["since"] = since
        return await self.request(frame, within)

    async def settle(self, quiet_s: float = 0.3) -> None:
        """Read until nothing arrives for `quiet_s`: only to collect more, never before asserting that
        something arrived (a busy machine delays it past any quiet time); for that, wait for it."""
        while await self.pump(quiet_s) is not None:
            pass

    async def barrier(self, within: float = 10.0) -> None:
        """Until the pong to a ping sent now: every frame the server wrote before answering it has been read."""
        ping_id = self.new_id()
        await self.send({"op": "ping", "id": ping_id})
        await self.until(lambda: any(p.get("id") == ping_id for p in self.pongs), within)

    async def wait_events(self, channel: str, count: int, within: float = 10.0) -> list[Frame]:
        """Until `count` durable events (seq not null) of `channel` arrived; all of the channel's events."""
        await self.until(lambda: len(self.durable(channel)) >= count, within)
        return self.durable(channel)

    def durable(self, channel: str) -> list[Frame]:
        return [e for e in self.events[channel] if e["seq"] is not None]

    async def wait_closed(self, within: float = 10.0) -> int | None:
        """Read (and file) until the server closes; the close code."""
        deadline = time.monotonic() + within
        try:
            while time.monotonic() < deadline:
                await self.pump(deadline - time.monotonic())
        except ConnectionClosed:
            return self.close_code
        raise AssertionError("connection was not closed")

    async def close(self) -> None:
        await self.ws.close()


async def open_or_refused(url: str, token: str) -> ProtocolClient | int | None:
    """An authenticated connection, or the close code of one the hub refused."""
    ws = await ProtocolClient.open(url)
    await ws.send({"op": "auth", "id": 1, "token": token})
    try:
        await ws.until(lambda: 1 in ws.replies)
    except ConnectionClosed:
        return ws.close_code
    return ws


async def next_durable(sub: Subscription, count: int, within: float = 10.0) -> list[Event]:
    """The next `count` durable events of `sub`, skipping ephemeral events, presence diffs and the like."""
    got: list[Event] = []
    async with asyncio.timeout(within):
        async for item in sub:
            if isinstance(item, Event) and item.seq is not None:
                got.append(item)
                if len(got) == count:
                    break
    return got


async def settle(sub: Subscription, quiet_s: float = 0.3) -> list[Item]:
    """What `sub` yields until nothing arrives for `quiet_s`."""
    got: list[Item] = []
    while True:
        try:
            got.append(await asyncio.wait_for(anext(sub), quiet_s))
        except TimeoutError:
            return got


def seqs(events: list[Frame]) -> list[int]:
    return [e["seq"] for e in events]


def assert_continuous(events: list[Frame], after: int, through: int | None = None) -> None:
    """Sequences are exactly after+1, after+2, … (through `through` when given): no gap, no duplicate."""
    got = seqs(events)
    expected = list(range(after + 1, after + 1 + len(got))) if through is None else list(range(after + 1, through + 1))
    assert got == expected, f"expected {expected[:3]}…{expected[-3:]}, got {got[:3]}…{got[-3:]} ({len(got)})"


async def insert_post(owner_conn: Any, author_id: Any, title: str = "realtime test post") -> str:
    """A post row (for `thread:`/`votes:` channels, whose subscribe checks the post exists)."""
    post_id = await owner_conn.fetchval(
        "INSERT INTO public.community_posts (author_id, title) VALUES ($1, $2) RETURNING id::text", author_id, title)
    return str(post_id)


async def append_events(db: Any, channel: str, count: int, *, event: str = "comment.created",
                        per_transaction: int = 1, pad: int = 0) -> list[int]:
    """Appends `count` events through the app's own role (SERVICE), `per_transaction` per commit; their seqs."""
    from channels.names import parse_channel
    from persistence.events import append_event
    from persistence.identity import SERVICE

    out: list[int] = []
    while len(out) < count:
        async with db.transaction(SERVICE) as conn:
            for _ in range(min(per_transaction, count - len(out))):
                out.append(await append_event(conn, parse_channel(channel), event, {"n": len(out), "pad": "x" * pad}))
    return out
