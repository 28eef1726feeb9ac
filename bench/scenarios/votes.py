"""Scenario 4, vote storm: votes at a fixed rate on one post while N connections watch
`votes:<post_id>`. Measures `counts` frames per subscriber per second (coalescing), the database's
transactions and row reads per vote (from `pg_stat_database`), and whether every subscriber's last
count equals the rows in `community_votes`.

Votes go straight into `community_votes` from owner connections, each its own transaction (the
counter triggers and their `hub_state` notification are what a REST vote runs too), so the storm's
rate does not depend on the hub's own REST throughput, which scenario 6 measures.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg

from bench import publish
from bench.context import Context
from bench.infra import Infra
from bench.load import LoadClient, LoadError, LoadSpec
from bench.report import Row
from channels.names import ChannelName

_CREATE_POST = """
INSERT INTO public.community_posts (author_id, title, content) VALUES ($1, $2, 'vote storm') RETURNING id
"""
_VOTE = """
INSERT INTO public.community_votes (user_id, target_type, target_id, vote_type) VALUES ($1, 'post', $2, 'upvote')
"""
_COUNT = "SELECT count(*) FROM public.community_votes WHERE target_type = 'post' AND target_id = $1"
_DB_STATS = """
SELECT xact_commit + xact_rollback AS transactions, tup_returned + tup_fetched AS rows_read
FROM pg_stat_database WHERE datname = current_database()
"""
STATS_FLUSH_S = 1.5  # backends report to pg_stat_database at most once a second
IDLE_FLUSH_S = 11.0  # … and an idle one (the hub's pool and LISTEN connections) only within 10 s (PostgreSQL 15+)
COALESCE_MS = 100  # the hub's default window (COALESCE_MS), which the bench does not change


class _Voter:
    concurrency = 8

    def __init__(self, lanes: publish.Lanes, post_id: uuid.UUID, users: list[uuid.UUID]) -> None:
        self.lanes = lanes
        self.post_id = post_id
        self.users = users

    async def send(self, number: int) -> None:
        await self.lanes.execute(_VOTE, self.users[number], self.post_id)

    async def close(self) -> None:
        await self.lanes.close()


async def _db_stats(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(_DB_STATS)
    finally:
        await conn.close()
    return int(row["transactions"]), int(row["rows_read"])


def final_upvotes(data: Any, post_id: str) -> int | None:
    """The post's upvotes in a `counts` payload (one object, or a list of them, or nested)."""
    if isinstance(data, dict):
        if str(data.get("target_id")) == post_id and "upvotes" in data:
            return int(data["upvotes"])
        data = list(data.values())
    if isinstance(data, list):
        for item in data:
            found = final_upvotes(item, post_id)
            if found is not None:
                return found
    return None


async def _new_post(infra: Infra, author: uuid.UUID) -> uuid.UUID:
    async with infra.owner() as conn:
        post_id: uuid.UUID = await conn.fetchval(_CREATE_POST, author, f"storm {time.time()}")
    return post_id


async def _storm(infra: Infra, post_id: uuid.UUID, users: list[uuid.UUID], votes: int, rate: float) -> float:
    """Casts `votes` upvotes on the post at `rate`; returns the seconds it took."""
    voter = _Voter(await publish.Lanes.open(infra.owner_dsn, _Voter.concurrency), post_id, users)
    try:
        return await publish.paced(voter, votes, rate)
    finally:
        await voter.close()


async def _per_vote(infra: Infra, before: tuple[int, int], votes: int) -> tuple[float, float]:
    """(transactions, rows read) per vote in the database since `before`."""
    after = await _db_stats(infra.owner_dsn)
    return (after[0] - before[0]) / votes, (after[1] - before[1]) / votes


async def run(ctx: Context) -> list[Row]:
    infra, size = ctx.infra, ctx.size
    votes = int(size.vote_rate * size.vote_seconds)
    users = await infra.users(max(votes, size.vote_subscribers))
    measure = f"{size.vote_subscribers:,} subscribers, {size.vote_rate:,.0f} votes/s"

    ctx.log(f"vote storm: {votes} votes at {size.vote_rate:g}/s without the hub (database baseline)")
    post_id = await _new_post(infra, users[0])
    await asyncio.sleep(STATS_FLUSH_S)  # let the set-up's statistics land before the first reading
    before = await _db_stats(infra.owner_dsn)
    await _storm(infra, post_id, users, votes, size.vote_rate)
    await asyncio.sleep(STATS_FLUSH_S)
    bare_tx, bare_rows = await _per_vote(infra, before, votes)

    hub = await infra.start_hub("hub-votes")
    try:
        problem = await ctx.hub_problem(hub)
        if problem is not None:
            return [Row("4 vote storm", f"{measure}: counts frames per subscriber per second", "/s", None,
                        "one frame per vote", size.vote_rate, higher_is_better=False, unavailable=problem)]
        post_id = await _new_post(infra, users[0])
        spec = LoadSpec(url=hub.ws_url(), kind="hub", connections=size.vote_subscribers, workers=size.workers,
                        channel=str(ChannelName.votes(post_id)),
                        tokens=tuple(await infra.tokens(size.vote_subscribers)),
                        event_name="counts", keep_last=True)
        async with LoadClient(spec) as load:
            ready = await load.start()
            if ready.connected == 0:
                raise LoadError(f"no subscriber connected: {'; '.join(ready.reasons)}")
            await load.collect(None, STATS_FLUSH_S, STATS_FLUSH_S)  # drop anything sent on subscribe
            await asyncio.sleep(IDLE_FLUSH_S)  # so the subscribes' own transactions land before the reading
            before = await _db_stats(infra.owner_dsn)
            ctx.log(f"vote storm: {votes} votes at {size.vote_rate:g}/s, {ready.connected} subscribers on the hub")
            seconds = await _storm(infra, post_id, users, votes, size.vote_rate)
            seen = await load.collect(None, 30, max(STATS_FLUSH_S, size.collect_quiet_s))
        async with infra.owner() as conn:
            rows_counted = int(await conn.fetchval(_COUNT, post_id))
    finally:
        await infra.stop(hub)
    # Read after the hub stopped: an idle backend (the hub's LISTEN connection) may hold its statistics
    # for up to 10 s; one that exits reports them.
    await asyncio.sleep(STATS_FLUSH_S)
    hub_tx, hub_rows = await _per_vote(infra, before, votes)

    exact = sum(1 for data in seen.last_data if final_upvotes(data, str(post_id)) == rows_counted)
    frames_each = seen.received / max(1, seen.connections)
    span = (seen.last_recv or 0.0) - (seen.first_recv or 0.0)
    # Frames per second over the span they covered: the last window's frame lands after the last vote.
    per_subscriber = (frames_each - 1) / span if frames_each > 1 and span > 0 else frames_each / seconds
    ctx.report.latencies["vote storm: counts frame ts → receipt"] = seen.histogram
    window_goal = 1000 / COALESCE_MS
    return [
        Row("4 vote storm", f"{measure}: counts frames per subscriber per second", "/s", per_subscriber,
            "one frame per vote (no coalescing)", votes / seconds, higher_is_better=False,
            goal_text=f"≤ {window_goal:g}/s (one per window)", limit=window_goal * 1.05,
            notes=f"{votes} votes in {seconds:.2f} s (asked {size.vote_rate:g}/s); p99 frame ts → receipt "
                  f"{seen.histogram.percentile(0.99) or 0:.1f} ms"),
        Row("4 vote storm", f"{measure}: subscribers whose last count equals the rows", "subs", float(exact),
            "subscribers connected", float(seen.connections), goal=1.0,
            notes=f"rows in community_votes: {rows_counted}"),
        Row("4 vote storm", f"{measure}: database transactions per vote", "tx", hub_tx,
            "the same storm with no hub running", bare_tx, higher_is_better=False,
            notes=f"rows read per vote {hub_rows:.1f} with the hub, {bare_rows:.1f} without"),
    ]
