"""`GET /api/achievements/me` lists locked achievements too, with progress from the learner's real stats."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import httpx

from hub.pagination import encode_cursor
from tests.helpers.api import Account, admin, signup
from tests.integration.test_lessons import make_lesson
from tests.integration.test_streak_calendar import complete


async def all_mine(client: httpx.AsyncClient, account: Account, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/achievements/me", params=params, headers=account.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def progress_of(item: dict[str, Any]) -> tuple[bool, int, int | None, list[tuple[str, int, int]]]:
    return (item["unlocked"], item["progress_value"], item["target"],
            [(r["stat"], r["value"], r["target"]) for r in item["requirements"]])


async def test_locked_achievements_show_real_progress_and_unlocking_moves_them_first(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    tag = secrets.token_hex(4)
    await owner_conn.execute(
        """
        INSERT INTO public.achievements (code, title, description, requirements) VALUES
            ($1 || '-a-lessons', 'Three lessons', 'd', '{"lessons_completed": 3}'),
            ($1 || '-b-combo', 'Combo', 'd', '{"lessons_completed": 1, "total_xp": 1000}'),
            ($1 || '-c-streak', 'Five days', 'd', '{"streak_days": 5}'),
            ($1 || '-d-posts', 'Poster', 'd', '{"posts_created": 2}'),
            ($1 || '-e-typo', 'Typo', 'd', '{"lesson_completed": 1}')
        """, tag)
    try:
        boss = await admin(client, owner_conn)
        learner = await signup(client)
        lessons = [await make_lesson(client, boss, xp_reward=10) for _ in range(3)]
        for lesson in lessons[:2]:
            await complete(client, learner, lesson)
        await client.post("/api/posts", json={"title": "one post", "content": "x"}, headers=learner.headers)

        ours = {a["code"].removeprefix(f"{tag}-"): a for a in await all_mine(client, learner, 100)
                if a["code"].startswith(tag)}
        assert progress_of(ours["a-lessons"]) == (False, 2, 3, [("lessons_completed", 2, 3)])
        assert progress_of(ours["b-combo"]) == (False, 20, 1000, [("lessons_completed", 2, 1), ("total_xp", 20, 1000)])
        assert progress_of(ours["c-streak"]) == (False, 1, 5, [("streak_days", 1, 5)])
        assert progress_of(ours["d-posts"]) == (False, 1, 2, [("posts_created", 1, 2)])
        assert progress_of(ours["e-typo"]) == (False, 0, None, [])
        assert all(a["unlocked_at"] is None for a in ours.values())

        await complete(client, learner, lessons[2])
        mine = await all_mine(client, learner, 100)
        unlocked = [a for a in mine if a["unlocked"]]
        assert mine[:len(unlocked)] == unlocked, "unlocked ones come first"
        first = next(a for a in unlocked if a["code"] == f"{tag}-a-lessons")
        assert progress_of(first) == (True, 3, 3, [("lessons_completed", 3, 3)]) and first["unlocked_at"]
        locked_codes = [a["code"] for a in mine if not a["unlocked"]]
        assert locked_codes == sorted(locked_codes), "locked ones by code"
        assert f"{tag}-a-lessons" not in locked_codes

        walked = await all_mine(client, learner, 1)
        assert walked == mine, "one at a time, across the unlocked/locked boundary: no repeat, no gap"
        walked = await all_mine(client, learner, len(unlocked))
        assert walked == mine
    finally:
        await owner_conn.execute("UPDATE public.achievements SET is_active = false WHERE code LIKE $1 || '-%'", tag)


async def test_foreign_achievement_cursors_are_refused(client: httpx.AsyncClient) -> None:
    learner = await signup(client)
    nil = "00000000-0000-0000-0000-000000000000"
    for key in ([2, "x", nil], [0, "not a time", nil], [0, "2026-01-01T00:00:00", nil],
                ["2026-01-01T00:00:00+00:00", "x"]):
        response = await client.get("/api/achievements/me", params={"cursor": encode_cursor(key)},
                                    headers=learner.headers)
        assert response.status_code == 422, (key, response.text)
