"""The progress page in Chromium: the 365-day heat map and the achievements' progress update live when the
learner completes a lesson elsewhere (the completion's `xp.awarded`/`streak.updated` on `user:<id>`).

The lesson has no assessment, so completing it is `{score, time_spent_seconds, completed}` however
graded answers work for assessed lessons."""

from __future__ import annotations

import secrets

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import PHONE, NewContext, screenshot
from tests.browser.pages import channel_ready, open_as
from tests.helpers.api import admin, signup
from tests.helpers.lessons import api_gate

pytestmark = pytest.mark.browser


async def test_the_heat_map_and_achievement_progress_update_live_after_a_completion(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    tag = secrets.token_hex(4)
    await owner_conn.execute(
        "INSERT INTO public.achievements (code, title, description, requirements) "
        "VALUES ($1, $2, 'Complete a thousand lessons', '{\"lessons_completed\": 1000}'::jsonb)",
        f"{tag}-thousand", f"Thousand {tag}")
    try:
        boss = await admin(client, owner_conn)
        response = await client.post("/api/lessons", headers=boss.headers, json={
            "level_id": 1, "gate_id": api_gate(), "title": f"Heat {tag}",
            "content_data": {"sections": []}, "xp_reward": 7, "difficulty": "beginner"})
        assert response.status_code == 201, response.text
        lesson = response.json()
        assert lesson.get("assessment_data") is None
        learner = await signup(client)
        zone = await client.patch("/api/profiles/me", json={"timezone": "Pacific/Auckland"}, headers=learner.headers)
        assert zone.status_code == 200, zone.text
        today = (await client.get("/api/streaks/me/calendar", headers=learner.headers)).json()["end"]

        page = await open_as(await new_context(), hub_url, learner, "progress")
        await channel_ready(page, f"user:{learner.user_id}")
        heatmap = page.get_by_role("group", name="Activity from")
        await expect(heatmap.get_by_role("img")).to_have_count(365)
        await expect(page.get_by_role("img", name=f"0 activities on {today}")).to_have_count(1)
        await expect(page.locator(".heat-summary")).to_contain_text("Pacific/Auckland")
        thousand = page.locator(f'li[data-code="{tag}-thousand"]')
        await expect(thousand).to_contain_text("0 of 1000")

        done = await client.post(f"/api/lessons/{lesson['id']}/attempts", headers=learner.headers,
                                 json={"score": 100, "time_spent_seconds": 30, "completed": True})
        assert done.status_code == 201, done.text

        today_cell = page.get_by_role("img", name=f"1 activity on {today}")
        await expect(today_cell).to_have_count(1)
        await expect(today_cell).to_have_attribute("data-level", "1")
        await expect(page.locator(".streak-line")).to_contain_text("Current streak: 1 day")
        await expect(thousand).to_contain_text("1 of 1000")
        await expect(thousand.get_by_role("progressbar")).to_have_attribute("value", "1")
        await screenshot(page, "progress-desktop")

        phone = await open_as(await new_context(viewport=PHONE), hub_url, learner, "progress")
        await expect(phone.get_by_role("img", name=f"1 activity on {today}")).to_have_count(1)
        await screenshot(phone, "progress-phone")
    finally:
        await owner_conn.execute("UPDATE public.achievements SET is_active = false WHERE code LIKE $1 || '-%'", tag)
