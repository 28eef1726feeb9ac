"""`python -m bench all|fanout|e2e|idle|votes|peers|rest|threads|search [--size tiny|small|full] [--out DIR]`

Runs the scenarios with progress on stderr, prints the table on stdout, and writes
`<out>/<date>.md` (default `bench/results/`) with a PNG of the latency distributions.
A scenario that fails becomes a row saying so; the run goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path

from bench.context import Context
from bench.infra import Infra
from bench.report import Report, machine, skipped, table
from bench.scenarios import SCENARIOS, relay
from bench.sizes import SIZES

RESULTS = Path(__file__).resolve().parent / "results"
# Run by name only, not by `all`: it starts a Redis Cluster and up to 4 instances per mode (minutes).
ON_DEMAND = {"relay": relay.run}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run(names: list[str], size: str, out: Path) -> Report:
    # SIGTERM cancels the run, so the servers it started are stopped and its database dropped.
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    report = Report(size=size, started=datetime.now(), machine=machine())
    infra = Infra(log)
    try:
        await infra.open()
        ctx = Context(SIZES[size], infra, report, log)
        for name in names:
            log(f"scenario {name} ({size})")
            started = time.monotonic()
            try:
                report.rows += await (SCENARIOS | ON_DEMAND)[name](ctx)
            except Exception as exc:
                log(f"scenario {name} failed:\n{traceback.format_exc()}")
                report.rows.append(skipped(name, "scenario", "-", f"error: {type(exc).__name__}: {exc}"))
            log(f"scenario {name} done in {time.monotonic() - started:.1f} s")
    finally:
        await infra.close()
    path, plot = report.write(out)
    log(f"results written to {path}" + (f" and {plot}" if plot else ""))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["all", *SCENARIOS, *ON_DEMAND])
    parser.add_argument("--size", choices=list(SIZES), default="small")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the results file and plot")
    args = parser.parse_args(argv)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    report = asyncio.run(run(names, args.size, args.out))
    print(table(report.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
