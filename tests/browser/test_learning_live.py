"""Lessons and leaderboards in the browser: completing a lesson shows XP, level and achievement toasts
from `user:<id>`, and another user's open leaderboard updates without a reload."""

from __future__ import annotations

import secrets

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import PHONE, NewContext, screenshot
from tests.browser.pages import channel_ready, open_as
from tests.helpers.api import admin, signup

pytestmark = pytest.mark.browser


async def test_completing_a_lesson_toasts_xp_and_level_up_and_moves_another_users_leaderboard_live(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    title = f"Reading order flow {secrets.token_hex(3)}"
    response = await client.post("/api/lessons", headers=boss.headers, json={
        "level_id": 1, "gate_id": 100_000 + secrets.randbelow(800_000), "title": title,
        "content_data": {"sections": []}, "xp_reward": 50_000, "difficulty": "beginner"})
    assert response.status_code == 201, response.text
    learner = await signup(client, full_name=f"Lena {secrets.token_hex(2)}")
    watcher = await signup(client, full_name="Walt Watcher")

    board = await open_as(await new_context(), hub_url, watcher, "leaderboard/weekly")
    await channel_ready(board, "leaderboard:weekly")
    lessons = await open_as(await new_context(viewport=PHONE), hub_url, learner, "lessons")
    await channel_ready(lessons, f"user:{learner.user_id}")

    await lessons.get_by_role("button", name=f"Complete {title}").click()
    toasts = lessons.locator("#toasts")
    await expect(toasts).to_contain_text("+50000 XP")
    await expect(toasts).to_contain_text("Level up!")
    await expect(lessons.locator(".stat-xp dd").first).to_have_text("50000")
    await expect(lessons.get_by_role("button", name=f"Complete {title}")).to_be_disabled()
    await screenshot(lessons, "lessons-phone")

    row = board.locator(f'tr[data-user-id="{learner.user_id}"]')
    await expect(row).to_contain_text("50000")
    await screenshot(board, "leaderboard-desktop")
    xp = await owner_conn.fetchval("SELECT total_xp FROM user_profiles WHERE id = $1", learner.user_id)
    assert xp == 50_000
