"""Room moderation in two browsers against the real hub: the host locks the chat, sets slow mode, mutes a
participant for a few minutes and then kicks them; the participant's page shows each state as it comes and
finally leaves the room with a message. Everything is done from the keyboard-reachable controls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import NewContext, screenshot
from tests.browser.pages import channel_ready, open_as
from tests.browser.test_workshop_room import person
from tests.helpers.api import signup, with_role

pytestmark = pytest.mark.browser


async def test_the_host_mutes_and_then_kicks_a_participant_who_sees_each_state_and_leaves_the_room(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    host = await with_role(client, owner_conn, await signup(client, full_name="Mia Moderator"), "host")
    pat = await signup(client, full_name="Pat Participant")
    response = await client.post("/api/sessions", headers=host.headers, json={
        "title": "Moderated workshop", "scheduled_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "duration": "PT1H"})
    session_id = response.json()["id"]
    assert (await client.post(f"/api/sessions/{session_id}/registration", headers=pat.headers)).status_code == 201
    host_page = await open_as(await new_context(), hub_url, host, f"sessions/{session_id}")
    pat_page = await open_as(await new_context(), hub_url, pat, f"sessions/{session_id}")
    for page in (host_page, pat_page):
        await channel_ready(page, f"session:{session_id}")
    await host_page.get_by_role("button", name="Start", exact=True).click()
    chat_box = pat_page.get_by_role("textbox", name="Chat message", exact=True)
    await expect(chat_box).to_be_enabled()
    state = pat_page.locator(".moderation-state")

    await host_page.get_by_role("button", name="Lock chat").click()
    await expect(state).to_contain_text("Chat is locked by the host.")
    await expect(chat_box).to_be_disabled()
    await expect(pat_page.get_by_role("textbox", name="Ask a question", exact=True)).to_be_enabled()
    await host_page.get_by_role("button", name="Unlock chat").click()
    await expect(chat_box).to_be_enabled()
    await expect(host_page.get_by_role("button", name="Lock chat")).to_have_attribute("aria-pressed", "false")

    slow = host_page.get_by_role("spinbutton", name="Slow mode seconds")
    await slow.fill("30")
    await slow.press("Enter")
    await expect(state).to_have_text("Slow mode: one message every 30 s.")

    pat_in_host_view = person(host_page, pat)
    minutes = pat_in_host_view.get_by_role("spinbutton", name="Mute minutes")
    await minutes.fill("3")
    await minutes.press("Enter")
    await expect(state).to_contain_text("You are muted until")
    await expect(state).to_have_attribute("data-muted", "true")
    await expect(chat_box).to_be_disabled()
    await expect(pat_page.get_by_role("textbox", name="Ask a question", exact=True)).to_be_disabled()
    await expect(pat_in_host_view.locator(".muted-badge")).to_contain_text("muted until")
    await expect(person(pat_page, pat).locator(".muted-badge")).to_be_visible()
    until = await owner_conn.fetchval("SELECT muted_until - now() FROM public.session_room_sanctions "
                                      "WHERE session_id = $1 AND user_id = $2", UUID(session_id), pat.user_id)
    assert timedelta(minutes=2) < until <= timedelta(minutes=3)
    await screenshot(host_page, "room-moderation-host")
    await screenshot(pat_page, "room-moderation-muted")

    kick = pat_in_host_view.get_by_role("button", name="Kick")
    await kick.focus()
    await kick.press("Enter")
    await expect(pat_page.get_by_role("alert")).to_contain_text("You were removed from this room by the host.")
    await expect(pat_page.locator(".room-grid")).to_have_count(0)
    await expect(pat_in_host_view).to_have_count(0)
    assert await owner_conn.fetchval("SELECT count(*) FROM public.session_participants WHERE session_id = $1",
                                     UUID(session_id)) == 0
