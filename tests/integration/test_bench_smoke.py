"""The benchmarks at `--size tiny`: not a performance gate, only proof that every scenario still runs
end to end against real servers and prints a row with a measured baseline and a ratio."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("1 fan-out", "2 end to end", "3 idle connections", "4 vote storm", "5 peers", "6 REST reads",
             "7 deep threads", "8 search", "9 encoding")
NUMBER = re.compile(r"^-?[\d,]+(\.\d+)? ")
RATIO = re.compile(r"^\d+(\.\d+)?×$")
# A guard against a hung run, not a speed limit: `tiny` takes about a minute on an idle machine and several
# times that on a machine busy with other work (its pytest timeout is raised to match).
BUDGET_S = 600


def table_rows(stdout: str) -> list[list[str]]:
    rows = []
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| scenario |"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


async def run_bench(scenario: str, out: Path) -> str:
    """`python -m bench <scenario> --size tiny`'s table; fails past the budget or on a non-zero exit."""
    env = {**os.environ}
    if os.environ.get("TEST_DATABASE_URL"):
        env["BENCH_DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
    if os.environ.get("TEST_REDIS_URL"):
        env["BENCH_REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench", scenario, "--size", "tiny", "--out", str(out), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), BUDGET_S)
    except TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)  # the group: the servers it started would outlive it
        await process.wait()
        pytest.fail(f"python -m bench {scenario} --size tiny took longer than {BUDGET_S} s")
    assert process.returncode == 0, stderr.decode()[-3000:]
    return stdout.decode()


def measured_rows(rows: list[list[str]], scenario: str) -> list[list[str]]:
    return [row for row in rows if row[0] == scenario and NUMBER.match(row[4]) and RATIO.match(row[5])]


@pytest.mark.slow
@pytest.mark.timeout(BUDGET_S + 60)
async def test_every_benchmark_scenario_runs_at_tiny_size_and_prints_a_measured_ratio(tmp_path: Path) -> None:
    output = await run_bench("all", tmp_path)
    rows = table_rows(output)
    for scenario in SCENARIOS:
        mine = [row for row in rows if row[0] == scenario]
        assert mine, f"no row for {scenario}:\n{output}"
        peers_skipped = scenario == "5 peers" and all("skipped:" in row[7] for row in mine)
        assert measured_rows(rows, scenario) or peers_skipped, \
            f"{scenario} has no row with a numeric baseline and ratio:\n{output}"
    assert await asyncio.to_thread(lambda: list(tmp_path.glob("*.md"))), "no results file written"


@pytest.mark.slow
@pytest.mark.relay
@pytest.mark.timeout(BUDGET_S + 60)
async def test_the_relay_benchmark_runs_on_a_local_cluster_and_relay_mode_delivers_nothing_unserved(
        tmp_path: Path) -> None:
    output = await run_bench("relay", tmp_path)
    rows = table_rows(output)
    assert measured_rows(rows, "relay 1") and measured_rows(rows, "relay 2"), output
    unserved = next(row for row in rows if row[0] == "relay 1" and row[1].startswith("notes on unserved"))
    assert unserved[2].startswith("0.00 "), f"relay mode delivered notes of channels nobody served:\n{output}"
    failover = next(row for row in rows if row[0] == "relay 3")
    assert "events not delivered: 0" in failover[7], output
