"""`python -m bench all|fanout|e2e|idle|votes|peers|rest|threads|search|encoding [--size tiny|small|full]
[--repeat N] [--out DIR]`

Runs the scenarios with progress on stderr, prints the table on stdout, and writes
`<out>/<date>.md` (default `bench/results/`) with a PNG of the latency distributions.
Each scenario runs N times in a row (3, or 1 at `--size tiny`), so hub and baseline measurements
interleave; a row's ratio is the median of the per-repetition ratios, with their spread.
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
from bench.report import Report, Row, machine, merge_latencies, merge_runs, skipped, table
from bench.scenarios import SCENARIOS, relay
from bench.sizes import SIZES

RESULTS = Path(__file__).resolve().parent / "results"
REPEAT = 3
SMOKE_REPEAT = 1  # at --size tiny, which only proves that every scenario still runs
# Run by name only, not by `all`: it starts a Redis Cluster and up to 4 instances per mode (minutes).
ON_DEMAND = {"relay": relay.run}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run(names: list[str], size: str, out: Path, repeat: int) -> Report:
    # SIGTERM cancels the run, so the servers it started are stopped and its database dropped.
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    report = Report(size=size, started=datetime.now(), machine=machine(), repeat=repeat)
    infra = Infra(log)
    latencies = report.latencies
    try:
        await infra.open()
        ctx = Context(SIZES[size], infra, report, log, repeat=repeat)
        for name in names:
            repetitions: list[list[Row]] = []
            for repetition in range(1, repeat + 1):
                ctx.repetition = repetition
                log(f"scenario {name} ({size}), repetition {repetition}/{repeat}")
                started = time.monotonic()
                report.latencies = {}
                try:
                    repetitions.append(await (SCENARIOS | ON_DEMAND)[name](ctx))
                except Exception as exc:
                    log(f"scenario {name} failed:\n{traceback.format_exc()}")
                    repetitions.append([skipped(name, "scenario", "-", f"error: {type(exc).__name__}: {exc}")])
                merge_latencies(latencies, report.latencies)
                log(f"scenario {name} repetition {repetition}/{repeat} done in {time.monotonic() - started:.1f} s")
            report.rows += merge_runs(repetitions)
    finally:
        report.latencies = latencies
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
    parser.add_argument("--repeat", type=int, choices=range(1, 10), metavar="N",
                        help=f"runs of each scenario (default {REPEAT}; {SMOKE_REPEAT} at --size tiny)")
    args = parser.parse_args(argv)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    repeat = args.repeat or (SMOKE_REPEAT if args.size == "tiny" else REPEAT)
    report = asyncio.run(run(names, args.size, args.out, repeat))
    print(table(report.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
