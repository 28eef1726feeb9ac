"""The five activity types of the seed (`login`, `lesson_complete`, `achievement_gain`, `post_create`,
`session_join`) are each written by the action they name, in that action's transaction."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from tests.helpers.api import admin, login, signup
from tests.integration.test_lessons import make_lesson
from tests.integration.test_live_room import joined
from tests.integration.test_posts import new_post
from tests.integration.test_streak_calendar import complete


async def activities(owner_conn: asyncpg.Connection, user_id: UUID) -> list[tuple[str, str | None, UUID | None]]:
    rows = await owner_conn.fetch(
        "SELECT activity_type, entity_type, entity_id FROM public.user_activity_log WHERE user_id = $1 "
        "ORDER BY created_at, id", user_id)
    return [(row["activity_type"], row["entity_type"], row["entity_id"]) for row in rows]


async def test_each_action_logs_its_own_activity_type_once(hub_url: str, client: httpx.AsyncClient,
                                                           owner_conn: asyncpg.Connection) -> None:
    tag = secrets.token_hex(4)
    # Only a learner who did all three gets it: no other test's learner can.
    achievement = await owner_conn.fetchval(
        "INSERT INTO public.achievements (code, title, description, requirements) VALUES ($1, 'All round', 'd', "
        "'{\"lessons_completed\": 1, \"posts_created\": 1, \"sessions_attended\": 1}'::jsonb) RETURNING id",
        f"{tag}-all-round")
    try:
        boss = await admin(client, owner_conn)
        learner = await signup(client)
        assert await activities(owner_conn, learner.user_id) == [], "signing up is not a login"
        await login(client, learner)
        assert await activities(owner_conn, learner.user_id) == [("login", "user", learner.user_id)]

        lesson = await make_lesson(client, boss, xp_reward=3)
        await complete(client, learner, lesson)
        post = await new_post(client, learner)
        refused = await client.post("/api/posts", json={"title": "", "content": "x"}, headers=learner.headers)
        assert refused.status_code == 422
        session_id = await owner_conn.fetchval(
            "INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration, status) "
            "VALUES ('activity test', $1, now(), interval '1 hour', 'live') RETURNING id", boss.user_id)
        await owner_conn.execute("INSERT INTO public.session_participants (session_id, user_id) VALUES ($1, $2)",
                                 session_id, learner.user_id)
        room, _ = await joined(hub_url, learner.access_token, f"session:{session_id}")
        await room.close()
        again, _ = await joined(hub_url, learner.access_token, f"session:{session_id}")
        await again.close()

        logged = await activities(owner_conn, learner.user_id)
        assert logged == [
            ("login", "user", learner.user_id),
            ("lesson_complete", "lesson", UUID(lesson["id"])),
            ("post_create", "post", UUID(post["id"])),
            ("session_join", "session", session_id),
            ("achievement_gain", "achievement", achievement),
        ], "one row per action, in order; a refused post and a second join log nothing"
        mine: dict[str, Any] = (await client.get("/api/activity/me", headers=learner.headers,
                                                 params={"limit": 10})).json()
        assert [a["activity_type"] for a in mine["items"]] == [
            "achievement_gain", "session_join", "post_create", "lesson_complete", "login"]
    finally:
        await owner_conn.execute("UPDATE public.achievements SET is_active = false WHERE id = $1", achievement)


async def test_a_failed_login_logs_nothing(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    learner = await signup(client)
    wrong = await client.post("/api/auth/login", json={"email": learner.email, "password": "not the password"})
    assert wrong.status_code == 401
    assert await activities(owner_conn, learner.user_id) == []
