"""The strict gates run with the suite: `mypy --strict` over the packages and `ruff` over the tree."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_mypy_strict_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:]


def test_ruff_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "hub", "channels", "persistence", "tests",
                             "bench"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:]


# A fixed wait in a test, outside a loop (where a sleep paces a poll or a load): the next line asserts on a
# state the machine may not have reached yet, or on an absence the wait cannot prove. Tests wait on a
# condition with a deadline (tests/helpers/eventually.py) or, for "nothing else arrives", on a marker sent
# after. The waits left are the fault's or the clock's own length, named here with why each is fine.
FIXED_WAITS_ALLOWED = {
    ("tests/integration/test_multi_instance.py", "await asyncio.sleep(1.0)"):
        "the Redis outage's length (the fault), not a wait for a state",
    ("tests/integration/test_relay.py", "await asyncio.sleep(1.0)"):
        "the PostgreSQL outage's length (the fault), not a wait for a state",
    ("tests/integration/test_postgres_restart.py", "await asyncio.sleep(OUTAGE_S)"):
        "the PostgreSQL outage's length (the fault), not a wait for a state",
    ("tests/integration/test_ws_protocol.py", "await asyncio.sleep(2.5)"):
        "lets the first token's expiry pass on the clock, which is the claim; a slow machine lets more pass",
    ("tests/unit/test_tokens.py", "time.sleep(max(0.0, exp - time.time()) + 0.05)"):
        "lets the token's expiry pass on the clock, which is the claim",
    ("tests/browser/test_pages.py", "await page.wait_for_timeout(9_000)"):
        "lets the first access token's expiry pass on the clock while the page stays open, which is the claim",
    ("tests/browser/test_hub_client.py", "await asyncio.sleep(0.5)"):
        "a stopped client schedules nothing that could be waited for; a slow machine can only hide a wrong "
        "reconnect, never fail a right client",
    ("tests/integration/test_event_log.py", "await asyncio.sleep(0.001 * (n % 5))"):
        "holds the head lock a little inside each concurrent writer, to force queueing: load, not a wait",
    ("tests/integration/test_live_room_scale.py", "await asyncio.sleep(0.6)"):
        "lets the last presence window close so its frames are counted; the frame counts are bounded from "
        "above, so a slow machine only lowers them",
}
_SLEEPS = {("asyncio", "sleep"), ("time", "sleep"), ("anyio", "sleep")}


def _fixed_waits(path: Path) -> list[tuple[int, str]]:
    """(line, source) of each sleep of a non-zero length outside a loop (Playwright's `wait_for_timeout` too)."""
    source = path.read_text()
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def in_loop(node: ast.AST) -> bool:
        while (node := parents.get(node)) is not None:  # type: ignore[assignment]
            if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
                return True
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return False
        return False

    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        func = node.func
        owner = func.value.id if isinstance(func.value, ast.Name) else None
        sleep = (owner, func.attr) in _SLEEPS or func.attr == "wait_for_timeout"
        if not sleep or in_loop(node):
            continue
        length = node.args[0] if node.args else None
        if isinstance(length, ast.Constant) and length.value == 0:
            continue  # a yield to the loop, not a wait
        segment = ast.get_source_segment(source, node) or ""
        parent = parents.get(node)
        if isinstance(parent, ast.Await):
            segment = f"await {segment}"
        found.append((node.lineno, segment))
    return found


def test_no_test_sleeps_a_fixed_time_and_then_asserts() -> None:
    seen: set[tuple[str, str]] = set()
    offending = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("tests/helpers/"):
            continue  # the waiting helpers themselves
        for line, segment in _fixed_waits(path):
            seen.add((relative, segment))
            if (relative, segment) not in FIXED_WAITS_ALLOWED:
                offending.append(f"{relative}:{line}: {segment}")
    assert not offending, "wait on a condition with a deadline instead (tests/helpers/eventually.py):\n" + \
        "\n".join(offending)
    assert not set(FIXED_WAITS_ALLOWED) - seen, f"stale allow-list entries: {set(FIXED_WAITS_ALLOWED) - seen}"
