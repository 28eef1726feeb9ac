"""Signing up and in through the forms, and the workshop list's registration and waitlist states."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Route, expect

from tests.browser.conftest import PHONE, NewContext, screenshot
from tests.browser.pages import channel_ready, open_as, session_card, wait_live
from tests.helpers.api import signup, with_role

pytestmark = pytest.mark.browser


async def test_sign_up_log_out_and_log_in_through_the_forms_opens_the_live_feed(
        new_context: NewContext, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    email = f"browser-{secrets.token_hex(4)}@example.com"
    page = await (await new_context(viewport=PHONE)).new_page()
    await page.goto(f"{hub_url}/")
    await expect(page).to_have_url(f"{hub_url}/#/login")
    await screenshot(page, "login-phone")
    await page.get_by_role("link", name="Create an account").click()
    await page.get_by_label("Your name").fill("Fresh Learner")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password (at least 8 characters)").fill("short")
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(f"{hub_url}/#/signup")  # the browser's own check refuses a short one
    await page.get_by_label("Password (at least 8 characters)").fill("a good long password")
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(f"{hub_url}/#/feed")
    await wait_live(page)
    await expect(page.locator("#whoami")).to_have_text("Fresh Learner")
    assert await owner_conn.fetchval("SELECT count(*) FROM auth.users WHERE email = $1", email) == 1

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(f"{hub_url}/#/login")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "idle")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("a wrong password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await page.get_by_label("Password").fill("a good long password")
    await page.get_by_role("button", name="Log in").click()
    await wait_live(page)
    await screenshot(page, "feed-phone")


async def test_registering_shows_seat_or_waitlist_and_a_promotion_arrives_live(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    host = await with_role(client, owner_conn, await signup(client, full_name="Sam Host"), "host")
    title = f"Risk clinic {secrets.token_hex(3)}"
    response = await client.post("/api/sessions", headers=host.headers, json={
        "title": title, "scheduled_at": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(),
        "duration": "PT45M", "max_participants": 1})
    assert response.status_code == 201, response.text
    session_id = response.json()["id"]
    first = await signup(client, full_name="First In")
    second = await signup(client, full_name="Second In")

    page_1 = await open_as(await new_context(), hub_url, first, "sessions")
    page_2 = await open_as(await new_context(viewport=PHONE), hub_url, second, "sessions")
    await channel_ready(page_2, f"user:{second.user_id}")
    card_1 = await session_card(page_1, session_id)
    card_2 = await session_card(page_2, session_id)
    await card_1.get_by_role("button", name="Register").click()
    await expect(card_1.locator(".status-registered")).to_have_text("Registered")
    await expect(card_1.get_by_role("link", name="Open the room")).to_be_visible()
    await card_2.get_by_role("button", name="Register").click()
    await expect(card_2.locator(".status-waitlisted")).to_have_text("Waitlisted")
    await screenshot(page_2, "sessions-phone")

    await card_1.get_by_role("button", name="Cancel registration").click()
    await expect(card_1.get_by_role("button", name="Register")).to_be_visible()
    await expect(page_2.locator("#toasts")).to_contain_text(f'You got a seat in "{title}"')
    await expect(card_2.locator(".status-registered")).to_have_text("Registered")
    statuses = await owner_conn.fetch(
        "SELECT user_id, attendance_status FROM session_participants WHERE session_id = $1", session_id)
    assert {(r["user_id"], r["attendance_status"]) for r in statuses} == {(second.user_id, "registered")}
    await screenshot(page_1, "sessions-desktop")


async def test_a_session_past_the_first_page_is_reached_with_load_more_and_registering_keeps_the_pages_shown(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    host = await with_role(client, owner_conn, await signup(client, full_name="Pat Busy"), "host")
    # Fifty sessions sooner than ours, in the page's window, fill its first page whatever else the run holds.
    await owner_conn.execute(
        """INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration)
           SELECT 'Filler ' || n, $1, now() - interval '1 hour', interval '2 hours' FROM generate_series(1, 50) AS n""",
        host.user_id)
    response = await client.post("/api/sessions", headers=host.headers, json={
        "title": f"Late clinic {secrets.token_hex(3)}", "duration": "PT45M", "max_participants": 5,
        "scheduled_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
    assert response.status_code == 201, response.text
    session_id = response.json()["id"]
    learner = await signup(client)

    page = await open_as(await new_context(), hub_url, learner, "sessions")
    cards = page.locator(".session-card")
    await expect(cards).to_have_count(50)
    assert await page.locator(f'.session-card[data-session-id="{session_id}"]').count() == 0
    later_pages: list[str] = []
    page.on("request", lambda request: later_pages.append(request.url) if "cursor=" in request.url else None)
    more = page.get_by_role("button", name="Load more")
    await more.evaluate("button => { button.click(); button.click(); }")  # a double click, as fast as it comes
    await expect(cards).not_to_have_count(50)
    await expect(page.locator("button", has_text="Load more")).to_be_enabled()  # hidden too, when no page is left
    assert len(later_pages) == 1, later_pages  # the button was busy: the second page was asked for once
    ids = await cards.evaluate_all("cards => cards.map(card => card.dataset.sessionId)")
    assert len(ids) == len(set(ids))
    card = await session_card(page, session_id)
    shown = await cards.count()
    assert shown > 50
    await card.get_by_role("button", name="Register").click()
    await expect(card.locator(".status-registered")).to_have_text("Registered")
    await expect(cards).to_have_count(shown)  # the card changed in place; the list did not fall back to page one


async def test_a_page_asked_for_before_the_list_was_reloaded_is_dropped_when_it_arrives(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    host = await with_role(client, owner_conn, await signup(client, full_name="Rae Hold"), "host")
    await owner_conn.execute(  # a second page, whatever else the run holds
        """INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration)
           SELECT 'Filler ' || n, $1, now() - interval '1 hour', interval '2 hours' FROM generate_series(1, 60) AS n""",
        host.user_id)
    page = await open_as(await new_context(), hub_url, host, "sessions")
    cards = page.locator(".session-card")
    await expect(cards).to_have_count(50)
    held: asyncio.Future[Route] = asyncio.get_running_loop().create_future()
    await page.route(lambda url: "cursor=" in url, lambda route: held.set_result(route) if not held.done() else None)
    await page.get_by_role("button", name="Load more").click()
    second_page = await asyncio.wait_for(held, 15)  # asked for, its answer held back

    await cards.evaluate_all("cards => cards.forEach(card => { card.dataset.old = '1'; })")
    await page.get_by_label("Title").fill(f"Fresh {secrets.token_hex(3)}")
    await page.get_by_role("button", name="Schedule").click()  # a new session reloads the list
    await expect(page.locator(".session-card[data-old]")).to_have_count(0)
    await expect(cards).to_have_count(50)
    async with page.expect_response(lambda r: "cursor=" in r.url):
        await second_page.continue_()
    await expect(page.get_by_role("button", name="Load more")).to_be_enabled()  # busy until that page was handled
    assert await cards.count() == 50  # the old list's second page was not appended to the new one


async def test_the_live_connection_outlives_short_access_tokens_by_refreshing_them_in_place(
        new_context: NewContext, start_hub: Any) -> None:
    with start_hub(access_token_ttl_s=6) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            account = await signup(http)
        page = await open_as(await new_context(), url, account, "feed")
        first_token = await page.evaluate("JSON.parse(localStorage.getItem('hub.session')).access_token")
        await page.wait_for_timeout(9_000)  # past the first token's expiry: the hub closes with 4001 unless refreshed
        assert await page.evaluate("window.hubClient.state") == "open"
        assert await page.evaluate("window.hubClient.reconnects") == 0
        assert await page.evaluate("JSON.parse(localStorage.getItem('hub.session')).access_token") != first_token
        await page.get_by_role("link", name="Lessons").click()  # REST keeps working with the refreshed pair
        await expect(page.locator(".stat-level dd")).to_have_text("1")
