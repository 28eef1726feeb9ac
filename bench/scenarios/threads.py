"""Scenario 7, deep threads: the cost of one page (`GET /api/posts/{id}/comments?limit=20`) of a big
thread, deep and wide, against a page of a 20-comment thread on the same hub in the same run.

The big thread (`Size.thread_comments`, 5,000 at `small`) has many reply chains down to the reply depth
cap (10) with the replies that went past the cap as siblings at depth 10, plus top-level comments with
about a hundred replies each. Requests cycle through the first page and pages after comments spread over
the whole thread, so a page deep in the thread counts as much as the first one; the small thread's one
page is the whole thread. Each repetition times
`Size.thread_requests` sequential requests per thread on one keep-alive connection, alternating threads
so both see the same noise; the row reports the medians of the repetitions' median latencies.
"""

from __future__ import annotations

import statistics
import time
import uuid

import asyncpg
import msgspec

from bench.context import Context
from bench.http import HttpConnection
from bench.report import Row
from bench.servers import HOST
from hub.pagination import encode_cursor

REPEATS = 3
PAGE = 20
CAP = 10  # the hub's default MAX_REPLY_DEPTH, which the bench does not change
CHAIN = 20  # comments per chain: depths 0..CAP, then CHAIN - CAP - 1 more replies past the cap
CURSORS = 24  # distinct pages requested per thread

_CREATE_POST = """
INSERT INTO public.community_posts (author_id, title, content) VALUES ($1, $2, 'thread benchmark') RETURNING id
"""
_ROOTS = """
INSERT INTO public.community_comments (post_id, author_id, content)
SELECT $1, $2, $3 FROM generate_series(1, $4::int)
"""
# One level of every chain: a reply to each chain's deepest comment so far.
_CHAIN_LEVEL = """
INSERT INTO public.community_comments (post_id, author_id, parent_comment_id, content)
SELECT post_id, author_id, id, 'chain' FROM public.community_comments
WHERE post_id = $1 AND content = 'chain' AND depth = $2::int
"""
# Replies sent to a comment at the cap attach to its parent at CAP - 1, as the hub places them.
_PAST_CAP = """
INSERT INTO public.community_comments (post_id, author_id, parent_comment_id, content)
SELECT c.post_id, c.author_id, c.id, 'chain' FROM public.community_comments c, generate_series(1, $3::int)
WHERE c.post_id = $1 AND c.content = 'chain' AND c.depth = $2::int
"""
_FAN = """
INSERT INTO public.community_comments (post_id, author_id, parent_comment_id, content)
SELECT c.post_id, c.author_id, c.id, 'fanned' FROM public.community_comments c, generate_series(1, $2::int)
WHERE c.post_id = $1 AND c.content = 'fan'
"""
_SHAPE = "SELECT count(*), max(depth) FROM public.community_comments WHERE post_id = $1"
# Comments spread evenly over the display order, each with a full page after it.
_SPREAD = """
SELECT id FROM (SELECT id, row_number() OVER (ORDER BY sort_path) AS n, count(*) OVER () AS total
                FROM public.community_comments WHERE post_id = $1) numbered
WHERE n % greatest(1, total / $2::int) = 0 AND n <= total - $3::int
LIMIT $2::int
"""


async def _seed(conn: asyncpg.Connection, author: uuid.UUID, comments: int) -> tuple[uuid.UUID, int, int]:
    """A post with about `comments` comments: 60 % in chains to the cap, the rest fanned out."""
    post = await conn.fetchval(_CREATE_POST, author, f"deep thread {time.time()}")
    chains = max(1, comments * 3 // 5 // CHAIN)
    await conn.execute(_ROOTS, post, author, "chain", chains)
    for depth in range(CAP):
        await conn.execute(_CHAIN_LEVEL, post, depth)
    await conn.execute(_PAST_CAP, post, CAP - 1, CHAIN - CAP - 1)
    rest = comments - chains * CHAIN
    fans = max(1, rest // 100)
    await conn.execute(_ROOTS, post, author, "fan", fans)
    await conn.execute(_FAN, post, max(0, rest - fans) // fans)
    count, depth = await conn.fetchrow(_SHAPE, post)
    return post, count, depth


async def _small(conn: asyncpg.Connection, author: uuid.UUID) -> uuid.UUID:
    """20 comments: 5 top-level ones with 3 replies each."""
    post = await conn.fetchval(_CREATE_POST, author, f"small thread {time.time()}")
    await conn.execute(_ROOTS, post, author, "fan", 5)
    await conn.execute(_FAN, post, 3)
    return post


async def _paths(conn: asyncpg.Connection, post: uuid.UUID) -> list[str]:
    """The first page, and the pages after comments spread over the thread (none in a 20-comment one)."""
    base = f"/api/posts/{post}/comments?limit={PAGE}"
    cursors = [encode_cursor([str(row["id"])]) for row in await conn.fetch(_SPREAD, post, CURSORS, PAGE)]
    return [base] + [f"{base}&cursor={cursor}" for cursor in cursors]


async def _timed(http: HttpConnection, path: str, headers: dict[str, str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    status, body = await http.request("GET", path, headers)
    elapsed = (time.perf_counter() - started) * 1000
    if status != 200:
        raise RuntimeError(f"GET {path} → {status}")
    return elapsed, body


async def run(ctx: Context) -> list[Row]:
    infra, size = ctx.infra, ctx.size
    author = (await infra.users(1))[0]
    ctx.log(f"threads: seeding a {size.thread_comments:,}-comment thread and a 20-comment one")
    async with infra.owner() as conn:
        big, count, depth = await _seed(conn, author, size.thread_comments)
        small = await _small(conn, author)
        await conn.execute("ANALYZE public.community_comments")
        paths = {"big": await _paths(conn, big), "small": await _paths(conn, small)}
    headers = {"Authorization": f"Bearer {infra.token(author)}"}
    hub = await infra.start_hub("hub-threads")
    medians: dict[str, list[float]] = {"big": [], "small": []}
    try:
        async with HttpConnection(HOST, hub.port) as http:
            for name in ("big", "small"):  # warm the pool and the plans; every page is a full one
                for path in paths[name]:
                    _, body = await _timed(http, path, headers)
                    if len(msgspec.json.decode(body)["items"]) != PAGE:
                        raise RuntimeError(f"GET {path} did not answer a full page")
            for repeat in range(REPEATS):
                samples: dict[str, list[float]] = {"big": [], "small": []}
                for n in range(size.thread_requests):
                    for name in ("big", "small"):
                        elapsed, _ = await _timed(http, paths[name][n % len(paths[name])], headers)
                        samples[name].append(elapsed)
                for name in medians:
                    medians[name].append(statistics.median(samples[name]))
                ctx.log(f"threads: repetition {repeat + 1}/{REPEATS}: page of {count:,} comments "
                        f"{medians['big'][-1]:.2f} ms, of 20 comments {medians['small'][-1]:.2f} ms")
    finally:
        await infra.stop(hub)
    ratios = [b / s for b, s in zip(medians["big"], medians["small"], strict=True)]
    measure = f"page of a {count:,}-comment thread (depth {depth}, {PAGE} per page): median latency"
    return [Row("7 deep threads", measure, "ms", statistics.median(medians["big"]),
                "page of a 20-comment thread, same hub",
                statistics.median(medians["small"]), higher_is_better=False, goal=2.0,
                notes=f"{REPEATS} repetitions × {size.thread_requests} requests per thread, big thread over "
                      f"{len(paths['big'])} pages; ratio per repetition {', '.join(f'{r:.2f}' for r in ratios)}")]
