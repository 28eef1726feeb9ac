"""Scenario 3, idle connections: resident memory per idle connection (authenticated and subscribed
to one channel on the hub), with and without permessage-deflate, against a plain `websockets`
server holding the same idle connections.

Each measurement uses a fresh server. A first tenth of the connections absorbs one-time costs
(imports, first-use caches); the figure is the marginal RSS of the other nine tenths, per connection.
The per-process file-descriptor hard limit caps how many one server can hold; the notes say when.
"""

from __future__ import annotations

import asyncio
import math
import resource
from dataclasses import replace

from bench.context import Context
from bench.load import LoadClient, LoadSpec
from bench.report import Row
from bench.servers import Server, free_port, python

GOAL_KIB = 14.0
PER_WORKER = 4000  # connections per load process (each has the same fd limit as the server)
# Handshakes in flight per load process: the figure is memory at rest, not a reconnect storm.
CONNECT_CONCURRENCY = 50
SETTLE_S = 1.0


async def _marginal_kib(ctx: Context, server: Server, spec: LoadSpec) -> tuple[float, int]:
    """(KiB per connection, connections measured)."""
    first = max(1, spec.connections // 10)
    rest = spec.connections - first
    spec = replace(spec, connect_concurrency=CONNECT_CONCURRENCY)
    head = replace(spec, connections=first, workers=1, tokens=spec.tokens[:first])
    tail = replace(spec, connections=rest, workers=max(1, math.ceil(rest / PER_WORKER)), tokens=spec.tokens[first:],
                   source_offset=1)
    async with LoadClient(head) as warm:
        await warm.start()
        await asyncio.sleep(SETTLE_S)
        before = server.rss_kib()
        async with LoadClient(tail) as load:
            ready = await load.start()
            await asyncio.sleep(SETTLE_S)
            after = server.rss_kib()
            if ready.failed:
                ctx.log(f"  {ready.failed} of {rest} connections failed: {'; '.join(ready.reasons)}")
    return (after - before) / max(1, ready.connected), ready.connected


async def run(ctx: Context) -> list[Row]:
    infra = ctx.infra
    rows: list[Row] = []
    hard_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    for n in ctx.size.idle_connections:
        tokens = tuple(await infra.tokens(n))
        results: dict[tuple[str, bool], tuple[float, int]] = {}
        problem: str | None = None
        for compression in (False, True):
            port = free_port()
            argv = python("-m", "bench.baselines.ws_broadcast", "--port", str(port), "--compression",
                          "deflate" if compression else "none")
            plain = await infra.start("ws-idle", argv, port=port)
            try:
                ctx.log(f"idle: {n} connections on websockets, compression {compression}")
                results["plain", compression] = await _marginal_kib(
                    ctx, plain, LoadSpec(url=plain.ws_url(), kind="plain", connections=n, compression=compression))
            finally:
                await infra.stop(plain)
            hub = await infra.start_hub("hub-idle", compression=compression, WS_MAX_CONNECTIONS_PER_USER="10000")
            try:
                problem = await ctx.hub_problem(hub)
                if problem is None:
                    ctx.log(f"idle: {n} connections on the hub, compression {compression}")
                    results["hub", compression] = await _marginal_kib(
                        ctx, hub, LoadSpec(url=hub.ws_url(), kind="hub", connections=n, tokens=tokens,
                                           compression=compression))
            finally:
                await infra.stop(hub)
        for compression in (False, True):
            hub_kib, hub_count = results.get(("hub", compression), (None, 0))
            plain_kib, plain_count = results["plain", compression]
            capped = f"; fd hard limit {hard_limit} per process" if max(hub_count, plain_count) < n * 0.9 else ""
            verdict = "" if hub_kib is None or compression else (" ✓" if hub_kib <= GOAL_KIB else " ✗")
            rows.append(Row(
                "3 idle connections",
                f"{n:,} idle connections, {'permessage-deflate' if compression else 'no compression'}: RSS each",
                "KiB", hub_kib, "websockets server, same connections", plain_kib, higher_is_better=False,
                goal_text="" if compression else f"≤ {GOAL_KIB:g} KiB{verdict}",
                notes=f"measured over {hub_count or plain_count:,} connections (hub: authenticated + 1 subscription)"
                      f"{capped}",
                unavailable=problem or ""))
    return rows
