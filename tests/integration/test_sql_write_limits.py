"""What a client role writes in plain SQL meets the REST API's limits (migration 0016).

On Supabase, PostgREST lets every user's JWT write to `public` without the hub: sizes, creation budgets
and the reply depth cap must hold there too (docs/security.md, "Writes in SQL"). Statements run on the
real `authenticated` role with `request.jwt.claims` set, as PostgREST runs them. Tests that change
`private.hub_settings` do so inside their own transaction, which is rolled back, so no other test sees it.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from persistence.db import BUDGET_EXCEEDED_SQLSTATE, Database, set_identity
from persistence.migrate import apply_migrations
from tests.helpers.api import signup
from tests.helpers.services import DatabaseUnderTest, migrate_before
from tests.integration.test_rls import as_user, make_user
from tests.integration.test_sql_visibility import refused, rows_as

LONG = 5_000_000  # the attack's title: 5 MB



class _RolledBack(Exception):
    pass


@contextlib.asynccontextmanager
async def as_writer_with(owner_conn: asyncpg.Connection, user: uuid.UUID,
                         **hub_settings: int) -> AsyncIterator[asyncpg.Connection]:
    """One transaction, always rolled back: `hub_settings` written as the hub writes them, then `user` on
    the `authenticated` role."""
    with contextlib.suppress(_RolledBack):
        async with owner_conn.transaction():
            for column, value in hub_settings.items():
                await owner_conn.execute(SET_HUB_SETTING[column], value)
            await set_identity(owner_conn, as_user(user))
            yield owner_conn
            raise _RolledBack


SET_HUB_SETTING = {
    "posts_per_hour": "UPDATE private.hub_settings SET posts_per_hour = $1",
    "comments_per_hour": "UPDATE private.hub_settings SET comments_per_hour = $1",
    "votes_per_minute": "UPDATE private.hub_settings SET votes_per_minute = $1",
    "max_reply_depth": "UPDATE private.hub_settings SET max_reply_depth = $1",
}


async def test_over_long_text_written_in_sql_is_refused_at_the_rest_limits(
        owner_conn: asyncpg.Connection, app_db: Database) -> None:
    writer = await make_user(owner_conn)
    me = as_user(writer)
    post = await owner_conn.fetchval(
        "INSERT INTO public.community_posts (author_id, title) VALUES ($1, 'p') RETURNING id", writer)
    insert_post = ("INSERT INTO public.community_posts (author_id, title, content, category, tags) "
                   "VALUES ($1, $2, $3, $4, $5) RETURNING id")
    ok = ("t" * 300, "c" * 20_000, "k" * 100, ["g" * 50] * 10)
    assert await rows_as(app_db, me, insert_post, writer, *ok)  # exactly at every limit
    for over in (("t" * LONG, None, None, []), ("", None, None, []), ("t", "c" * 20_001, None, []),
                 ("t", None, "k" * 101, []), ("t", None, None, ["g"] * 11), ("t", None, None, ["g" * 51])):
        await refused(app_db, me, insert_post, writer, *over, error=asyncpg.CheckViolationError)

    insert_comment = ("INSERT INTO public.community_comments (post_id, author_id, content) "
                      "VALUES ($1, $2, $3) RETURNING id")
    assert await rows_as(app_db, me, insert_comment, post, writer, "c" * 10_000)
    await refused(app_db, me, insert_comment, post, writer, "c" * 10_001, error=asyncpg.CheckViolationError)
    await refused(app_db, me, insert_comment, post, writer, "", error=asyncpg.CheckViolationError)

    update_profile = "UPDATE public.my_profile SET {} = $1 RETURNING id"
    for column, within, over in (("full_name", "n" * 200, "n" * 1_000_000),
                                 ("bio", "b" * 2000, "b" * 1_000_000),
                                 ("preferred_language", "en-GB", "x" * 17),
                                 ("timezone", "Asia/Tokyo", "z" * 65),
                                 ("trading_experience", "advanced", "wizard")):
        sql = update_profile.format(column)
        assert await rows_as(app_db, me, sql, within)
        await refused(app_db, me, sql, over, error=asyncpg.CheckViolationError)
    goals = update_profile.format("trading_goals")
    assert await rows_as(app_db, me, goals, ["g" * 200] * 20)
    await refused(app_db, me, goals, ["g"] * 21, error=asyncpg.CheckViolationError)
    await refused(app_db, me, goals, ["g" * 201], error=asyncpg.CheckViolationError)


async def test_a_host_writing_a_session_in_sql_meets_the_session_limits(
        owner_conn: asyncpg.Connection, app_db: Database) -> None:
    host = await make_user(owner_conn)
    me = as_user(host, "host")
    insert = ("INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration, tags, prerequisites) "
              "VALUES ($1, $2, now() + interval '1 day', $3, $4, $5) RETURNING id")
    day, hour = timedelta(hours=24), timedelta(hours=1)
    assert await rows_as(app_db, me, insert, "s" * 200, host, day, ["t" * 50] * 20,
                         {"min_level": 2, "required_lessons": []})
    for over in (("s" * 201, hour, None, None), ("s", day + hour, None, None),
                 ("s", hour, ["t"] * 21, None), ("s", hour, [""], None),
                 ("s", hour, None, {"min_level": 2, "blob": "x"})):
        title, duration, tags, prerequisites = over
        await refused(app_db, me, insert, title, host, duration, tags, prerequisites,
                      error=asyncpg.CheckViolationError)


async def insert_many(conn: asyncpg.Connection, budget: str, writer: uuid.UUID, n: int,
                      targets: list[uuid.UUID]) -> None:
    """`n` rows of the budget's kind by `writer`, in one INSERT ... SELECT (comments and votes on `targets`)."""
    if budget == "posts_per_hour":
        await conn.execute("INSERT INTO public.community_posts (author_id, title) "
                           "SELECT $1, 'spam ' || n FROM generate_series(1, $2) n", writer, n)
    elif budget == "comments_per_hour":
        await conn.execute("INSERT INTO public.community_comments (post_id, author_id, content) "
                           "SELECT $1, $2, 'spam ' || n FROM generate_series(1, $3) n", targets[0], writer, n)
    else:
        await conn.execute("INSERT INTO public.community_votes (user_id, target_type, target_id, vote_type) "
                           "SELECT $1, 'post', t, 'upvote' FROM unnest($2::uuid[]) t", writer, targets[:n])


@pytest.mark.parametrize("budget", ["posts_per_hour", "comments_per_hour", "votes_per_minute"])
async def test_one_insert_select_of_many_rows_is_refused_past_the_creation_budget(
        owner_conn: asyncpg.Connection, budget: str) -> None:
    writer, other = await make_user(owner_conn), await make_user(owner_conn)
    targets = [await owner_conn.fetchval(
        "INSERT INTO public.community_posts (author_id, title) VALUES ($1, 'target') RETURNING id", other)
        for _ in range(40)]
    async with as_writer_with(owner_conn, writer, **{budget: 5}) as conn:
        with pytest.raises(asyncpg.PostgresError) as refusal:
            async with conn.transaction():  # a savepoint: the whole statement is undone
                await insert_many(conn, budget, writer, 2000 if budget != "votes_per_minute" else 40, targets)
        assert refusal.value.sqlstate == BUDGET_EXCEEDED_SQLSTATE
        assert 1 <= int(refusal.value.detail or "0") <= 3600
        await insert_many(conn, budget, writer, 5, targets)  # exactly the budget, in one statement
        with pytest.raises(asyncpg.PostgresError) as refusal:
            await insert_many(conn, budget, writer, 1, targets[5:])
        assert refusal.value.sqlstate == BUDGET_EXCEEDED_SQLSTATE


async def test_a_sql_reply_past_max_reply_depth_attaches_at_the_configured_depth(
        owner_conn: asyncpg.Connection) -> None:
    writer = await make_user(owner_conn)
    post = await owner_conn.fetchval(
        "INSERT INTO public.community_posts (author_id, title) VALUES ($1, 'deep') RETURNING id", writer)
    async with as_writer_with(owner_conn, writer, max_reply_depth=2) as conn:
        chain: list[uuid.UUID] = []
        for _ in range(5):
            chain.append(await conn.fetchval(
                "INSERT INTO public.community_comments (post_id, author_id, parent_comment_id, content) "
                "VALUES ($1, $2, $3, 'x') RETURNING id", post, writer, chain[-1] if chain else None))
        rows = {r["id"]: r for r in await conn.fetch(
            "SELECT id, parent_comment_id, depth, sort_path FROM public.community_comments WHERE post_id = $1",
            post)}
    assert [(rows[c]["depth"], rows[c]["parent_comment_id"]) for c in chain] == [
        (0, None), (1, chain[0]), (2, chain[1]), (2, chain[1]), (2, chain[1])]
    assert all(rows[c]["sort_path"].startswith(rows[chain[1]]["sort_path"]) for c in chain[2:])


async def test_a_rest_write_the_sql_budget_refuses_answers_429_with_retry_after(
        start_hub: Any, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    """The REST budget (Redis) refuses first when both count the same writes; when only the schema's
    count is over (here: posts written in plain SQL first), the hub still answers 429, not 500."""
    namespace = f"hubtest:sqlbudget:{secrets.token_hex(6)}"
    with start_hub(rate_limit_scale=1, namespace=namespace, posts_per_hour=2) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            account = await signup(http)
            async with app_db.transaction(as_user(account.user_id)) as conn:
                await insert_many(conn, "posts_per_hour", account.user_id, 2, [])
            response = await http.post("/api/posts", json={"title": "third"}, headers=account.headers)
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 3600


async def test_over_long_rows_already_stored_are_cut_to_the_limits_by_the_migration(
        empty_db: DatabaseUnderTest, tmp_path: Path) -> None:
    await migrate_before(empty_db.owner_dsn, "0016", tmp_path)
    conn = await asyncpg.connect(empty_db.owner_dsn)
    try:
        author = await conn.fetchval("INSERT INTO auth.users (email) VALUES ('big@example.com') RETURNING id")
        post = await conn.fetchval(
            "INSERT INTO public.community_posts (author_id, title, content, tags) VALUES ($1, $2, $3, $4) "
            "RETURNING id", author, "t" * LONG, "c" * 30_000, [f"tag{n}" + "g" * 60 for n in range(15)])
        comment = await conn.fetchval(
            "INSERT INTO public.community_comments (post_id, author_id, content) VALUES ($1, $2, $3) RETURNING id",
            post, author, "c" * 20_000)
        await conn.execute(
            "UPDATE public.user_profiles SET full_name = $2, bio = $3, trading_goals = $4, preferred_language = 'x' "
            "WHERE id = $1", author, "n" * 1_000_000, "b" * 1_000_000, ["g" * 300] * 25)
        session = await conn.fetchval(
            "INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration, tags) "
            "VALUES ($1, $2, now(), interval '3 days', $3) RETURNING id", "s" * 500, author, ["", "ok"])
        await apply_migrations(empty_db.owner_dsn, log=lambda _: None)
        stored = await conn.fetchrow(
            "SELECT char_length(title) AS title, char_length(content) AS content, tags "
            "FROM public.community_posts WHERE id = $1", post)
        assert (stored["title"], stored["content"]) == (300, 20_000)
        assert stored["tags"] == [f"tag{n}" + "g" * (50 - len(f"tag{n}")) for n in range(10)]
        assert await conn.fetchval(
            "SELECT char_length(content) FROM public.community_comments WHERE id = $1", comment) == 10_000
        profile = await conn.fetchrow(
            "SELECT char_length(full_name) AS name, char_length(bio) AS bio, trading_goals, preferred_language "
            "FROM public.user_profiles WHERE id = $1", author)
        assert (profile["name"], profile["bio"], profile["preferred_language"]) == (200, 2000, "en")
        assert profile["trading_goals"] == ["g" * 200] * 20
        live = await conn.fetchrow(
            "SELECT char_length(title) AS title, duration, tags FROM public.live_sessions WHERE id = $1", session)
        assert (live["title"], live["duration"].total_seconds(), live["tags"]) == (200, 86_400, ["ok"])
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE public.community_posts SET title = $2 WHERE id = $1", post, "t" * 301)
    finally:
        await conn.close()
