"""Scenario 5, peers: scenario 1's workload (one channel, the paced phase and the flood) on
python-socketio with `AsyncRedisManager` and on Node's socket.io with `@socket.io/redis-adapter`,
against the hub at the same subscriber count. Ratio = hub ÷ peer.

A peer that cannot run here (python-socketio not installed, no node/npm, npm registry unreachable)
is reported as skipped with the reason; the run goes on. At `--size tiny` the Node packages are not
installed on demand (that alone would take longer than the whole smoke run).
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
from pathlib import Path

from bench import publish
from bench.context import Context
from bench.load import LoadSpec
from bench.report import Row, skipped
from bench.scenarios.fanout import FanoutResult, compare, measure, measure_hub
from bench.servers import Server, free_port, uvicorn

NODE_DIR = Path(__file__).resolve().parent.parent / "peers" / "socketio-node"
NPM_TIMEOUT_S = 300
NODE_GOALS = (1.5, 1.0)  # issue #19: max rate ≥ 1.5× Node's, paced p99 ≤ 1.0× its


async def _node_problem(ctx: Context) -> str | None:
    """None when the Node peer can run (installing its packages if allowed); otherwise why not."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not on PATH"
    if (NODE_DIR / "node_modules" / "@socket.io" / "redis-adapter").is_dir():
        return None
    if ctx.size.name == "tiny":
        return "socket.io packages not installed (any larger --size installs them from npm)"
    ctx.log("peers: npm install socket.io @socket.io/redis-adapter redis (once)")
    process = await asyncio.create_subprocess_exec(
        "npm", "install", "--no-audit", "--no-fund", "--omit=dev", cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), NPM_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        return f"npm install did not finish within {NPM_TIMEOUT_S} s"
    if process.returncode != 0:
        return f"npm install failed: {output.decode(errors='replace').strip().splitlines()[-1:]}"
    return None


async def _start_peer(ctx: Context, name: str) -> Server:
    infra = ctx.infra
    port = free_port()
    channel = f"{infra.namespace}:{name}"
    if name == "python-socketio":
        return await infra.start(name, uvicorn("bench.peers.socketio_py:create", port, factory=True), port=port,
                                 env={"BENCH_REDIS_URL": infra.redis_url, "BENCH_REDIS_CHANNEL": channel})
    return await infra.start(name, ["node", "server.js"], port=port, cwd=NODE_DIR,
                             env={"PORT": str(port), "REDIS_URL": infra.redis_url, "BENCH_REDIS_CHANNEL": channel})


async def _measure_peer(ctx: Context, server: Server, subscribers: int) -> FanoutResult:
    url = server.ws_url("/socket.io/?EIO=4&transport=websocket")
    spec = LoadSpec(url=url, kind="socketio", connections=subscribers, workers=ctx.size.workers)
    pub_url = server.ws_url("/socket.io/?EIO=4&transport=websocket&role=pub")
    return await measure(ctx, spec, lambda: publish.SocketIOPublisher.open(pub_url))


async def run(ctx: Context) -> list[Row]:
    n = ctx.size.peer_subscribers
    problems = {
        "python-socketio": None if importlib.util.find_spec("socketio") else
        "python-socketio not installed (pip install -e '.[bench]')",
        "socket.io (Node)": await _node_problem(ctx),
    }
    rows: list[Row] = []
    peer_results: dict[str, FanoutResult] = {}
    for label, problem in problems.items():
        if problem is not None:
            ctx.log(f"peers: {label} skipped: {problem}")
            rows.append(skipped("5 peers", f"{n:,} subscribers, fan-out", f"{label} + Redis", problem))
            continue
        server = await _start_peer(ctx, "python-socketio" if label == "python-socketio" else "socketio-node")
        try:
            ctx.log(f"peers: {n} subscribers on {label}")
            peer_results[label] = await _measure_peer(ctx, server, n)
        except Exception as exc:
            rows.append(skipped("5 peers", f"{n:,} subscribers, fan-out", f"{label} + Redis",
                                f"{type(exc).__name__}: {exc}; log: {server.log_tail(3)}"))
        finally:
            await ctx.infra.stop(server)
    if not peer_results:
        return rows
    hub = await ctx.infra.start_hub("hub-peers")
    try:
        problem = await ctx.hub_problem(hub)
        hub_result = None
        if problem is None:
            ctx.log(f"peers: {n} subscribers on the hub")
            hub_result = await measure_hub(ctx, hub.ws_url(), n)
    finally:
        await ctx.infra.stop(hub)
    for label, result in peer_results.items():
        goals = NODE_GOALS if label == "socket.io (Node)" else (None, None)
        rows += compare(ctx, "5 peers", hub_result, problem or "", f"{label} + Redis", result, *goals)
    return rows
