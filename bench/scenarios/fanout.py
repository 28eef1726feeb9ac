"""Scenario 1, fan-out: one channel, N subscribers, events at a fixed rate and then as fast as the
server takes them. The hub against a plain `websockets.broadcast` server, a minimal Litestar
`send_text` loop and a `picows` broadcast server (the near-limit anchor), the same load client for
all four, interleaved per subscriber count."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench import publish
from bench.context import Context
from bench.load import Collected, LoadClient, LoadError, LoadSpec
from bench.notify_probe import NotifyProbe
from bench.report import Row, skipped
from bench.servers import free_port, python, uvicorn
from bench.sizes import paced_events, paced_rate
from bench.stats import Histogram
from channels.names import ChannelName

FEED = str(ChannelName.feed())  # the channel every fan-out run uses
PICOWS = "picows broadcast"
WARMUP_EVENTS = 3


@dataclass
class FanoutResult:
    subscribers: int
    rate: float  # of the paced phase
    paced_events: int
    flood_events: int
    fixed: Collected
    flood: Collected
    flood_started: float
    hop: Histogram | None = None  # the hub's paced events: created_at → a LISTEN connection's receipt

    @property
    def deliveries_per_s(self) -> float:
        if self.flood.last_recv is None:
            return 0.0
        return self.flood.received / max(1e-6, self.flood.last_recv - self.flood_started)

    @property
    def lost(self) -> int:
        expected = self.subscribers * (self.paced_events + self.flood_events)
        return max(0, expected - self.fixed.received - self.flood.received)


async def measure(ctx: Context, spec: LoadSpec,
                  open_publisher: Callable[[], Awaitable[publish.FloodPublisher]],
                  probe_dsn: str | None = None) -> FanoutResult:
    """Connects `spec`, then: a warm-up, the paced phase, the flood phase. With `probe_dsn` (the hub), the
    paced phase's database hop is measured too (:mod:`bench.notify_probe`)."""
    size = ctx.size
    rate, events = paced_rate(size, spec.connections), paced_events(size, spec.connections)
    async with LoadClient(spec) as load:
        ready = await load.start()
        if ready.connected == 0:
            raise LoadError(f"no subscriber connected: {'; '.join(ready.reasons)}")
        if ready.failed:
            ctx.log(f"  {ready.failed} of {spec.connections} subscribers failed: {'; '.join(ready.reasons)}")
        publisher = await open_publisher()
        probe = await NotifyProbe.open(probe_dsn) if probe_dsn else None
        hop = None
        try:
            await publish.paced(publisher, WARMUP_EVENTS, 10)
            await load.collect(WARMUP_EVENTS, 20, size.collect_quiet_s)
            if probe is not None:
                probe.take()
            await publish.paced(publisher, events, rate)
            fixed = await load.collect(events, 60, size.collect_quiet_s)
            if probe is not None:
                hop = probe.take()
                await probe.close()
                probe = None  # its LISTEN would cost the database one more transaction per flood event
            flood_started = time.time()
            await publish.flood(publisher, size.max_events)
            flood = await load.collect(size.max_events, 120, size.collect_quiet_s)
        finally:
            if probe is not None:
                await probe.close()
            await publisher.close()
    return FanoutResult(ready.connected, rate, events, size.max_events, fixed, flood, flood_started, hop)


async def client_delay(ctx: Context, url: str, connections: int) -> Collected:
    """The load client's own delay at the paced phase's frame rate: every connection sends frames to an
    echo server at the paced rate, so the client handles as many frames per second as it receives in the
    paced phase, and each frame's latency is its round trip through a server that does nothing else."""
    size = ctx.size
    rate, events = paced_rate(size, connections), paced_events(size, connections)
    async with LoadClient(plain_spec(url, connections, ctx)) as load:
        ready = await load.start()
        if ready.connected == 0:
            raise LoadError(f"no echo connection: {'; '.join(ready.reasons)}")
        await load.send(WARMUP_EVENTS, 10)
        await load.collect(WARMUP_EVENTS, 20, size.collect_quiet_s)
        await load.send(events, rate)
        return await load.collect(events, 60, size.collect_quiet_s)


def plain_spec(url: str, subscribers: int, ctx: Context) -> LoadSpec:
    return LoadSpec(url=url, kind="plain", connections=subscribers, workers=ctx.size.workers)


async def hub_spec(url: str, subscribers: int, ctx: Context, channel: str = FEED) -> LoadSpec:
    return LoadSpec(url=url, kind="hub", connections=subscribers, workers=ctx.size.workers, channel=channel,
                    tokens=tuple(await ctx.infra.tokens(subscribers)))


async def measure_hub(ctx: Context, url: str, subscribers: int) -> FanoutResult:
    """The hub's fan-out at `subscribers` (cached per repetition: the peers scenario reuses it)."""
    key = f"hub-fanout-{subscribers}-{ctx.repetition}"
    if key not in ctx.cache:
        spec = await hub_spec(url, subscribers, ctx)
        ctx.cache[key] = await measure(ctx, spec, lambda: publish.HubPublisher.open(ctx.infra.owner_dsn, FEED),
                                       probe_dsn=ctx.infra.owner_dsn)
    result: FanoutResult = ctx.cache[key]
    return result


def compare(ctx: Context, scenario: str, hub: FanoutResult | None, unavailable: str, baseline: str,
            base: FanoutResult, goal: float | None, latency_goal: float | None = None) -> list[Row]:
    """The two rows of one comparison: throughput at the maximum rate (`goal`), p99 at the fixed rate
    (`latency_goal`)."""
    n = base.subscribers

    def latency_notes(result: FanoutResult | None, who: str) -> str:
        if result is None:
            return ""
        p50, p99 = result.fixed.histogram.percentile(0.5), result.fixed.histogram.percentile(0.99)
        flood_p99 = result.flood.histogram.percentile(0.99)
        lost = result.lost
        closed = f", closed {dict(result.flood.closed | result.fixed.closed)}" if (result.flood.closed or
                                                                                    result.fixed.closed) else ""
        return (f"{who}: p50 {_ms(p50)}, p99 {_ms(p99)} at {result.rate:g}/s; p99 {_ms(flood_p99)} at max"
                f"{f', lost {lost}' if lost else ''}{closed}{_hop_notes(result)}")

    notes = "; ".join(filter(None, [latency_notes(hub, "hub"), latency_notes(base, baseline)]))
    return [
        Row(scenario, f"{n:,} subscribers, max rate: deliveries/s", "/s",
            hub.deliveries_per_s if hub else None, baseline, base.deliveries_per_s, goal=goal,
            notes=f"{base.flood_events} events (the hub's committed {publish.FLOOD_BATCH} per transaction)",
            unavailable=unavailable),
        Row(scenario, f"{n:,} subscribers, {base.rate:g} events/s: p99 latency", "ms",
            hub.fixed.histogram.percentile(0.99) if hub else None, baseline,
            base.fixed.histogram.percentile(0.99), higher_is_better=False, goal=latency_goal, notes=notes,
            unavailable=unavailable),
    ]


def _hop_notes(result: FanoutResult) -> str:
    """The database hop of the paced phase and what the hub's latency is without it (percentile minus
    percentile: the hop varies little, so this is close to the hub's own part)."""
    if result.hop is None or result.hop.total == 0:
        return ""
    parts = []
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        hop, total = result.hop.percentile(fraction), result.fixed.histogram.percentile(fraction)
        parts.append(f"{label} {_ms(hop)}" + (f" (hub minus it {_ms(total - hop)})"
                                                if hop is not None and total is not None else ""))
    return f"; of which database hop (created_at → LISTEN receipt) {', '.join(parts)}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


async def run(ctx: Context) -> list[Row]:
    infra = ctx.infra
    ws_port, ls_port = free_port(), free_port()
    plain = await infra.start("ws-broadcast", python("-m", "bench.baselines.ws_broadcast", "--port", str(ws_port)),
                              port=ws_port)
    litestar = await infra.start("litestar-loop", uvicorn("bench.baselines.litestar_loop:app", ls_port),
                                 port=ls_port)
    anchor = None
    if importlib.util.find_spec("picows"):
        pw_port = free_port()
        anchor = await infra.start("picows-broadcast", python("-m", "bench.baselines.picows_broadcast", "--port",
                                                              str(pw_port)), port=pw_port)
    hub = await infra.start_hub("hub-fanout")
    problem = await ctx.hub_problem(hub)
    rows: list[Row] = []
    try:
        for n in ctx.size.fanout_subscribers:
            ctx.log(f"fan-out: {n} subscribers on websockets.broadcast")
            ws_result = await measure(ctx, plain_spec(plain.ws_url(), n, ctx),
                                      lambda: publish.PlainPublisher.open(plain.ws_url("/pub")))
            ctx.log(f"fan-out: {n} subscribers on the minimal Litestar loop")
            ls_result = await measure(ctx, plain_spec(litestar.ws_url(), n, ctx),
                                      lambda: publish.PlainPublisher.open(litestar.ws_url("/pub")))
            pw_result = None
            if anchor is not None:
                ctx.log(f"fan-out: {n} subscribers on picows")
                pw_result = await measure(ctx, plain_spec(anchor.ws_url(), n, ctx),
                                          lambda: publish.PlainPublisher.open(anchor.ws_url("/pub")))
            hub_result = None
            if problem is None:
                ctx.log(f"fan-out: {n} subscribers on the hub")
                hub_result = await measure_hub(ctx, hub.ws_url(), n)
            unavailable = problem or ""
            rows += compare(ctx, "1 fan-out", hub_result, unavailable, "minimal Litestar send_text loop",
                            ls_result, goal=1.0)
            rows += compare(ctx, "1 fan-out", hub_result, unavailable, "websockets.broadcast", ws_result, goal=0.8,
                            latency_goal=1.0)
            if pw_result is not None:
                rows += compare(ctx, "1 fan-out", hub_result, unavailable, PICOWS, pw_result, goal=1.0,
                                latency_goal=1.2)
                if n == max(ctx.size.fanout_subscribers) and anchor is not None:
                    ctx.log(f"fan-out: the load client's own delay, {n} connections echoing on picows")
                    echo = await client_delay(ctx, anchor.ws_url("/echo"), n)
                    rows.append(Row(
                        "1 fan-out", f"{n:,} subscribers, {pw_result.rate:g} events/s: p99 latency", "ms",
                        hub_result.fixed.histogram.percentile(0.99) if hub_result else None,
                        "the load client's own round trip (picows echo, same frames per second)",
                        echo.histogram.percentile(0.99), higher_is_better=False, unavailable=unavailable,
                        notes=f"echo: p50 {_ms(echo.histogram.percentile(0.5))}, p99 "
                              f"{_ms(echo.histogram.percentile(0.99))}, {echo.received:,} frames back"))
            else:
                rows.append(skipped("1 fan-out", f"{n:,} subscribers, fan-out", PICOWS,
                                    "picows not installed (pip install -e '.[bench]')"))
            if n == max(ctx.size.fanout_subscribers):
                for label, result in (("hub", hub_result), ("websockets.broadcast", ws_result),
                                      ("Litestar loop", ls_result), ("picows", pw_result)):
                    if result is not None:
                        ctx.report.latencies[f"fan-out {n} subs, {result.rate:g}/s: {label}"] = \
                            result.fixed.histogram
    finally:
        for server in (plain, litestar, anchor, hub):
            if server is not None:
                await infra.stop(server)
    return rows
