"""Scenario 9, encodings: the same fan-out on JSON text frames and on `hub.v1.msgpack` binary frames.

One hub, one channel, 1,000 subscribers (fewer at `--size tiny`), all on one encoding at a time; the
publisher floods the log as in the fan-out scenario. Two numbers per encoding:

- bytes per event: websocket payload bytes of the event frames the subscribers received, per frame (what
  each delivery puts on the wire, without the 2 to 4 bytes of frame header);
- CPU per delivery: the hub process's CPU time (`/proc/<pid>/task/*/schedstat`, nanoseconds, all its threads;
  `/proc/<pid>/stat` user + system ticks where schedstat is missing) from just before the
  flood until every subscriber has it, divided by the deliveries. It includes reading the events from
  PostgreSQL and everything else the hub does meanwhile, the same for both encodings; the hub encodes
  each event once per encoding, so the difference is mostly the per-connection write path.

Encodings alternate (JSON, msgpack, JSON, msgpack) on fresh connections and each row takes the mean of
its two runs, so drift on a busy machine falls on both sides (one run each at `--size tiny`, the smoke test).
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench import publish
from bench.context import Context
from bench.load import LoadClient, LoadError
from bench.report import Row
from bench.scenarios.fanout import FEED, WARMUP_EVENTS, hub_spec
from bench.servers import Server

SCENARIO = "9 encoding"
SUBSCRIBERS = 1000
ROUNDS = 2
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class EncodingRun:
    deliveries: int
    payload_bytes: int
    cpu_s: float

    @property
    def bytes_per_event(self) -> float:
        return self.payload_bytes / max(1, self.deliveries)

    @property
    def cpu_us_per_delivery(self) -> float:
        return self.cpu_s * 1e6 / max(1, self.deliveries)


def cpu_seconds(pid: int) -> float:
    """CPU time of process `pid` so far: the sum of its threads' time on a CPU (first field of each
    /proc/<pid>/task/<tid>/schedstat, in ns), or tick-grained user + system time (fields 14 and 15 of
    /proc/<pid>/stat) where the kernel keeps no schedstat. Threads that already ended are not counted."""
    if Path(f"/proc/{pid}/schedstat").exists():
        return sum(_thread_ns(task) for task in Path(f"/proc/{pid}/task").iterdir()) / 1e9
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _thread_ns(task: Path) -> int:
    try:
        return int((task / "schedstat").read_text().split()[0])
    except OSError:  # the thread ended meanwhile
        return 0


async def measure(ctx: Context, hub: Server, subscribers: int, encoding: str) -> EncodingRun:
    spec = dataclasses.replace(await hub_spec(hub.ws_url(), subscribers, ctx), encoding=encoding)
    events = ctx.size.max_events
    async with LoadClient(spec) as load:
        ready = await load.start()
        if ready.connected == 0:
            raise LoadError(f"no {encoding} subscriber connected: {'; '.join(ready.reasons)}")
        publisher = await publish.HubPublisher.open(ctx.infra.owner_dsn, FEED)
        try:
            await publish.paced(publisher, WARMUP_EVENTS, 10)
            await load.collect(WARMUP_EVENTS, 20, ctx.size.collect_quiet_s)
            before = cpu_seconds(hub.process.pid)
            await publish.flood(publisher, events)
            flood = await load.collect(events, 120, ctx.size.collect_quiet_s)
            cpu = cpu_seconds(hub.process.pid) - before
        finally:
            await publisher.close()
    if flood.received < ready.connected * events:
        ctx.log(f"  {encoding}: {flood.received} of {ready.connected * events} deliveries arrived")
    return EncodingRun(flood.received, flood.received_bytes, cpu)


async def run(ctx: Context) -> list[Row]:
    n = min(SUBSCRIBERS, max(ctx.size.fanout_subscribers))
    hub = await ctx.infra.start_hub("hub-encoding")
    try:
        problem = await ctx.hub_problem(hub)
        if problem is not None:
            return [Row(SCENARIO, f"{n:,} subscribers: bytes per event", "B", None, "JSON", None, unavailable=problem)]
        runs: dict[str, list[EncodingRun]] = {"json": [], "msgpack": []}
        rounds = 1 if ctx.size.name == "tiny" else ROUNDS
        for round_ in range(rounds):
            for encoding in runs:
                ctx.log(f"encoding: {n} subscribers on {encoding} (round {round_ + 1} of {rounds})")
                started = time.monotonic()
                runs[encoding].append(await measure(ctx, hub, n, encoding))
                ctx.log(f"  {encoding}: {runs[encoding][-1].bytes_per_event:.0f} B/event, "
                        f"{runs[encoding][-1].cpu_us_per_delivery:.1f} µs CPU/delivery "
                        f"({time.monotonic() - started:.1f} s)")
    finally:
        await ctx.infra.stop(hub)

    def mean(encoding: str, value: str) -> float:
        values = [getattr(r, value) for r in runs[encoding]]
        return float(sum(values)) / len(values)

    events = ctx.size.max_events
    return [
        Row(SCENARIO, f"{n:,} subscribers: bytes per event (msgpack vs JSON)", "B",
            mean("msgpack", "bytes_per_event"), "JSON", mean("json", "bytes_per_event"), higher_is_better=False,
            notes=f"event frame payload; {events} events of {len(publish.BODY)}-char body"),
        Row(SCENARIO, f"{n:,} subscribers: hub CPU per delivery (msgpack vs JSON)", "µs",
            mean("msgpack", "cpu_us_per_delivery"), "JSON", mean("json", "cpu_us_per_delivery"),
            higher_is_better=False,
            notes=f"hub process CPU over a {events}-event flood / deliveries; {len(runs['json'])} run(s) each, mean"),
    ]
