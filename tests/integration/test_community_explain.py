"""The feed and thread statements the routes run are index scans, never sequential scans.

Thousands of posts and comments are inserted, the tables analysed, and `EXPLAIN` run on the exact SQL
constants of `persistence.community`, as the app's own role, for every sort and filter and for the
thread's first and a later page. Feed statements run with custom plans only (`list_posts` sets
plan_cache_mode), so they are checked as planned for the given values; the thread statements are
checked that way and also as the generic plan a long-lived prepared statement may switch to.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from hub.rules.threads import PostSort, first_post_key
from persistence import community
from persistence.db import Database
from persistence.identity import user_identity
from tests.helpers.api import signup

POSTS, COMMENTS, TABLES = 4000, 6000, {"community_posts", "community_comments"}


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def seq_scans(explained: Any) -> list[str]:
    return [node["Relation Name"] for node in nodes(explained[0]["Plan"])
            if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in TABLES]


@pytest.fixture(scope="module")
async def bulk(hub_url: str, test_db: Any) -> dict[str, Any]:
    """A community big enough that a sequential scan would be the planner's honest choice if allowed."""
    async with httpx.AsyncClient(base_url=hub_url) as http:
        author = await signup(http)
    marker = f"bulk-{secrets.token_hex(3)}"
    conn = await asyncpg.connect(test_db.owner_dsn)
    try:
        await conn.execute(
            """
            INSERT INTO community_posts (author_id, title, content, post_type, category, tags, is_pinned,
                                         upvotes_count, downvotes_count, created_at, last_activity_at)
            SELECT $1, $2 || ' ' || n, 'body', (ARRAY['discussion', 'question', 'announcement'])[1 + n % 3],
                   $2 || '-cat-' || (n % 40), ARRAY[$2 || '-tag-' || (n % 25)], n % 500 = 0,
                   (n * 7919) % 97, (n * 104729) % 13,
                   now() - make_interval(secs => n * 37), now() - make_interval(secs => (n * 7919) % 100000)
            FROM generate_series(1, $3) AS n
            """,
            author.user_id, marker, POSTS)
        posts = [r["id"] for r in await conn.fetch(
            "SELECT id FROM community_posts WHERE title LIKE $1 || ' %' ORDER BY created_at", marker)]
        await conn.execute(
            """
            INSERT INTO community_comments (post_id, author_id, content, created_at)
            SELECT ($2::uuid[])[1 + n % array_length($2::uuid[], 1)], $1, 'c' || n,
                   now() - make_interval(secs => n)
            FROM generate_series(1, $3) AS n
            """,
            author.user_id, posts, COMMENTS // 2)
        # replies two levels down, all in the comment's own post
        for _ in range(2):
            await conn.execute(
                """
                INSERT INTO community_comments (post_id, author_id, parent_comment_id, content)
                SELECT post_id, author_id, id, 'reply'
                FROM community_comments WHERE post_id = ANY($1::uuid[]) ORDER BY created_at DESC LIMIT $2
                """,
                posts, COMMENTS // 4)
        await conn.execute("ANALYZE community_posts")
        await conn.execute("ANALYZE community_comments")
        busiest = await conn.fetchval(
            "SELECT post_id FROM community_comments WHERE post_id = ANY($1::uuid[]) "
            "GROUP BY post_id ORDER BY count(*) DESC LIMIT 1", posts)
        cursor = await conn.fetchval(
            "SELECT id FROM community_comments WHERE post_id = $1 AND parent_comment_id IS NULL LIMIT 1", busiest)
    finally:
        await conn.close()
    return {"author": author, "marker": marker, "busiest": busiest, "cursor": cursor}


async def explain(app_db: Database, author_id: uuid.UUID, sql: str, args: list[Any], *, generic: bool,
                  analyze: bool = False) -> Any:
    """The plan of `sql` with `args`, as the author's transaction would run it. `generic`: the plan a
    prepared statement falls back to (parameters unknown), via PREPARE and EXPLAIN EXECUTE, which
    takes literals only; each argument is turned into a typed literal by the server itself.
    `analyze`: run it too, and count the rows each node produced (no timings)."""
    identity = user_identity({"sub": str(author_id), "role": "authenticated", "aud": "authenticated"})
    options = "(ANALYZE, TIMING OFF, FORMAT JSON)" if analyze else "(FORMAT JSON)"
    async with app_db.transaction(identity) as conn:
        if not generic:
            return await conn.fetchval(f"EXPLAIN {options} " + sql, *args)
        types = [param.name for param in (await conn.prepare(sql)).get_parameters()]
        literals = [await conn.fetchval("SELECT quote_nullable($1::" + name + "::text) || '::' || $2", arg, name)
                    for arg, name in zip(args, types, strict=True)]
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute("PREPARE explained AS " + sql)
        try:
            return await conn.fetchval(f"EXPLAIN {options} EXECUTE explained(" + ", ".join(literals) + ")")
        finally:
            await conn.execute("DEALLOCATE explained")


def filters(bulk: dict[str, Any]) -> dict[str, list[Any]]:
    """(category, tag, post_type, author_id) for each filter the feed offers, alone."""
    return {
        "none": [None, None, None, None],
        "category": [f"{bulk['marker']}-cat-3", None, None, None],
        "tag": [None, f"{bulk['marker']}-tag-4", None, None],
        "post_type": [None, None, "question", None],
        "author": [None, None, None, bulk["author"].user_id],
    }


@pytest.mark.parametrize("sort", ["active", "new", "top"])
async def test_every_feed_sort_and_filter_is_an_index_scan(app_db: Database, bulk: dict[str, Any],
                                                           sort: PostSort) -> None:
    for name, values in filters(bulk).items():
        args = [*first_post_key(sort), *values, 21]
        plan = await explain(app_db, bulk["author"].user_id, community.LIST_POSTS[sort], args, generic=False)
        assert seq_scans(plan) == [], (sort, name, plan)


def block_probes(explained: Any) -> list[tuple[str, str]]:
    """How each plan node reading `user_blocks` is run: (its relationship to its parent, the index it uses)."""
    return [(node.get("Parent Relationship", ""), node.get("Index Name", "")) for node in nodes(explained[0]["Plan"])
            if node.get("Relation Name") == "user_blocks"]


async def test_blocked_authors_are_left_out_by_a_primary_key_probe_per_row(app_db: Database,
                                                                           bulk: dict[str, Any]) -> None:
    """Not an anti-join: with an author filter the planner misjudged one and scanned the posts and sorted."""
    for sort in ("active", "new", "top"):
        for name, values in filters(bulk).items():
            plan = await explain(app_db, bulk["author"].user_id, community.LIST_POSTS[sort],
                                 [*first_post_key(sort), *values, 21], generic=False)
            assert block_probes(plan) == [("SubPlan", "user_blocks_pkey")], (sort, name, plan)
    for generic in (False, True):
        plan = await explain(app_db, bulk["author"].user_id, community.THREAD_PAGE, [bulk["busiest"], None, 21],
                             generic=generic)
        assert block_probes(plan) == [("SubPlan", "user_blocks_pkey")], (generic, plan)


def thread_walk(explained: Any) -> list[str]:
    """What the plan does to put comments in display order: the index it walks, or the sort it needs."""
    return [node.get("Index Name", "") if node["Node Type"].startswith("Index") else node["Node Type"]
            for node in nodes(explained[0]["Plan"])
            if node["Node Type"] in ("Sort", "Incremental Sort", "Recursive Union", "CTE Scan")
            or node.get("Index Name") == "idx_comments_post_sort_path"]


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_thread_pages_are_index_scans(app_db: Database, bulk: dict[str, Any], generic: bool) -> None:
    for after in (None, bulk["cursor"]):
        plan = await explain(app_db, bulk["author"].user_id, community.THREAD_PAGE,
                             [bulk["busiest"], after, 21], generic=generic)
        assert seq_scans(plan) == [], (after, plan)
    plan = await explain(app_db, bulk["author"].user_id, community.POST_BY_ID, [bulk["busiest"]], generic=generic)
    assert seq_scans(plan) == []


@pytest.fixture(scope="module")
async def deep_thread(bulk: dict[str, Any], test_db: Any) -> dict[str, Any]:
    """One post with 2,100 comments in 100 reply chains 20 deep (the schema's bound) and 1,000 replies fanned
    out under one more comment."""
    conn = await asyncpg.connect(test_db.owner_dsn)
    try:
        author = bulk["author"].user_id
        post = await conn.fetchval("INSERT INTO community_posts (author_id, title) VALUES ($1, 'deep') RETURNING id",
                                   author)
        await conn.execute(
            "INSERT INTO community_comments (post_id, author_id, content, created_at) "
            "SELECT $1, $2, 'chain', now() - make_interval(secs => n) FROM generate_series(1, 100) AS n",
            post, author)
        # The chains go to the schema's bound, past the suite's MAX_REPLY_DEPTH that the placement trigger
        # applies: raised for this transaction only, and put back before it commits.
        async with conn.transaction():
            configured = await conn.fetchval("SELECT max_reply_depth FROM private.hub_settings FOR UPDATE")
            await conn.execute("UPDATE private.hub_settings SET max_reply_depth = 20")
            for depth in range(20):
                await conn.execute(
                    "INSERT INTO community_comments (post_id, author_id, parent_comment_id, content) "
                    "SELECT post_id, author_id, id, 'chain' FROM community_comments WHERE post_id = $1 AND depth = $2",
                    post, depth)
            await conn.execute("UPDATE private.hub_settings SET max_reply_depth = $1", configured)
        fan = await conn.fetchval("INSERT INTO community_comments (post_id, author_id, content) "
                                  "VALUES ($1, $2, 'fan') RETURNING id", post, author)
        await conn.execute(
            "INSERT INTO community_comments (post_id, author_id, parent_comment_id, content) "
            "SELECT $1, $2, $3, 'fanned' FROM generate_series(1, 1000)", post, author, fan)
        await conn.execute("ANALYZE community_comments")
        middle = await conn.fetchval(
            "SELECT id FROM community_comments WHERE post_id = $1 ORDER BY sort_path OFFSET 1050 LIMIT 1", post)
        assert await conn.fetchval("SELECT max(depth) FROM community_comments WHERE post_id = $1", post) == 20
    finally:
        await conn.close()
    return {"post": post, "middle": middle}


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
async def test_a_page_of_a_deep_wide_thread_reads_only_its_own_rows(
        app_db: Database, bulk: dict[str, Any], deep_thread: dict[str, Any], generic: bool) -> None:
    """Counted by the executor, not timed: the old recursive walk read all 3,101 comments for every page."""
    for after in (None, deep_thread["middle"]):
        plan = await explain(app_db, bulk["author"].user_id, community.THREAD_PAGE,
                             [deep_thread["post"], after, 21], generic=generic, analyze=True)
        # read off the (post_id, sort_path) index in order: no recursion, no sort of the thread …
        assert thread_walk(plan) == ["idx_comments_post_sort_path"], (after, plan)
        # … and stopped after the page's rows
        read = {node.get("Index Name", node["Node Type"]): node["Actual Rows"] * node["Actual Loops"]
                for node in nodes(plan[0]["Plan"]) if node.get("Relation Name") == "community_comments"}
        assert read.pop("idx_comments_post_sort_path") == 21, plan
        assert all(rows <= 1 for rows in read.values()), plan  # the cursor's own row, by primary key
        assert plan[0]["Plan"]["Actual Rows"] == 21
