"""REST read load: keep-alive connections in worker processes, each issuing GETs back to back for a
fixed time. Reports requests per second of 2xx answers, errors by status, and a latency histogram."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from bench.http import HttpConnection
from bench.load import raise_fd_limit
from bench.stats import Histogram


@dataclass
class HttpResult:
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    histogram: Histogram = field(default_factory=Histogram)

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


async def hammer(host: str, port: int, path: str, headers: dict[str, str], *, connections: int,
                 workers: int, seconds: float) -> HttpResult:
    """GET `path` over `connections` keep-alive connections in `workers` processes for `seconds`."""
    context = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    procs = []
    workers = max(1, min(workers, connections))
    for index in range(workers):
        share = len(range(index, connections, workers))
        parent_end, child_end = context.Pipe()
        proc = context.Process(target=_worker_main, daemon=True, name=f"bench-http-{index}",
                               args=(child_end, host, port, path, headers, share, seconds, f"127.0.0.{40 + index}"))
        proc.start()
        child_end.close()
        pipes.append(parent_end)
        procs.append(proc)
    result = HttpResult(seconds=seconds)
    try:
        for pipe in pipes:
            if not await asyncio.to_thread(pipe.poll, seconds + 30):
                raise RuntimeError("an HTTP load worker did not report in time")
            report = pipe.recv()
            result.ok += report["ok"]
            result.errors.update(report["errors"])
            result.histogram.merge(Histogram.from_wire(report["histogram"]))
    finally:
        for proc in procs:
            await asyncio.to_thread(proc.join, 5.0)
            if proc.is_alive():
                proc.terminate()
    return result


async def _run(host: str, port: int, path: str, headers: dict[str, str], count: int, seconds: float,
               local_host: str) -> dict[str, Any]:
    histogram = Histogram()
    errors: Counter[str] = Counter()
    ok = 0
    deadline = time.monotonic() + seconds

    async def loop() -> None:
        nonlocal ok
        try:
            async with HttpConnection(host, port, local_host=local_host) as http:
                while time.monotonic() < deadline:
                    started = time.monotonic()
                    status, _ = await http.request("GET", path, headers)
                    if 200 <= status < 300:
                        ok += 1
                        histogram.add((time.monotonic() - started) * 1000.0)
                    else:
                        errors[str(status)] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] += 1

    await asyncio.gather(*(loop() for _ in range(count)))
    return {"ok": ok, "errors": dict(errors), "histogram": histogram.to_wire()}


def _worker_main(pipe: Connection, host: str, port: int, path: str, headers: dict[str, str], count: int,
                 seconds: float, local_host: str) -> None:
    raise_fd_limit()
    try:
        import uvloop
    except ImportError:
        pipe.send(asyncio.run(_run(host, port, path, headers, count, seconds, local_host)))
    else:
        pipe.send(uvloop.run(_run(host, port, path, headers, count, seconds, local_host)))
