"""Baseline for REST reads: the database-bound limit of a route, its RLS transaction and query run straight
through asyncpg in a loop, with nothing of HTTP, routing, validation or JSON around them.

`python -m bench.baselines.rest_limit --route feed|thread [--post-id ID] --connections N --seconds S
--pool-max P` with `DATABASE_URL`, `JWT_SECRET` and `BENCH_TOKEN` in the environment prints one JSON line:
`{"ok": transactions, "seconds": S, "histogram": …}`.

It is the hub's own code path below the handler: `persistence.db.Database` (the same pool settings, codecs
and `transaction(identity)`: `SET LOCAL ROLE` and `request.jwt.claims` in one statement) with the identity the
hub builds from the same token, and the very functions the routes call (`community.list_posts` for
`GET /api/posts?limit=20`, `community.thread_page` for `GET /api/posts/{id}/comments?limit=20`, each asked
for one row more than the page, as the routes do). One process with N loops in flight, as the hub is one
process serving N keep-alive connections.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from bench.stats import Histogram
from hub.rules.threads import first_post_key
from hub.tokens import TokenService
from persistence import community
from persistence.db import Database

PAGE = 20


def _query(route: str, post_id: uuid.UUID | None) -> Callable[[asyncpg.Connection], Awaitable[Any]]:
    rows = PAGE + 1
    if route == "feed":
        after = first_post_key("active")
        return lambda conn: community.list_posts(conn, "active", after, category=None, tag=None, post_type=None,
                                                 author_id=None, limit=rows)
    if post_id is None:
        raise SystemExit("--post-id is required for --route thread")
    return lambda conn: community.thread_page(conn, post_id, None, rows)


async def measure(route: str, post_id: uuid.UUID | None, connections: int, seconds: float,
                  pool_max: int) -> dict[str, Any]:
    identity = TokenService(os.environ["JWT_SECRET"], "hub", 3600).identity(os.environ["BENCH_TOKEN"])
    query = _query(route, post_id)
    db = Database(os.environ["DATABASE_URL"], max_size=pool_max)
    await db.open()
    histogram = Histogram()
    ok = 0
    deadline = time.monotonic() + seconds

    async def loop() -> None:
        nonlocal ok
        while time.monotonic() < deadline:
            started = time.monotonic()
            async with db.transaction(identity) as conn:
                rows = await query(conn)
            if not rows:
                raise RuntimeError(f"{route}: the query found no rows")
            ok += 1
            histogram.add((time.monotonic() - started) * 1000.0)

    try:
        await asyncio.gather(*(loop() for _ in range(connections)))
    finally:
        await db.close()
    return {"ok": ok, "seconds": seconds, "histogram": histogram.to_wire()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--route", choices=["feed", "thread"], required=True)
    parser.add_argument("--post-id", type=uuid.UUID)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--pool-max", type=int, required=True)
    args = parser.parse_args()
    run = measure(args.route, args.post_id, args.connections, args.seconds, args.pool_max)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run)
    else:
        result = uvloop.run(run)
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")


if __name__ == "__main__":
    main()
