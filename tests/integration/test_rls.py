"""RLS and column grants, through the app's own transaction helper on its real non-owner role."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest

from hub.rules.threads import first_post_key
from persistence import community
from persistence.db import Database, set_identity
from persistence.identity import ANON, SERVICE, user_identity
from tests.helpers.lessons import unique_level
from tests.helpers.services import DatabaseUnderTest


async def make_user(owner: asyncpg.Connection) -> uuid.UUID:
    user_id: uuid.UUID = await owner.fetchval(
        "INSERT INTO auth.users (email) VALUES ($1) RETURNING id", f"rls-{uuid.uuid4().hex[:10]}@example.com")
    return user_id


def as_user(user_id: uuid.UUID, role: str | None = None):  # type: ignore[no-untyped-def]
    claims: dict[str, object] = {"sub": str(user_id), "role": "authenticated", "aud": "authenticated"}
    if role:
        claims["app_metadata"] = {"role": role}
    return user_identity(claims)


@pytest.fixture
async def two_users_with_private_rows(owner_conn: asyncpg.Connection) -> tuple[uuid.UUID, uuid.UUID]:
    alice, bob = await make_user(owner_conn), await make_user(owner_conn)
    lesson = await owner_conn.fetchval(
        """INSERT INTO public.lessons (level_id, gate_id, title, content_data)
           VALUES ($1, 1, 'rls lesson', '{}') RETURNING id""", unique_level())
    plan = await owner_conn.fetchval(
        "INSERT INTO public.subscription_plans (name, price, features) VALUES ('p', 1, '{}') RETURNING id")
    for user in (alice, bob):
        await owner_conn.execute(
            """INSERT INTO public.user_progress (user_id, level_id, gate_id, lesson_id, completed, xp_earned)
               VALUES ($1, 1, 1, $2, true, 100)""", user, lesson)
        await owner_conn.execute(
            "INSERT INTO public.user_subscriptions (user_id, plan_id, status) VALUES ($1, $2, 'active')", user, plan)
        await owner_conn.execute(
            "UPDATE public.user_streaks SET current_streak = 3, last_activity_date = $2 WHERE user_id = $1",
            user, date.today())
        await owner_conn.execute(
            "INSERT INTO public.user_activity_log (user_id, activity_type) VALUES ($1, 'lesson_complete')", user)
    return alice, bob


@pytest.mark.parametrize("table", ["user_progress", "user_subscriptions", "user_streaks", "user_activity_log"])
async def test_users_read_only_their_own_private_rows(
        app_db: Database, two_users_with_private_rows: tuple[uuid.UUID, uuid.UUID], table: str) -> None:
    alice, bob = two_users_with_private_rows
    queries = {  # literal per table: no SQL is built from the parameter
        "user_progress": "SELECT user_id FROM public.user_progress WHERE user_id = ANY($1::uuid[])",
        "user_subscriptions": "SELECT user_id FROM public.user_subscriptions WHERE user_id = ANY($1::uuid[])",
        "user_streaks": "SELECT user_id FROM public.user_streaks WHERE user_id = ANY($1::uuid[])",
        "user_activity_log": "SELECT user_id FROM public.user_activity_log WHERE user_id = ANY($1::uuid[])",
    }
    async with app_db.transaction(as_user(alice)) as conn:
        seen = {r["user_id"] for r in await conn.fetch(queries[table], [alice, bob])}
    assert seen == {alice}


FORBIDDEN_WRITES = [
    "UPDATE public.user_profiles SET total_xp = 999999 WHERE id = $1",
    "UPDATE public.user_profiles SET current_level = 50 WHERE id = $1",
    "UPDATE public.user_progress SET xp_earned = 999999 WHERE user_id = $1",
    "UPDATE public.user_progress SET completed = true WHERE user_id = $1",
    "INSERT INTO public.user_progress (user_id, level_id, gate_id, completed, xp_earned) VALUES ($1, 9, 9, true, 5000)",
    "DELETE FROM public.user_progress WHERE user_id = $1",
    "UPDATE public.user_streaks SET current_streak = 100 WHERE user_id = $1",
    "INSERT INTO public.leaderboard (user_id, period, xp_points, period_start_date, period_end_date) "
    "VALUES ($1, 'all_time', 1000000, '2000-01-01', '2999-12-31')",
    "INSERT INTO public.user_achievements (user_id, achievement_id) "
    "SELECT $1, id FROM public.achievements LIMIT 1",
    "UPDATE public.user_subscriptions SET status = 'active' WHERE user_id = $1",
    "UPDATE public.community_posts SET upvotes_count = 1000 WHERE author_id = $1",
    "UPDATE public.community_posts SET comments_count = 1000 WHERE author_id = $1",
    "UPDATE public.community_posts SET views_count = 1000 WHERE author_id = $1",
    "UPDATE public.community_comments SET upvotes_count = 1000 WHERE author_id = $1",
    "UPDATE public.live_sessions SET current_participants = 0 WHERE host_id = $1",
    "UPDATE public.live_sessions SET status = 'live' WHERE host_id = $1",
    "INSERT INTO public.session_participants (session_id, user_id, attendance_status) "
    "SELECT id, $1, 'attended' FROM public.live_sessions LIMIT 1",
    "UPDATE auth.users SET raw_app_meta_data = '{\"role\": \"admin\"}' WHERE id = $1",
]


@pytest.mark.parametrize("statement", FORBIDDEN_WRITES)
async def test_users_cannot_write_server_owned_fields_by_any_statement(
        app_db: Database, owner_conn: asyncpg.Connection, statement: str) -> None:
    user = await make_user(owner_conn)
    await owner_conn.execute(
        "INSERT INTO public.community_posts (author_id, title) VALUES ($1, 'mine')", user)
    await owner_conn.execute(
        """INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration)
           VALUES ('mine', $1, now() + interval '1 day', interval '1 hour')""", user)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with app_db.transaction(as_user(user, role="host")) as conn:
            await conn.execute(statement, user)


async def test_anon_sees_only_active_lessons_and_admins_see_all(app_db: Database,
                                                                owner_conn: asyncpg.Connection) -> None:
    level = unique_level()
    await owner_conn.execute(
        """INSERT INTO public.lessons (level_id, gate_id, title, content_data, is_active)
           VALUES ($1, 1, 'on', '{}', true), ($1, 2, 'off', '{}', false)""", level)
    query = "SELECT title FROM public.lessons WHERE level_id = $1 ORDER BY gate_id"
    async with app_db.transaction(ANON) as conn:
        assert [r["title"] for r in await conn.fetch(query, level)] == ["on"]
    admin = await make_user(owner_conn)
    async with app_db.transaction(as_user(admin, role="admin")) as conn:
        assert [r["title"] for r in await conn.fetch(query, level)] == ["on", "off"]


async def test_only_admins_write_lessons(app_db: Database, owner_conn: asyncpg.Connection) -> None:
    learner = await make_user(owner_conn)
    insert = "INSERT INTO public.lessons (level_id, gate_id, title, content_data) VALUES ($1, 1, 't', '{}')"
    level = unique_level()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with app_db.transaction(as_user(learner)) as conn:
            await conn.execute(insert, level)
    async with app_db.transaction(as_user(learner, role="admin")) as conn:
        await conn.execute(insert, level)


async def test_community_is_readable_by_authenticated_users_only(app_db: Database,
                                                                 owner_conn: asyncpg.Connection) -> None:
    author = await make_user(owner_conn)
    await owner_conn.execute("INSERT INTO public.community_posts (author_id, title) VALUES ($1, 'hello')", author)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with app_db.transaction(ANON) as conn:
            await conn.fetch("SELECT id FROM public.community_posts")
    reader = await make_user(owner_conn)
    async with app_db.transaction(as_user(reader)) as conn:
        assert await conn.fetchval("SELECT count(*) FROM public.community_posts WHERE author_id = $1", author) == 1


async def test_users_edit_their_own_posts_only_and_cannot_pin(app_db: Database,
                                                             owner_conn: asyncpg.Connection) -> None:
    author, other = await make_user(owner_conn), await make_user(owner_conn)
    post = await owner_conn.fetchval(
        "INSERT INTO public.community_posts (author_id, title) VALUES ($1, 'orig') RETURNING id", author)
    async with app_db.transaction(as_user(other)) as conn:
        assert await conn.execute("UPDATE public.community_posts SET title = 'hijack' WHERE id = $1",
                                  post) == "UPDATE 0"
    async with app_db.transaction(as_user(author)) as conn:
        assert await conn.execute("UPDATE public.community_posts SET title = 'mine' WHERE id = $1", post) == "UPDATE 1"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with app_db.transaction(as_user(author)) as conn:
            await conn.execute("UPDATE public.community_posts SET is_pinned = true WHERE id = $1", post)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with app_db.transaction(as_user(author)) as conn:
            await conn.execute(
                "INSERT INTO public.community_posts (author_id, title) VALUES ($1, 'as someone else')", other)


async def test_the_app_role_alone_can_read_nothing(test_db) -> None:  # type: ignore[no-untyped-def]
    conn = await asyncpg.connect(test_db.app_dsn)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT id FROM public.user_progress")
        assert await conn.fetchval("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user") \
            is False
    finally:
        await conn.close()


WHO = "SELECT current_user, current_setting('request.jwt.claims', true)::jsonb ->> 'role', auth.uid()"


def claims_of(user_id: uuid.UUID) -> dict[str, object]:
    return {"sub": str(user_id), "role": "authenticated", "aud": "authenticated"}


async def test_each_transaction_runs_as_its_identity_on_one_reused_connection(test_db: DatabaseUnderTest) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    db = Database(test_db.app_dsn, min_size=1, max_size=1)  # one connection: every transaction reuses it
    await db.open()
    try:
        async with db.transaction(user_identity(claims_of(alice))) as conn:
            assert tuple(await conn.fetchrow(WHO)) == ("authenticated", "authenticated", alice)
        async with db.transaction(ANON) as conn:
            assert tuple(await conn.fetchrow(WHO)) == ("anon", "anon", None)
        async with db.transaction(user_identity(claims_of(bob))) as conn:
            assert tuple(await conn.fetchrow(WHO)) == ("authenticated", "authenticated", bob)
            await set_identity(conn, SERVICE)
            assert tuple(await conn.fetchrow(WHO)) == ("service_role", "service_role", None)
    finally:
        await db.close()


async def test_a_transactions_settings_end_with_it_on_a_pooled_connection(test_db: DatabaseUnderTest) -> None:
    """The pool releases connections without a reset statement, so nothing a transaction sets may outlive it."""
    db = Database(test_db.app_dsn, min_size=1, max_size=1)
    await db.open()
    try:
        async with db.transaction(user_identity(claims_of(uuid.uuid4()))) as conn:
            await community.list_posts(conn, "active", first_post_key("active"), category=None, tag=None,
                                       post_type=None, author_id=None, limit=1)
            assert await conn.fetchval("SELECT current_setting('plan_cache_mode')") == "force_custom_plan"
        async with db.transaction(ANON) as conn:
            assert await conn.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"
    finally:
        await db.close()
