"""Scenario 6, REST reads: requests per second for the feed (`GET /api/posts`) and for a thread
(`GET /api/posts/{id}/comments`) against a minimal Litestar route registered on the very same
hub process (same middleware, same uvicorn), each as an authenticated user over keep-alive
connections from separate processes."""

from __future__ import annotations

import time

from bench.baselines.hub_probe import PROBE_PATH
from bench.context import Context
from bench.http import HttpConnection
from bench.httpload import HttpResult, hammer
from bench.report import Row
from bench.servers import HOST

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


async def run(ctx: Context) -> list[Row]:
    infra, size = ctx.infra, ctx.size
    author = (await infra.users(1))[0]
    async with infra.owner() as conn:
        post_ids = [row["id"] for row in await conn.fetch(_SEED_POSTS, author, str(time.time()), POSTS)]
        await conn.execute(_SEED_COMMENTS, post_ids[0], author, COMMENTS)
    headers = {"Authorization": f"Bearer {infra.token(author)}"}
    hub = await infra.start_hub("hub-rest", target="bench.baselines.hub_probe:create",
                                LOGIN_RATE_PER_MINUTE="10000", DB_POOL_MAX="20")
    paths = {"probe": PROBE_PATH, "feed": "/api/posts?limit=20",
             "thread": f"/api/posts/{post_ids[0]}/comments?limit=20"}
    results: dict[str, HttpResult] = {}
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
    finally:
        await infra.stop(hub)
    probe = results["probe"]
    rows = []
    for name, what in (("feed", f"feed (GET /api/posts, {20} per page)"),
                       ("thread", f"thread (GET /api/posts/{{id}}/comments, {COMMENTS} comments, 20 per page)")):
        result = results.get(name)
        errors = f"; errors {dict(result.errors)}" if result and result.errors else ""
        p99 = result.histogram.percentile(0.99) if result else None
        rows.append(Row("6 REST reads", f"{what}: requests/s", "req/s", result.per_second if result else None,
                        "minimal Litestar route, same server", probe.per_second,
                        notes=(f"p99 {p99:.1f} ms vs {probe.histogram.percentile(0.99) or 0:.1f} ms{errors}"
                               if p99 is not None else ""),
                        unavailable=unavailable.get(name, "")))
    return rows
