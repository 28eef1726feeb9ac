"""Scenario 6, REST reads: requests per second for the feed (`GET /api/posts`) and for a thread
(`GET /api/posts/{id}/comments`), each as an authenticated user over keep-alive connections from
separate processes, against two baselines:

- a minimal Litestar route registered on the very same hub process (same middleware, same uvicorn);
- the route's database-bound limit: its RLS transaction and query run straight through asyncpg in a
  loop (`bench.baselines.rest_limit`: the hub's own `Database.transaction` and `persistence.community`
  functions, no HTTP), as many in flight as the load client keeps connections, in one process as the
  hub is one.

Each route's hub run is followed by its limit run, so the two see the same noise.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import msgspec

from bench.baselines.hub_probe import PROBE_PATH
from bench.context import Context
from bench.http import HttpConnection
from bench.httpload import HttpResult, hammer
from bench.infra import Infra
from bench.report import Row
from bench.servers import HOST, python
from bench.stats import Histogram

POSTS = 60
COMMENTS = 40

_SEED_POSTS = """
INSERT INTO public.community_posts (author_id, title, content, category, tags)
SELECT $1, 'bench post ' || g || ' ' || $2::text, repeat('content ', 40), 'general', ARRAY['bench']
FROM generate_series(1, $3::int) AS g
RETURNING id
"""
_SEED_COMMENTS = """
INSERT INTO public.community_comments (post_id, author_id, content)
SELECT $1, $2, 'bench comment ' || g || ' ' || repeat('words ', 20) FROM generate_series(1, $3::int) AS g
"""


POOL_MAX = 20  # the hub's DB_POOL_MAX here, and the limit's pool


async def _seed(ctx: Context, author: uuid.UUID) -> uuid.UUID:
    """The posts and the commented thread, once per run (every repetition reads the same rows)."""
    if "rest-thread" not in ctx.cache:
        async with ctx.infra.owner() as conn:
            post_ids = [row["id"] for row in await conn.fetch(_SEED_POSTS, author, str(time.time()), POSTS)]
            await conn.execute(_SEED_COMMENTS, post_ids[0], author, COMMENTS)
        ctx.cache["rest-thread"] = post_ids[0]
    thread: uuid.UUID = ctx.cache["rest-thread"]
    return thread


async def _limit(infra: Infra, route: str, thread: uuid.UUID, token: str, connections: int,
                 seconds: float) -> HttpResult:
    """The route's database-bound limit, measured by `bench.baselines.rest_limit` in its own process."""
    argv = python("-m", "bench.baselines.rest_limit", "--route", route, "--post-id", str(thread), "--connections",
                  str(connections), "--seconds", str(seconds), "--pool-max", str(POOL_MAX))
    env = {**infra.hub_env(), "BENCH_TOKEN": token}
    process = await asyncio.create_subprocess_exec(*argv, env=env, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), seconds + 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"the {route} limit did not finish within {seconds + 60:g} s") from None
    if process.returncode != 0:
        raise RuntimeError(f"the {route} limit failed: {stderr.decode(errors='replace').strip()[-300:]}")
    report = msgspec.json.decode(stdout)
    return HttpResult(ok=report["ok"], seconds=report["seconds"],
                      histogram=Histogram.from_wire(report["histogram"]))


async def run(ctx: Context) -> list[Row]:
    infra, size = ctx.infra, ctx.size
    author = (await infra.users(1))[0]
    thread = await _seed(ctx, author)
    token = infra.token(author)
    headers = {"Authorization": f"Bearer {token}"}
    hub = await infra.start_hub("hub-rest", target="bench.baselines.hub_probe:create",
                                LOGIN_RATE_PER_MINUTE="10000", DB_POOL_MAX=str(POOL_MAX))
    paths = {"probe": PROBE_PATH, "feed": "/api/posts?limit=20",
             "thread": f"/api/posts/{thread}/comments?limit=20"}
    results: dict[str, HttpResult] = {}
    limits: dict[str, HttpResult] = {}
    limit_problems: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    try:
        async with HttpConnection(HOST, hub.port) as http:
            for name, path in paths.items():
                status, _ = await http.request("GET", path, headers)
                if status != 200:
                    unavailable[name] = f"GET {path.split('?')[0]} → {status}"
        if "probe" in unavailable:
            raise RuntimeError(f"the probe route does not answer: {unavailable['probe']}")
        for name, path in paths.items():
            if name in unavailable:
                continue
            ctx.log(f"rest: {name} for {size.rest_seconds:g} s over {size.rest_connections} connections")
            results[name] = await hammer(HOST, hub.port, path, headers, connections=size.rest_connections,
                                         workers=size.workers, seconds=size.rest_seconds)
            if name != "probe":
                ctx.log(f"rest: {name}'s transaction and query through asyncpg for {size.rest_seconds:g} s, "
                        f"{size.rest_connections} in flight")
                try:
                    limits[name] = await _limit(infra, name, thread, token, size.rest_connections,
                                                size.rest_seconds)
                except RuntimeError as exc:  # the hub's rows still stand; the limit's row says why it is missing
                    limit_problems[name] = str(exc)
    finally:
        await infra.stop(hub)
    probe = results["probe"]
    rows = []
    for name, what in (("feed", f"feed (GET /api/posts, {20} per page)"),
                       ("thread", f"thread (GET /api/posts/{{id}}/comments, {COMMENTS} comments, 20 per page)")):
        result = results.get(name)
        errors = f"; errors {dict(result.errors)}" if result and result.errors else ""
        p99 = result.histogram.percentile(0.99) if result else None
        for baseline, base, goal in (("minimal Litestar route, same server", probe, None),
                                     ("the same RLS transaction and query through asyncpg (database-bound limit)",
                                      limits.get(name), 0.5)):
            base_p99 = base.histogram.percentile(0.99) if base else None
            notes = f"p99 {p99:.1f} ms vs {base_p99 or 0:.1f} ms{errors}" if p99 is not None else ""
            if base is None and name in limit_problems:
                notes = f"limit not measured: {limit_problems[name]}"
            rows.append(Row("6 REST reads", f"{what}: requests/s", "req/s", result.per_second if result else None,
                            baseline, base.per_second if base else None, goal=goal, notes=notes,
                            unavailable=unavailable.get(name, "")))
    return rows
