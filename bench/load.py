"""The websocket load client: many connections spread over worker processes and source addresses.

Every server under test gets the same client. A worker process (multiprocessing, spawn) opens its share
of the connections from its own 127.0.0.x source address (so ports never run out), does the server's
handshake, and then records one latency per delivered event: receive wall clock minus the timestamp
the event carries (the hub's `ts`; `data.t` for baselines and peers, written by their publisher).
Both clocks are `time.time()` on the same machine.

Kinds of server:
- `hub`: the hub protocol (`auth`, then `subscribe`; counts `event` frames), in JSON text frames or, with
  `encoding="msgpack"`, the `hub.v1.msgpack` subprotocol's binary frames.
- `plain`: baselines; connecting is subscribing; the server says `{"op":"hello"}` once registered.
- `socketio`: Engine.IO v4 / Socket.IO v5 over a raw websocket; the server emits `hello` once the
  socket joined its room, then `event` frames; Engine.IO pings are answered here.

The parent drives the workers over pipes: `start` → every worker reports how many connections are
ready; `send` → each sends frames of its own over its connections at a paced rate (for an echo server:
the latency is then the client's own round trip); `collect` → each waits until every connection got the
expected count, or the deadline, or a quiet spell, then reports and zeroes its counters (so one set of
connections serves several phases); `close` ends them. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from bench.stats import Histogram
from channels.names import ChannelName

FIRST_SOURCE_HOST = 10  # workers connect from 127.0.0.10, 127.0.0.11, …


@dataclass(frozen=True)
class LoadSpec:
    url: str
    kind: str  # "hub" | "plain" | "socketio"
    connections: int
    workers: int = 1
    channel: str = str(ChannelName.feed())  # hub only
    tokens: tuple[str, ...] = ()  # hub only: one per connection
    compression: bool = False
    event_name: str | None = None  # count only events of this name (hub); None: every event
    keep_last: bool = False  # remember each connection's last event `data`
    connect_concurrency: int = 200
    connect_timeout_s: float = 60.0
    source_offset: int = 0  # first 127.0.0.x source address, so two clients at once use different ones
    encoding: str = "json"  # hub only: "json" | "msgpack" (the `hub.v1.msgpack` subprotocol)


@dataclass
class Collected:
    """What the connections saw during one phase, merged over the workers."""

    connections: int = 0
    received: int = 0
    received_bytes: int = 0  # payload bytes of the counted event frames (without websocket headers)
    histogram: Histogram = field(default_factory=Histogram)
    first_recv: float | None = None
    last_recv: float | None = None
    min_per_connection: int = 0
    max_per_connection: int = 0
    closed: Counter[str] = field(default_factory=Counter)  # close code → connections lost
    last_data: list[Any] = field(default_factory=list)

    def absorb(self, report: dict[str, Any]) -> None:
        first_worker = self.connections == 0
        self.connections += report["connections"]
        self.received += report["received"]
        self.received_bytes += report["received_bytes"]
        self.histogram.merge(Histogram.from_wire(report["histogram"]))
        for attr, pick in (("first_recv", min), ("last_recv", max)):
            theirs = report[attr]
            if theirs is not None:
                mine = getattr(self, attr)
                setattr(self, attr, theirs if mine is None else pick(mine, theirs))
        self.min_per_connection = (report["min_per_connection"] if first_worker
                                   else min(self.min_per_connection, report["min_per_connection"]))
        self.max_per_connection = max(self.max_per_connection, report["max_per_connection"])
        self.closed.update(report["closed"])
        self.last_data.extend(report["last_data"])


@dataclass(frozen=True)
class Ready:
    connected: int
    failed: int
    reasons: tuple[str, ...]


class LoadError(RuntimeError):
    """The load client could not do what was asked (workers died, nothing connected in time)."""


class LoadClient:
    """`async with LoadClient(spec) as load:` spawns the workers; `await load.start()` connects."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self._pipes: list[Connection] = []
        self._procs: list[Any] = []

    async def __aenter__(self) -> LoadClient:
        context = multiprocessing.get_context("spawn")
        workers = max(1, min(self.spec.workers, self.spec.connections))
        for index in range(workers):
            share = range(index, self.spec.connections, workers)
            tokens = tuple(self.spec.tokens[i] for i in share) if self.spec.tokens else ()
            parent_end, child_end = context.Pipe()
            host = _source_host(self.spec.source_offset + index)
            proc = context.Process(target=_worker_main, name=f"bench-load-{index}", daemon=True,
                                   args=(child_end, self.spec, len(share), tokens, host))
            proc.start()
            child_end.close()
            self._pipes.append(parent_end)
            self._procs.append(proc)
        return self

    async def __aexit__(self, *_: object) -> None:
        with contextlib.suppress(Exception):
            await self._ask_all(("close",), timeout_s=15.0)
        for proc in self._procs:
            await asyncio.to_thread(proc.join, 5.0)
            if proc.is_alive():
                proc.terminate()
                await asyncio.to_thread(proc.join, 5.0)

    async def start(self) -> Ready:
        # The whole handshake storm must finish at 50 connections/s or better (the hub manages ~150/s
        # on a busy 2-core machine), on top of one connection's own timeout.
        budget = self.spec.connect_timeout_s + 15.0 + self.spec.connections / 50
        replies = await self._ask_all(("start",), timeout_s=budget)
        reasons: list[str] = []
        for reply in replies:
            reasons.extend(reply["reasons"])
        return Ready(connected=sum(r["connected"] for r in replies), failed=sum(r["failed"] for r in replies),
                     reasons=tuple(reasons[:5]))

    async def send(self, per_connection: int, rate: float) -> None:
        """Every connection sends `per_connection` frames shaped like a baseline's event, `rate` per second
        each, the connections' sends spread evenly over each interval."""
        await self._ask_all(("send", per_connection, rate), timeout_s=per_connection / rate + 30.0)

    async def collect(self, expected_per_connection: int | None, deadline_s: float, quiet_s: float) -> Collected:
        """Waits (at most `deadline_s`) for the phase to end, then returns and resets the counters.
        With `expected_per_connection` None it ends on the deadline or after `quiet_s` without frames."""
        replies = await self._ask_all(("collect", expected_per_connection, time.time() + deadline_s, quiet_s),
                                      timeout_s=deadline_s + 15.0)
        merged = Collected()
        for reply in replies:
            merged.absorb(reply)
        return merged

    async def _ask_all(self, message: tuple[Any, ...], timeout_s: float) -> list[dict[str, Any]]:
        for pipe in self._pipes:
            pipe.send(message)
        return list(await asyncio.gather(*(self._answer(pipe, timeout_s) for pipe in self._pipes)))

    @staticmethod
    async def _answer(pipe: Connection, timeout_s: float) -> dict[str, Any]:
        try:
            if not await asyncio.to_thread(pipe.poll, timeout_s):
                raise LoadError(f"a load worker did not answer within {timeout_s:.0f} s")
            reply: dict[str, Any] = pipe.recv()
        except (EOFError, OSError) as exc:
            raise LoadError(f"a load worker died: {exc!r}") from None
        if "error" in reply:
            raise LoadError(reply["error"])
        return reply


def _source_host(index: int) -> str:
    return f"127.0.0.{FIRST_SOURCE_HOST + index % 240}"


# ---------------------------------------------------------------- worker process


class _Frame(msgspec.Struct):
    op: str = ""
    event: str | None = None
    data: Any = None
    ts: str | None = None


_decode_frame = msgspec.json.Decoder(_Frame).decode
_decode_any = msgspec.json.decode
_unpack_frame = msgspec.msgpack.Decoder(_Frame).decode


def _hub_encode(spec: LoadSpec, frame: dict[str, Any]) -> str | bytes:
    """A client frame in the spec's encoding."""
    return msgspec.msgpack.encode(frame) if spec.encoding == "msgpack" else msgspec.json.encode(frame).decode()


def _hub_decode_any(message: str | bytes) -> Any:
    return msgspec.msgpack.decode(message) if isinstance(message, bytes) else _decode_any(message)


def _hub_decode_frame(message: str | bytes) -> _Frame:
    return _unpack_frame(message) if isinstance(message, bytes) else _decode_frame(message)


class _Worker:
    def __init__(self, spec: LoadSpec, count: int, tokens: tuple[str, ...], host: str) -> None:
        self.spec = spec
        self.count = count
        self.tokens = tokens
        self.host = host
        self.sockets: list[Any] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.failures: list[str] = []
        self.per_connection: list[int] = []
        self.last_data: list[Any] = []
        self.closed: Counter[str] = Counter()
        self.reset()

    def reset(self) -> None:
        self.histogram = Histogram()
        self.received = 0
        self.received_bytes = 0
        self.first_recv: float | None = None
        self.last_recv: float | None = None
        self.per_connection = [0] * len(self.sockets)
        self.last_data = [None] * len(self.sockets)

    async def start(self) -> dict[str, Any]:
        gate = asyncio.Semaphore(self.spec.connect_concurrency)

        async def one(index: int) -> Any:
            async with gate:
                return await asyncio.wait_for(self._open(index), self.spec.connect_timeout_s)

        results = await asyncio.gather(*(one(i) for i in range(self.count)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                if len(self.failures) < 5:
                    self.failures.append(f"{type(result).__name__}: {result}")
            else:
                self.sockets.append(result)
        self.reset()
        self.tasks = [asyncio.create_task(self._receive(i, ws)) for i, ws in enumerate(self.sockets)]
        return {"connected": len(self.sockets), "failed": self.count - len(self.sockets), "reasons": self.failures}

    async def _open(self, index: int) -> Any:
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        ws = await connect(self.spec.url, compression="deflate" if self.spec.compression else None,
                           ping_interval=None, max_size=1 << 22, max_queue=None, open_timeout=30,
                           local_addr=(self.host, 0),
                           subprotocols=[Subprotocol("hub.v1.msgpack")] if self.spec.encoding == "msgpack" else None)
        try:
            await self._handshake(index, ws)
        except BaseException:
            await ws.close()
            raise
        return ws

    async def _handshake(self, index: int, ws: Any) -> None:
        if self.spec.kind == "hub":
            await ws.send(_hub_encode(self.spec, {"op": "auth", "id": 1, "token": self.tokens[index]}))
            await _await_reply(ws, 1)
            await ws.send(_hub_encode(self.spec, {"op": "subscribe", "id": 2, "channel": self.spec.channel}))
            await _await_reply(ws, 2)
        elif self.spec.kind == "plain":
            while _decode_frame(await ws.recv()).op != "hello":
                pass
        elif self.spec.kind == "socketio":
            await ws.recv()  # Engine.IO open packet ("0{sid,…}")
            await ws.send("40")
            while True:
                message = await ws.recv()
                if message == "2":
                    await ws.send("3")
                elif message.startswith('42["hello"'):
                    return
        else:
            raise ValueError(f"unknown server kind {self.spec.kind!r}")

    async def _receive(self, index: int, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        kind = self.spec.kind
        wanted = self.spec.event_name
        keep = self.spec.keep_last
        try:
            async for message in ws:
                now = time.time()
                if kind == "socketio":
                    if message == "2":
                        await ws.send("3")
                        continue
                    if not message.startswith('42["event"'):
                        continue
                    data = _decode_any(message[2:])[1]
                    sent = float(data["t"])
                else:
                    frame = _hub_decode_frame(message) if kind == "hub" else _decode_frame(message)
                    if frame.op != "event" or (wanted is not None and frame.event != wanted):
                        continue
                    data = frame.data
                    sent = datetime.fromisoformat(frame.ts).timestamp() if kind == "hub" and frame.ts \
                        else float(data["t"])
                self.histogram.add((now - sent) * 1000.0)
                self.received += 1
                self.received_bytes += len(message)
                self.per_connection[index] += 1
                if self.first_recv is None:
                    self.first_recv = now
                self.last_recv = now
                if keep:
                    self.last_data[index] = data
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else "no close frame"
            self.closed[str(code)] += 1
        except Exception as exc:  # a malformed frame must not kill the other connections' counting
            self.closed[f"client error {type(exc).__name__}"] += 1

    async def send(self, per_connection: int, rate: float) -> dict[str, Any]:
        from bench.publish import baseline_frame

        total = per_connection * len(self.sockets)
        interval = 1.0 / (rate * max(1, len(self.sockets)))
        started = time.monotonic()
        for number in range(total):
            delay = started + number * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.sockets[number % len(self.sockets)].send(baseline_frame(number))
        return {"sent": total}

    async def collect(self, expected: int | None, deadline: float, quiet_s: float) -> dict[str, Any]:
        started = time.time()
        target = None if expected is None else expected * len(self.sockets)
        while time.time() < deadline:
            if target is not None and self.received >= target:
                break
            if time.time() - max(self.last_recv or 0.0, started) > quiet_s:
                break
            await asyncio.sleep(0.02)
        report = {
            "connections": len(self.sockets),
            "received": self.received,
            "received_bytes": self.received_bytes,
            "histogram": self.histogram.to_wire(),
            "first_recv": self.first_recv,
            "last_recv": self.last_recv,
            "min_per_connection": min(self.per_connection, default=0),
            "max_per_connection": max(self.per_connection, default=0),
            "closed": dict(self.closed),
            "last_data": list(self.last_data) if self.spec.keep_last else [],
        }
        self.closed = Counter()
        self.reset()
        return report

    async def close(self) -> dict[str, Any]:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        gate = asyncio.Semaphore(500)

        async def shut(ws: Any) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 5)

        await asyncio.gather(*(shut(ws) for ws in self.sockets))
        return {"closed": len(self.sockets)}


async def _await_reply(ws: Any, request_id: int) -> None:
    while True:
        reply = _hub_decode_any(await ws.recv())
        if isinstance(reply, dict) and reply.get("op") == "reply" and reply.get("id") == request_id:
            if not reply.get("ok"):
                raise LoadError(f"request {request_id} refused: {reply.get('error')}")
            return


async def _serve_parent(pipe: Connection, worker: _Worker) -> None:
    loop = asyncio.get_running_loop()
    while True:
        message = await loop.run_in_executor(None, pipe.recv)
        try:
            if message[0] == "start":
                reply = await worker.start()
            elif message[0] == "send":
                reply = await worker.send(*message[1:])
            elif message[0] == "collect":
                reply = await worker.collect(*message[1:])
            else:
                pipe.send(await worker.close())
                return
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        pipe.send(reply)


def raise_fd_limit() -> None:
    """Soft file-descriptor limit up to the hard one (a process cannot go past the hard limit)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _worker_main(pipe: Connection, spec: LoadSpec, count: int, tokens: tuple[str, ...], host: str) -> None:
    raise_fd_limit()
    worker = _Worker(spec, count, tokens, host)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve_parent(pipe, worker))
    else:
        uvloop.run(_serve_parent(pipe, worker))
