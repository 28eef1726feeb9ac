"""Lessons and leaderboards in the browser: completing a lesson shows XP, level and achievement toasts
from `user:<id>`, and another user's open leaderboard updates without a reload; the lesson player renders
a lesson's Markdown safely and grades its quiz on the server, with feedback per question."""

from __future__ import annotations

import secrets

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import PHONE, NewContext, screenshot
from tests.browser.pages import channel_ready, open_as
from tests.helpers.api import admin, signup
from tests.helpers.lessons import api_gate, api_gates

pytestmark = pytest.mark.browser


async def test_completing_a_lesson_toasts_xp_and_level_up_and_moves_another_users_leaderboard_live(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    title = f"Reading order flow {secrets.token_hex(3)}"
    response = await client.post("/api/lessons", headers=boss.headers, json={
        "level_id": 1, "gate_id": api_gate(), "title": title,
        "content_data": {"sections": []}, "xp_reward": 50_000, "difficulty": "beginner"})
    assert response.status_code == 201, response.text
    learner = await signup(client, full_name=f"Lena {secrets.token_hex(2)}")
    watcher = await signup(client, full_name="Walt Watcher")

    board = await open_as(await new_context(), hub_url, watcher, "leaderboard/weekly")
    await channel_ready(board, "leaderboard:weekly")
    lessons = await open_as(await new_context(viewport=PHONE), hub_url, learner, "lessons")
    await channel_ready(lessons, f"user:{learner.user_id}")

    await lessons.get_by_role("link", name=f"Open {title}").click()
    await lessons.get_by_role("button", name="Mark as complete").click()
    toasts = lessons.locator("#toasts")
    await expect(toasts).to_contain_text("+50000 XP")
    await expect(toasts).to_contain_text("Level up!")
    await expect(lessons.locator(".stat-xp dd").first).to_have_text("50000")
    await expect(lessons.get_by_role("button", name="Completed ✓")).to_be_disabled()
    await lessons.get_by_role("link", name="← All lessons").click()
    await expect(lessons.get_by_role("link", name=f"Open {title}")).to_have_text("Completed ✓")
    await screenshot(lessons, "lessons-phone")

    row = board.locator(f'tr[data-user-id="{learner.user_id}"]')
    await expect(row).to_contain_text("50000")
    await screenshot(board, "leaderboard-desktop")
    xp = await owner_conn.fetchval("SELECT total_xp FROM user_profiles WHERE id = $1", learner.user_id)
    assert xp == 50_000


QUIZ = {"pass_score": 100, "questions": [
    {"q": "Which candle closes higher than it opens?", "choices": ["a bearish one", "a bullish one", "a doji"],
     "answer": 1, "explanation": "Green: the close is above the open."},
    {"q": "Which of these limit risk?", "choices": ["a stop-loss", "position sizing", "doubling down"],
     "answer": [0, 1], "explanation": "Stops and sizing cap a loss."},
    {"q": "Risk 50 to make 150: the reward-to-risk ratio?", "answer": 3, "tolerance": 0.01,
     "explanation": "150 / 50 = 3."},
]}
MARKDOWN = ("## Reading candles\n\nA **bullish** candle closes *above* its open. See "
            "[the glossary](https://example.com/glossary) — not [this](javascript:alert(1)).\n\n"
            "- body: open to close\n- wick: the extremes\n\n<img src=x onerror=alert(1)>")


async def test_the_lesson_player_grades_a_quiz_wrong_then_right_and_the_xp_arrives_live(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    title = f"Candles {secrets.token_hex(3)}"
    lessons = []
    for gate, name in zip(api_gates(2), (title, f"After {title}"), strict=True):
        response = await client.post("/api/lessons", headers=boss.headers, json={
            "level_id": 1, "gate_id": gate, "title": name, "xp_reward": 1234, "assessment_data": QUIZ,
            "content_data": {"sections": [{"kind": "text", "body": MARKDOWN},
                                          {"kind": "image", "url": "javascript:alert(1)"},
                                          {"kind": "video", "url": "https://www.youtube.com/watch?v=abc",
                                           "title": "Candles explained"}]}})
        assert response.status_code == 201, response.text
        lessons.append(response.json())
    learner = await signup(client, full_name=f"Quinn {secrets.token_hex(2)}")
    page = await open_as(await new_context(viewport=PHONE), hub_url, learner, f"lessons/{lessons[0]['id']}")
    await channel_ready(page, f"user:{learner.user_id}")

    body = page.locator(".lesson-content")
    await expect(body.locator("h4")).to_have_text("Reading candles")
    await expect(body.locator("strong")).to_have_text("bullish")
    await expect(body.get_by_role("link", name="the glossary")).to_have_attribute(
        "href", "https://example.com/glossary")
    await expect(body.get_by_role("link", name="this")).to_have_count(0)
    await expect(body).to_contain_text("<img src=x onerror=alert(1)>")  # shown as text, never parsed
    assert await body.locator("img").count() == 0
    await expect(body.get_by_role("link", name="▶ Candles explained")).to_have_attribute(
        "href", "https://www.youtube.com/watch?v=abc")

    xp = page.locator(".stat-xp dd").first
    await expect(xp).to_have_text("0")
    # Wrong: a doji, only the stop, 2 — with the keyboard alone.
    await page.get_by_label("a doji").focus()
    await page.keyboard.press("Space")
    await page.get_by_label("a stop-loss").check()
    await page.get_by_label("Your answer").fill("2")
    await page.get_by_role("button", name="Submit answers").click()
    result = page.locator(".quiz-result")
    await expect(result.get_by_role("heading")).to_have_text("Not passed: 0%")
    await expect(result).to_contain_text("No XP this time.")
    await expect(page.locator('.question[data-correct="false"]')).to_have_count(3)
    await expect(page.locator(".feedback").first).to_have_text("✗ Not right")
    await expect(page.locator(".lesson-player")).not_to_contain_text("Green: the close")
    await expect(xp).to_have_text("0")

    await page.get_by_label("a bullish one").check()
    await page.get_by_label("position sizing").check()
    await page.get_by_label("Your answer").fill("3")
    await page.get_by_role("button", name="Submit answers").click()
    await expect(result.get_by_role("heading")).to_have_text("Passed with 100%")
    await expect(result.locator(".xp-gained")).to_have_text("+1234 XP")
    await expect(page.locator('.question[data-correct="true"]')).to_have_count(3)
    await expect(page.locator(".explanation").first).to_have_text(" — Green: the close is above the open.")
    await expect(xp).to_have_text("1234")  # from `xp.awarded` on the live channel
    await expect(page.locator("#toasts")).to_contain_text("+1234 XP")
    await expect(page.locator(".level-progress")).to_contain_text("lessons done")
    await screenshot(page, "lesson-player-phone")
    await result.get_by_role("link", name=f"Next lesson: After {title}").click()
    await expect(page.get_by_role("heading", name=f"After {title}", level=1)).to_be_visible()
    assert await owner_conn.fetchval("SELECT total_xp FROM user_profiles WHERE id = $1", learner.user_id) == 1234
