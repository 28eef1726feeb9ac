"""Opening the browser app as a given user, and small waits on what a page shows."""

from __future__ import annotations

import json

import httpx
from playwright.async_api import BrowserContext, Locator, Page, expect

from tests.helpers.api import Account


async def open_as(context: BrowserContext, base_url: str, account: Account, path: str) -> Page:
    """A page of the app at `#/<path>`, signed in as `account` (its tokens put where the app keeps them),
    with the live connection open."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        me = (await http.get("/api/auth/me", headers=account.headers)).json()
    page = await context.new_page()
    await page.goto(f"{base_url}/#/login")
    # No expires_at: the app reads the token's own `exp`.
    session = {"access_token": account.access_token, "refresh_token": account.refresh_token, "user": me}
    await page.evaluate("s => localStorage.setItem('hub.session', s)", json.dumps(session))
    await page.goto(f"{base_url}/#/{path}")
    await wait_live(page)
    return page


async def wait_live(page: Page, within_ms: float = 20_000) -> None:
    await expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=within_ms)


async def channel_ready(page: Page, channel: str) -> None:
    """Waits until the page has subscribed to `channel` and the server confirmed it."""
    await page.wait_for_function("ch => Boolean(window.hubClient && window.hubClient.subscription(ch))", arg=channel)
    await page.evaluate("ch => window.hubClient.subscription(ch).ready.then(() => true)", channel)


async def session_card(page: Page, session_id: str) -> Locator:
    """The workshops page's card of one session, loading further pages until it is there: the run's other
    tests schedule sessions too, and whether theirs fill the first page depends on the order tests ran in."""
    card = page.locator(f'.session-card[data-session-id="{session_id}"]')
    cards = page.locator(".session-card")
    await expect(cards.first).to_be_visible()
    while not await card.count():
        shown = await cards.count()
        await page.get_by_role("button", name="Load more").click()
        await expect(cards).not_to_have_count(shown)
    return card
