"""Scenario 2, end to end across instances: a REST write on hub A becomes a frame at N subscribers
on hub B (PostgreSQL NOTIFY carries it between them), at a paced rate; latency from the event's
commit-time stamp to receipt. Baseline: one asyncpg LISTEN connection feeding a plain `websockets`
broadcast, fed by a plain `pg_notify` that stamps `clock_timestamp()` the same way.

The write is `POST /api/posts/{id}/comments` when the hub has that route; otherwise the event is
appended straight into the log (the same transaction shape without REST), and the row says so.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import msgspec

from bench import publish
from bench.baselines.pg_relay import CHANNEL as RELAY_CHANNEL
from bench.context import Context
from bench.http import HttpConnection
from bench.load import Collected, LoadClient, LoadError, LoadSpec
from bench.report import Row
from bench.servers import HOST, Server, free_port, python
from channels.names import ChannelName

_CREATE_POST = """
INSERT INTO public.community_posts (author_id, title, content) VALUES ($1, $2, 'benchmark thread') RETURNING id
"""
# The relay's payload is stamped inside PostgreSQL, as the hub's event `ts` is.
_RELAY_NOTIFY = """
SELECT pg_notify($1, json_build_object('op', 'event', 'channel', 'feed', 'seq', $2::int, 'event', 'comment.created',
    'data', json_build_object('t', extract(epoch FROM clock_timestamp()), 'body', $3::text),
    'ts', clock_timestamp())::text)
"""


class _RestWriter:
    """Comments through hub A's REST API, one keep-alive connection per lane."""

    concurrency = 4

    def __init__(self, server: Server, post_id: uuid.UUID, token: str) -> None:
        self.path = f"/api/posts/{post_id}/comments"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.server = server
        self.lanes: asyncio.Queue[HttpConnection] = asyncio.Queue()
        self.opened: list[HttpConnection] = []

    async def open(self) -> _RestWriter:
        for _ in range(self.concurrency):
            lane = await HttpConnection(HOST, self.server.port).__aenter__()
            self.opened.append(lane)
            self.lanes.put_nowait(lane)
        return self

    async def probe(self) -> str | None:
        """None when the route takes a comment; otherwise what it answered."""
        status, body = await self._post(0, self.opened[0])
        return None if 200 <= status < 300 else f"POST {self.path} → {status} {body[:120]!r}"

    async def _post(self, number: int, lane: HttpConnection) -> tuple[int, bytes]:
        body = msgspec.json.encode({"content": f"benchmark comment {number} {publish.BODY}"})
        return await lane.request("POST", self.path, {**self.headers, "Idempotency-Key": str(uuid.uuid4())}, body)

    async def send(self, number: int) -> None:
        lane = await self.lanes.get()  # a write waits for a free keep-alive connection
        try:
            status, body = await self._post(number, lane)
        finally:
            self.lanes.put_nowait(lane)
        if status >= 300:
            raise LoadError(f"POST {self.path} → {status} {body[:120]!r}")

    async def close(self) -> None:
        for lane in self.opened:
            await lane.__aexit__(None, None, None)


class _RelayPublisher:
    concurrency = 1

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def send(self, number: int) -> None:
        await self.conn.execute(_RELAY_NOTIFY, RELAY_CHANNEL, number, publish.BODY)

    async def close(self) -> None:
        await self.conn.close()


async def _deliver(ctx: Context, spec: LoadSpec, publisher: publish.Publisher) -> Collected:
    size = ctx.size
    async with LoadClient(spec) as load:
        ready = await load.start()
        if ready.connected == 0:
            raise LoadError(f"no subscriber connected: {'; '.join(ready.reasons)}")
        try:
            await publish.paced(publisher, 2, 10)  # warm-up
            await load.collect(2, 20, size.collect_quiet_s)
            await publish.paced(publisher, size.e2e_writes, size.e2e_rate)
            return await load.collect(size.e2e_writes, 60, size.collect_quiet_s)
        finally:
            await publisher.close()


async def run(ctx: Context) -> list[Row]:
    import asyncpg

    infra, size = ctx.infra, ctx.size
    relay_port = free_port()
    relay = await infra.start("pg-relay", python("-m", "bench.baselines.pg_relay", "--port", str(relay_port),
                                                 "--dsn", infra.owner_dsn), port=relay_port)
    hub_a = await infra.start_hub("hub-a")
    hub_b = await infra.start_hub("hub-b")
    problem: str | None = None
    try:
        ctx.log(f"end to end: {size.e2e_subscribers} subscribers on the LISTEN relay")
        relay_result = await _deliver(
            ctx, LoadSpec(url=relay.ws_url(), kind="plain", connections=size.e2e_subscribers, workers=size.workers),
            _RelayPublisher(await asyncpg.connect(infra.owner_dsn)))
        ctx.report.latencies["end to end: LISTEN relay"] = relay_result.histogram
        hub_result: Collected | None = None
        problem = await ctx.hub_problem(hub_b)
        note = ""
        if problem is None:
            author = (await infra.users(1))[0]
            async with infra.owner() as conn:
                post_id = await conn.fetchval(_CREATE_POST, author, f"bench {time.time()}")
            channel = str(ChannelName.thread(post_id))
            writer = await _RestWriter(hub_a, post_id, infra.token(author)).open()
            refused = await writer.probe()
            publisher: publish.Publisher = writer
            if refused:
                await writer.close()
                note = f"REST write not available ({refused}): events appended to the log directly on A's database"
                ctx.log(f"end to end: {note}")
                ctx.report.notes.append(f"end to end: {note}")
                publisher = await publish.HubPublisher.open(infra.owner_dsn, channel, "comment.created", 1)
            ctx.log(f"end to end: {size.e2e_subscribers} subscribers on hub B, writes on hub A")
            spec = LoadSpec(url=hub_b.ws_url(), kind="hub", connections=size.e2e_subscribers, workers=size.workers,
                            channel=channel, tokens=tuple(await infra.tokens(size.e2e_subscribers)),
                            event_name="comment.created")
            hub_result = await _deliver(ctx, spec, publisher)
            ctx.report.latencies["end to end: hub A → hub B"] = hub_result.histogram
    finally:
        for server in (relay, hub_a, hub_b):
            await infra.stop(server)

    expected = size.e2e_writes * size.e2e_subscribers

    def detail(who: str, result: Collected | None) -> str:
        if result is None:
            return ""
        p50 = result.histogram.percentile(0.5)
        return f"{who}: p50 {p50 or 0:.2f} ms, {result.received}/{expected} delivered"

    notes = "; ".join(filter(None, [f"{size.e2e_writes} writes at {size.e2e_rate:g}/s", note,
                                    detail("hub", hub_result), detail("relay", relay_result)]))
    return [Row("2 end to end", f"{size.e2e_subscribers:,} subscribers on B: p99 commit → receipt", "ms",
                hub_result.histogram.percentile(0.99) if hub_result else None, "asyncpg LISTEN → websockets relay",
                relay_result.histogram.percentile(0.99), higher_is_better=False, goal=1.2, notes=notes,
                unavailable=problem or "")]
