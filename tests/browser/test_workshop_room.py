"""A workshop run in three browsers — a host and two participants — against the real hub: start, chat,
a question upvoted and answered, a raised hand lowered by the host, an announcement, a reaction, end.
Every page ends up showing the same state, and the database agrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PHONE, NewContext, screenshot
from tests.browser.pages import channel_ready, open_as
from tests.helpers.api import Account, signup, with_role

pytestmark = pytest.mark.browser


def person(page: Page, account: Account) -> Any:
    return page.locator(f'.presence li[data-user-id="{account.user_id}"]')


async def room_state(page: Page) -> dict[str, Any]:
    """What a page shows, in a form that can be compared across pages."""
    state: dict[str, Any] = await page.evaluate("""() => ({
      status: document.querySelector('#room-status').textContent,
      chat: [...document.querySelectorAll('.chat li .text')].map((e) => e.textContent),
      questions: [...document.querySelectorAll('.questions li')].map((li) => ({
        text: li.querySelector('.q-text .text').textContent,
        votes: li.querySelector('.q-votes').textContent,
        answered: li.classList.contains('answered'),
      })),
      announcements: [...document.querySelectorAll('.announcement .text')].map((e) => e.textContent),
    })""")
    return state


async def test_host_and_two_participants_run_a_workshop_and_every_page_shows_the_same_state(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    host = await with_role(client, owner_conn, await signup(client, full_name="Hana Host"), "host")
    ana = await signup(client, full_name="Ana Participant")
    ben = await signup(client, full_name="Ben Participant")
    response = await client.post("/api/sessions", headers=host.headers, json={
        "title": "Reading the tape, live", "scheduled_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "duration": "PT1H", "max_participants": 10})
    assert response.status_code == 201, response.text
    session_id = response.json()["id"]
    for participant in (ana, ben):
        registered = await client.post(f"/api/sessions/{session_id}/registration", headers=participant.headers)
        assert registered.status_code == 201, registered.text

    host_page = await open_as(await new_context(), hub_url, host, f"sessions/{session_id}")
    ana_page = await open_as(await new_context(), hub_url, ana, f"sessions/{session_id}")
    ben_page = await open_as(await new_context(viewport=PHONE), hub_url, ben, f"sessions/{session_id}")
    pages = [host_page, ana_page, ben_page]
    for page in pages:
        await channel_ready(page, f"session:{session_id}")

    await host_page.get_by_role("button", name="Start", exact=True).click()
    for page in pages:
        await expect(page.locator("#room-status")).to_have_text("live")
        for account, role in ((host, "host"), (ana, "participant"), (ben, "participant")):
            await expect(person(page, account)).to_have_attribute("data-role", role)

    await ana_page.get_by_role("textbox", name="Chat message", exact=True).fill("Hello everyone")
    await ana_page.get_by_role("form", name="Chat message").get_by_role("button", name="Send").click()
    await ben_page.get_by_role("textbox", name="Ask a question", exact=True).fill("Where do you put the stop?")
    await ben_page.get_by_role("form", name="Ask a question").get_by_role("button", name="Send").click()
    for page in pages:
        await expect(page.locator(".chat li .text")).to_have_text(["Hello everyone"])
        await expect(page.locator(".questions li .q-text .text")).to_have_text(["Where do you put the stop?"])

    await ana_page.locator(".questions li").get_by_role("button", name="Upvote question").click()
    for page in pages:
        await expect(page.locator(".questions li .q-votes")).to_have_text("1")
    await host_page.locator(".questions li").get_by_role("button", name="Mark answered").click()
    for page in pages:
        await expect(page.locator(".questions li")).to_have_class("answered")

    await ana_page.get_by_role("button", name="✋ Raise hand").click()
    for page in pages:
        await expect(person(page, ana)).to_have_attribute("data-hand", "raised")
    await screenshot(host_page, "room-host-desktop")
    await person(host_page, ana).get_by_role("button", name="Lower hand").click()
    for page in pages:
        await expect(person(page, ana)).to_have_attribute("data-hand", "down")
    await expect(ana_page.get_by_role("button", name="✋ Raise hand")).to_have_attribute("aria-pressed", "false")

    await host_page.get_by_role("textbox", name="Announcement", exact=True).fill("Ten minute break after this")
    await host_page.get_by_role("form", name="Announce").get_by_role("button", name="Announce").click()
    await ben_page.get_by_role("button", name="React 👏").click()
    for page in pages:
        await expect(page.locator(".announcement .text")).to_have_text(["Ten minute break after this"])
    for page in (host_page, ana_page):
        await expect(page.locator(".reaction-feed .reaction").first).to_have_text("👏")
    await screenshot(ben_page, "room-participant-phone")

    await host_page.get_by_role("button", name="End", exact=True).click()
    for page in pages:
        await expect(page.locator("#room-status")).to_have_text("ended")
    states = [await room_state(page) for page in pages]
    assert states[0] == states[1] == states[2]
    assert states[0]["questions"] == [{"text": "Where do you put the stop?", "votes": "1", "answered": True}]

    status = await owner_conn.fetchval("SELECT status FROM live_sessions WHERE id = $1", session_id)
    rows = await owner_conn.fetch(
        "SELECT kind, content, upvotes_count, is_answered FROM session_messages WHERE session_id = $1 "
        "AND kind IN ('chat', 'question', 'announcement') ORDER BY created_at", session_id)
    assert status == "ended"
    assert [tuple(r) for r in rows] == [("chat", "Hello everyone", 0, False),
                                        ("question", "Where do you put the stop?", 1, True),
                                        ("announcement", "Ten minute break after this", 0, False)]
