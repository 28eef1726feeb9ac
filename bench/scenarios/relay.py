"""Relay mode (FANOUT=relay) against notify mode, on a local Redis Cluster (3 masters + 3 replicas).

1. Work on unserved channels: 4 hub instances, 1,000 `thread:` channels, each with its subscriber on one
   instance only (channel i on instance i mod 4). Events are committed round-robin over the channels, one per
   transaction, as fast as 4 connections go. Per instance: durable notes it received per second, the share
   of them for channels it does not serve, and the CPU it used (% of one core) over the flood.
2. End to end: p99 commit → receipt at N subscribers of one channel on instance B, writes on A, both modes.
3. Relay failover: events committed every 10 ms, a subscriber on a standby; the relay holder is SIGKILLed.
   Reported: kill → a standby relaying (its /readyz), and the longest pause between two deliveries.
4. Relay throughput: the events of phase 1 committed in one transaction over the 1,000 channels, so the relay
   gets them as one burst of notifications; time from the commit until its published counter has them all.

The cluster comes from the test harness (tests/helpers/redis_cluster.py): the same servers the relay tests use.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import msgspec

from bench import publish
from bench.context import Context
from bench.load import Collected, LoadClient, LoadError, LoadSpec, Ready
from bench.report import Row
from bench.servers import Server
from channels.names import ChannelName

INSTANCES = 4
_IDLE_S = 5.0
CHANNELS = 1000
_METRICS_TOKEN = secrets.token_urlsafe(24)
_TICKS = os.sysconf("SC_CLK_TCK")
_CREATE_POSTS = """
INSERT INTO public.community_posts (author_id, title, content)
SELECT $1, 'relay bench ' || g, 'benchmark thread' FROM generate_series(1, $2::int) AS g RETURNING id
"""


def _cpu_s(server: Server) -> float:
    fields = open(f"/proc/{server.process.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


async def _metric(http: httpx.AsyncClient, server: Server, name: str) -> float:
    text = (await http.get(f"{server.http_url}/metrics", headers={"Authorization": f"Bearer {_METRICS_TOKEN}"})).text
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def _until(done: Callable[[], bool], within_s: float) -> None:
    """Until `done()` or `within_s` passed (the count then reports what was missing)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if done():
            return
        await asyncio.sleep(0.05)


def _env(mode: str, cluster_url: str) -> dict[str, str]:
    # One socket subscribes to a quarter of the channels at once: its frame budget must allow it.
    env = {"METRICS_TOKEN": _METRICS_TOKEN, "WS_MAX_SUBSCRIPTIONS": str(CHANNELS), "RELAY_STANDBY_POLL": "0.2",
           "WS_FRAME_RATE": "10000", "WS_FRAME_BURST": "100000"}
    if mode == "relay":
        env |= {"FANOUT": "relay", "REDIS_CLUSTER": "1", "REDIS_URL": cluster_url}
    return env


async def _hubs(ctx: Context, phase: str, mode: str, cluster_url: str, count: int) -> list[Server]:
    # Named by phase too: each phase's logs stay for a look after the run.
    hubs = [await ctx.infra.start_hub(f"{phase}-{mode}-{i}", **_env(mode, cluster_url)) for i in range(count)]
    async with httpx.AsyncClient(timeout=5) as http:
        deadline = time.monotonic() + 60
        while True:
            answers = [await http.get(f"{h.http_url}/readyz") for h in hubs]
            relaying = [a.json().get("relay") == "relaying" for a in answers if a.status_code == 200]
            if len(relaying) == len(hubs) and (mode == "notify" or sum(relaying) == 1):
                return hubs
            if time.monotonic() > deadline:
                raise LoadError(f"{mode} hubs not ready: {[a.status_code for a in answers]}")
            await asyncio.sleep(0.2)


class _Subscriber:
    """One websocket on one hub subscribed to many channels; counts event frames."""

    def __init__(self) -> None:
        self.received = 0
        self.arrivals: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._ws: Any = None

    async def open(self, server: Server, token: str, channels: list[str]) -> None:
        from websockets.asyncio.client import connect

        self._ws = await connect(server.ws_url(), ping_interval=None, max_size=1 << 22, max_queue=None)
        await self._ws.send(msgspec.json.encode({"op": "auth", "id": 0, "token": token}).decode())
        await self._reply(0)
        for i, channel in enumerate(channels, start=1):
            await self._ws.send(msgspec.json.encode({"op": "subscribe", "id": i, "channel": channel}).decode())
            await self._reply(i)
        self._task = asyncio.create_task(self._count())

    async def _reply(self, request: int) -> None:
        while True:
            frame = msgspec.json.decode(await self._ws.recv())
            if frame.get("id") == request:
                if not frame.get("ok", True):
                    raise LoadError(f"request {request} refused: {frame}")
                return

    async def _count(self) -> None:
        async for message in self._ws:
            if '"op":"event"' in message:
                self.received += 1
                self.arrivals.append(time.monotonic())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._ws is not None:
            await self._ws.close()


async def _unserved(ctx: Context, mode: str, cluster_url: str, channels: list[str], token: str,
                    events: int) -> dict[str, float]:
    hubs = await _hubs(ctx, "unserved", mode, cluster_url, INSTANCES)
    subscribers = [_Subscriber() for _ in hubs]
    lanes = await publish.Lanes.open(ctx.infra.owner_dsn, 4)
    try:
        for k, (hub, sub) in enumerate(zip(hubs, subscribers, strict=True)):
            await sub.open(hub, token, channels[k::INSTANCES])
        async with httpx.AsyncClient(timeout=10) as http:
            notes = f'hub_durable_notes_received_total{{path="{mode}"}}'
            holding = [await _metric(http, h, "hub_relay_holding") == 1.0 for h in hubs]
            # What the instances cost doing nothing, subtracted below: the flood's own cost is what is compared.
            idle_before = [_cpu_s(h) for h in hubs]
            await asyncio.sleep(_IDLE_S)
            idle = [(_cpu_s(h) - c) / _IDLE_S for h, c in zip(hubs, idle_before, strict=True)]
            before = [await _metric(http, h, notes) for h in hubs]
            cpu_before = [_cpu_s(h) for h in hubs]
            started = time.monotonic()
            gate = asyncio.Semaphore(4)

            async def one(n: int) -> None:
                async with gate:
                    await lanes.execute(publish._APPEND, channels[n % len(channels)], "post.created",
                                        msgspec.json.encode(publish.event_data(n)).decode())

            await asyncio.gather(*(one(n) for n in range(events)))
            committed_s = time.monotonic() - started
            await _until(lambda: sum(s.received for s in subscribers) >= events, 60)
            elapsed = time.monotonic() - started
            cpu = [(_cpu_s(h) - c) / elapsed * 100 for h, c in zip(hubs, cpu_before, strict=True)]
            # CPU seconds above idle, per 1,000 events committed (on all channels), per instance.
            work = [max(0.0, _cpu_s(h) - c - i * elapsed) * 1000 / events * 1000
                    for h, c, i in zip(hubs, cpu_before, idle, strict=True)]
            received = [await _metric(http, h, notes) - b for h, b in zip(hubs, before, strict=True)]
            published = sum([await _metric(http, h, "hub_relay_published_total") for h in hubs])
            joins = sum([await _metric(http, h, "hub_shard_joins_total") for h in hubs])
    finally:
        await lanes.close()
        for sub in subscribers:
            await sub.close()
        for hub in hubs:
            await ctx.infra.stop(hub)
    served = events / INSTANCES
    others = [c for c, held in zip(cpu, holding, strict=True) if not held]
    relaying = next((c for c, held in zip(cpu, holding, strict=True) if held), 0.0)
    others_work = [w for w, held in zip(work, holding, strict=True) if not held]
    return {"cpu_non_relay_pct": sum(others) / len(others), "cpu_relay_pct": relaying,
            "work_ms_per_1000": sum(others_work) / len(others_work),
            "relay_work_ms_per_1000": next((w for w, held in zip(work, holding, strict=True) if held), 0.0),
            "idle_pct": sum(idle) / len(idle) * 100, "published": published, "joins": joins,
            "events_per_s": events / committed_s, "elapsed_s": elapsed,
            "delivered": float(sum(s.received for s in subscribers)),
            "unserved_per_s": sum(max(0.0, r - served) for r in received) / INSTANCES / elapsed,
            "received_per_instance": sum(received) / INSTANCES, "cpu_pct": sum(cpu) / INSTANCES}


def _refusals(ready: Ready) -> str:
    """How many subscribers did not connect and why (the distinct reasons the load workers sampled)."""
    if not ready.failed:
        return ""
    reasons = sorted({re.sub(r"\s+", " ", reason)[:120] for reason in ready.reasons})
    return f" ({ready.failed} failed: {'; '.join(reasons)})"


async def _e2e(ctx: Context, mode: str, cluster_url: str, channel: str) -> tuple[Collected, Ready]:
    """What the subscribers collected, and how many of them connected (or why not)."""
    size = ctx.size
    hub_a, hub_b = await _hubs(ctx, "e2e", mode, cluster_url, 2)
    try:
        spec = LoadSpec(url=hub_b.ws_url(), kind="hub", connections=size.e2e_subscribers, workers=size.workers,
                        channel=channel, tokens=tuple(await ctx.infra.tokens(size.e2e_subscribers)),
                        event_name="post.created")
        publisher = await publish.HubPublisher.open(ctx.infra.owner_dsn, channel, "post.created", 1)
        async with LoadClient(spec) as load:
            ready = await load.start()
            if ready.connected == 0:
                raise LoadError(f"no subscriber connected: {'; '.join(ready.reasons)}")
            if ready.failed:
                ctx.log(f"  {mode}: {ready.connected} of {spec.connections} subscribers connected{_refusals(ready)}")
            try:
                await publish.paced(publisher, 2, 10)  # warm-up
                await load.collect(2, 20, size.collect_quiet_s)
                await publish.paced(publisher, size.e2e_writes, size.e2e_rate)
                return await load.collect(size.e2e_writes, 60, size.collect_quiet_s), ready
            finally:
                await publisher.close()
    finally:
        await ctx.infra.stop(hub_a)
        await ctx.infra.stop(hub_b)


async def _failover(ctx: Context, cluster_url: str, channel: str, token: str) -> tuple[float, float, int]:
    """(kill → a standby relaying, s; longest pause between deliveries, s; events lost)."""
    hubs = await _hubs(ctx, "failover", "relay", cluster_url, 3)
    sub = _Subscriber()
    lanes = await publish.Lanes.open(ctx.infra.owner_dsn, 1)
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            states = [(await http.get(f"{h.http_url}/readyz")).json().get("relay") for h in hubs]
            holder = hubs[states.index("relaying")]
            standbys = [h for h in hubs if h is not holder]
            await sub.open(standbys[0], token, [channel])
            stop = asyncio.Event()
            written = 0

            async def write() -> None:
                nonlocal written
                while not stop.is_set():
                    await lanes.execute(publish._APPEND, channel, "post.created",
                                        msgspec.json.encode(publish.event_data(written)).decode())
                    written += 1
                    await asyncio.sleep(0.01)

            writer = asyncio.create_task(write())
            await asyncio.sleep(1.0)  # a stream before the fault
            holder.process.kill()
            killed = time.monotonic()
            took_over = 0.0
            while not took_over:
                for h in standbys:
                    answer = await http.get(f"{h.http_url}/readyz")
                    if answer.status_code == 200 and answer.json().get("relay") == "relaying":
                        took_over = time.monotonic() - killed
                await asyncio.sleep(0.01)
                if time.monotonic() - killed > 30:
                    raise LoadError("no standby took over within 30 s")
            await asyncio.sleep(1.0)  # a stream after it
            stop.set()
            await writer
            await _until(lambda: sub.received >= written, 10)
        gaps = [b - a for a, b in zip(sub.arrivals, sub.arrivals[1:], strict=False)]
        return took_over, max(gaps, default=0.0), written - sub.received
    finally:
        await lanes.close()
        await sub.close()
        for hub in hubs:
            await ctx.infra.stop(hub)


_BURST = """
SELECT realtime.append_event(($1::text[])[g % array_length($1::text[], 1) + 1], 'post.created',
                             jsonb_build_object('n', g, 'body', $3::text))
FROM generate_series(1, $2::int) AS g
"""


async def _throughput(ctx: Context, cluster_url: str, channels: list[str], events: int) -> tuple[float, float]:
    """(events the relay published per second from one committed burst, its CPU per event in µs)."""
    (hub,) = await _hubs(ctx, "throughput", "relay", cluster_url, 1)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            before = await _metric(http, hub, "hub_relay_published_total")
            cpu_before = _cpu_s(hub)
            async with ctx.infra.owner() as conn:
                async with conn.transaction():
                    await conn.execute(_BURST, channels, events, publish.BODY)
                committed = time.monotonic()
            while await _metric(http, hub, "hub_relay_published_total") - before < events:
                if time.monotonic() - committed > 60:
                    raise LoadError("the relay did not publish the burst within 60 s")
                await asyncio.sleep(0.01)
            took = time.monotonic() - committed
            return events / took, (_cpu_s(hub) - cpu_before) / events * 1e6
    finally:
        await ctx.infra.stop(hub)


async def run(ctx: Context) -> list[Row]:
    from tests.helpers.redis_cluster import redis_cluster

    size = ctx.size
    events = {"tiny": 2_000, "small": 10_000}.get(size.name, 30_000)
    author = (await ctx.infra.users(1))[0]
    token = ctx.infra.token(author)
    async with ctx.infra.owner() as conn:
        posts = [row["id"] for row in await conn.fetch(_CREATE_POSTS, author, CHANNELS)]
    channels = [str(ChannelName.thread(p)) for p in posts]
    rows: list[Row] = []
    async with redis_cluster() as cluster:
        ctx.log(f"relay: cluster up at {cluster.url}")
        work: dict[str, dict[str, float]] = {}
        for mode in ("notify", "relay"):
            ctx.log(f"relay: {events} events over {CHANNELS} channels, {INSTANCES} instances, {mode} mode")
            work[mode] = await _unserved(ctx, mode, cluster.url, channels, token, events)
            ctx.log(f"relay: {mode}: {work[mode]}")
        n, r = work["notify"], work["relay"]
        common = (f"{events} events over {CHANNELS} channels (1 per transaction, 4 writers), {INSTANCES} "
                  f"instances, each channel served by one; committed at {n['events_per_s']:.0f}/s (notify), "
                  f"{r['events_per_s']:.0f}/s (relay); delivered {n['delivered']:.0f} / {r['delivered']:.0f}")
        rows.append(Row("relay 1", "notes on unserved channels reaching an instance", "/s", r["unserved_per_s"],
                        "notify mode", n["unserved_per_s"], higher_is_better=False, notes=common))
        rows.append(Row("relay 1", "CPU above idle per 1,000 events committed, per instance not relaying", "ms",
                        r["work_ms_per_1000"], "notify mode (all 4)", n["work_ms_per_1000"], higher_is_better=False,
                        notes=f"the relaying instance: {r['relay_work_ms_per_1000']:.0f} ms; idle CPU per "
                              f"instance {r['idle_pct']:.1f} % (relay), {n['idle_pct']:.1f} % (notify)"))
        rows.append(Row("relay 1", "CPU per instance not relaying, during the flood", "% core",
                        r["cpu_non_relay_pct"], "notify mode (all 4)", n["cpu_pct"], higher_is_better=False,
                        notes=f"the relaying instance: {r['cpu_relay_pct']:.1f} % core; notes received per "
                              f"instance: {r['received_per_instance']:.0f} (relay), "
                              f"{n['received_per_instance']:.0f} (notify)"))
        latencies: dict[str, Collected] = {}
        ready: dict[str, Ready] = {}
        for mode in ("notify", "relay"):
            channel = channels[0] if mode == "notify" else channels[1]
            ctx.log(f"relay: end to end, {size.e2e_subscribers} subscribers, {mode} mode")
            latencies[mode], ready[mode] = await _e2e(ctx, mode, cluster.url, channel)
            ctx.report.latencies[f"end to end ({mode} mode)"] = latencies[mode].histogram
        expected = size.e2e_writes * size.e2e_subscribers
        rows.append(Row("relay 2", f"{size.e2e_subscribers:,} subscribers on B: p99 commit → receipt", "ms",
                        latencies["relay"].histogram.percentile(0.99), "notify mode",
                        latencies["notify"].histogram.percentile(0.99), higher_is_better=False,
                        notes=f"{size.e2e_writes} writes at {size.e2e_rate:g}/s; delivered "
                              f"{latencies['relay'].received}/{expected} (relay), "
                              f"{latencies['notify'].received}/{expected} (notify); subscribers connected "
                              f"{ready['relay'].connected}{_refusals(ready['relay'])} / "
                              f"{ready['notify'].connected}{_refusals(ready['notify'])}; closes "
                              f"{dict(latencies['relay'].closed)} / {dict(latencies['notify'].closed)}"))
        ctx.log("relay: failover")
        took_over, pause, lost = await _failover(ctx, cluster.url, channels[2],
                                                 token)
        rows.append(Row("relay 3", "relay holder SIGKILLed: a standby relaying after", "s", took_over, "-", None,
                        higher_is_better=False,
                        notes=f"RELAY_STANDBY_POLL 0.2 s; longest pause between deliveries {pause:.3f} s; "
                              f"events not delivered: {lost}"))
        ctx.log("relay: throughput")
        rate, cpu_us = await _throughput(ctx, cluster.url, channels, events)
        rows.append(Row("relay 4", f"relay throughput, {events} events committed at once", "events/s", rate, "-",
                        None, notes=f"commit → the relay's published counter at {events}, polled every 10 ms; "
                                    f"the relaying instance's CPU {cpu_us:.0f} µs per event"))
    return rows
