"""Each search branch reads its GIN index: thousands of rows per searched table are inserted and analysed,
and `EXPLAIN` is run on the body of `public.search_content` itself (its `pg_proc.prosrc`), as the generic
plan a SQL function runs, with the definer's rights (the tables' owner), for a first and a later page.
A generic plan keeps every type's branch behind a one-time filter, so each plan shows all four indexes."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from hub.rules.search import MARK_END, MARK_START
from tests.helpers.api import signup
from tests.helpers.lessons import unique_levels
from tests.integration.test_community_explain import nodes

ROWS = 2000
INDEXES = {"post": "idx_posts_search", "comment": "idx_comments_search", "lesson": "idx_lessons_search",
           "session": "idx_live_sessions_search"}
TABLES = {"community_posts", "community_comments", "lessons", "live_sessions"}


@pytest.fixture(scope="module")
async def corpus(hub_url: str, test_db: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub_url) as http:
        author = await signup(http)
    levels = unique_levels(ROWS)
    conn = await asyncpg.connect(test_db.owner_dsn)
    try:
        await conn.execute(
            """INSERT INTO community_posts (author_id, title, content)
               SELECT $1, 'post topic' || n, 'body words subject' || (n % 499)
               FROM generate_series(1, $2) AS n""", author.user_id, ROWS)
        await conn.execute(
            """INSERT INTO community_comments (post_id, author_id, content)
               SELECT (SELECT id FROM community_posts WHERE author_id = $1 LIMIT 1), $1, 'reply topic' || n
               FROM generate_series(1, $2) AS n""", author.user_id, ROWS * 2)
        await conn.execute(
            """INSERT INTO lessons (level_id, gate_id, title, description, content_data)
               SELECT $1 + n, 1, 'lesson topic' || n, 'about subject' || (n % 499), '{}'
               FROM generate_series(1, $2) AS n""", levels.start - 1, ROWS)
        await conn.execute(
            """INSERT INTO live_sessions (title, description, host_id, scheduled_at, duration)
               SELECT 'session topic' || n, 'we cover subject' || (n % 499), $1, now(), interval '1 hour'
               FROM generate_series(1, $2) AS n""", author.user_id, ROWS)
        for table in TABLES:
            await conn.execute(f"ANALYZE {table}")
    finally:
        await conn.close()
    return {"author": author}


def index_scans(explained: Any) -> set[str]:
    return {node["Index Name"] for node in nodes(explained[0]["Plan"]) if node["Node Type"] == "Bitmap Index Scan"}


def outline(explained: Any) -> str:
    return "\n".join(f"{node['Node Type']} {node.get('Relation Name', '')} {node.get('Index Name', '')}"
                     for node in nodes(explained[0]["Plan"]))


def seq_scans(explained: Any) -> list[str]:
    return [node["Relation Name"] for node in nodes(explained[0]["Plan"])
            if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in TABLES]


async def explain_search(test_db: Any, author_id: uuid.UUID, args: list[Any]) -> Any:
    conn = await asyncpg.connect(test_db.owner_dsn)
    try:
        async with conn.transaction():
            claims = f'{{"sub": "{author_id}", "role": "authenticated"}}'
            await conn.execute("SELECT set_config('request.jwt.claims', $1, true)", claims)
            body = await conn.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'search_content'")
            signature = "text, real, text, uuid, integer, text, text, text"
            literals = [await conn.fetchval("SELECT quote_nullable($1::text) || '::' || $2",
                                            None if arg is None else str(arg), name)
                        for arg, name in zip(args, signature.split(", "), strict=True)]
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await conn.execute(f"PREPARE explained ({signature}) AS {body}")
            explained = await conn.fetchval("EXPLAIN (FORMAT JSON) EXECUTE explained(" + ", ".join(literals) + ")")
            return json.loads(explained)
    finally:
        await conn.close()


@pytest.mark.parametrize("kind", [None, "post", "comment", "lesson", "session"])
@pytest.mark.parametrize("page", ["first", "later"])
async def test_each_search_reads_its_gin_index(test_db: Any, corpus: dict[str, Any], kind: str | None,
                                               page: str) -> None:
    bound = [None, None, None] if page == "first" else [0.05, "lesson", uuid.UUID(int=secrets.randbits(128))]
    args = ["topic1234:*", *bound, 21, kind, MARK_START, MARK_END]
    plan = await explain_search(test_db, corpus["author"].user_id, args)
    assert index_scans(plan) == set(INDEXES.values()), outline(plan)
    assert seq_scans(plan) == [], outline(plan)
