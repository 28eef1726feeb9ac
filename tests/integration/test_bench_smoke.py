"""The benchmarks at `--size tiny`: not a performance gate, only proof that every scenario still runs
end to end against real servers and prints a row with a measured baseline and a ratio."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("1 fan-out", "2 end to end", "3 idle connections", "4 vote storm", "5 peers", "6 REST reads",
             "7 deep threads", "8 search")
NUMBER = re.compile(r"^-?[\d,]+(\.\d+)? ")
RATIO = re.compile(r"^\d+(\.\d+)?×$")
# A guard against a hung run, not a speed limit: `tiny` takes about a minute on an idle machine and several
# times that on a machine busy with other work (the suite's default timeout is raised to match).
BUDGET_S = 600


def table_rows(stdout: str) -> list[list[str]]:
    rows = []
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| scenario |"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


@pytest.mark.slow
@pytest.mark.timeout(BUDGET_S + 60)
async def test_every_benchmark_scenario_runs_at_tiny_size_and_prints_a_measured_ratio(tmp_path: Path) -> None:
    env = {**os.environ}
    if os.environ.get("TEST_DATABASE_URL"):
        env["BENCH_DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
    if os.environ.get("TEST_REDIS_URL"):
        env["BENCH_REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench", "all", "--size", "tiny", "--out", str(tmp_path), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), BUDGET_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"python -m bench all --size tiny took longer than {BUDGET_S} s")
    output = stdout.decode()
    assert process.returncode == 0, stderr.decode()[-3000:]

    rows = table_rows(output)
    for scenario in SCENARIOS:
        mine = [row for row in rows if row[0] == scenario]
        assert mine, f"no row for {scenario}:\n{output}"
        measured = [row for row in mine if NUMBER.match(row[4]) and RATIO.match(row[5])]
        peers_skipped = scenario == "5 peers" and all("skipped:" in row[7] for row in mine)
        assert measured or peers_skipped, f"{scenario} has no row with a numeric baseline and ratio:\n{output}"
    assert await asyncio.to_thread(lambda: list(tmp_path.glob("*.md"))), "no results file written"
