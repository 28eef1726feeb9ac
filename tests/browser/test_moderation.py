"""Reports and the moderation queue in the browser app, against the real hub: a user reports a post through
its dialog; an admin removes reported content from the Moderation page, the post leaves another user's feed
live and the reporter is told."""

from __future__ import annotations

import secrets

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import PHONE, NewContext, screenshot
from tests.browser.pages import channel_ready, open_as
from tests.browser.test_community_live import create_post
from tests.helpers.api import admin, signup

pytestmark = pytest.mark.browser


async def test_a_user_reports_a_post_through_its_dialog(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    alice = await signup(client, full_name="Alice Poster")
    bob = await signup(client, full_name="Bob Reporter")
    title = f"Guaranteed 300% returns {secrets.token_hex(3)}"
    post = await create_post(client, alice, title)
    page = await open_as(await new_context(viewport=PHONE), hub_url, bob, "feed")
    card = page.locator(f'.post-card[data-id="{post["id"]}"]')
    await card.get_by_role("button", name="Report").click()
    dialog = page.get_by_role("dialog", name="Report this post")
    await dialog.get_by_label("Reason").select_option("abuse")
    await dialog.get_by_label("Details (optional)").fill("a scam link")
    await screenshot(page, "report-dialog-phone")
    await dialog.get_by_role("button", name="Send report").click()
    await expect(page.locator("#toasts")).to_contain_text("a moderator will look at it")
    await expect(dialog).to_have_count(0)
    rows = await owner_conn.fetch("SELECT target_type, reason, details FROM private.reports "
                                  "WHERE reporter_id = $1 AND target_id = $2", bob.user_id, post["id"])
    assert [tuple(r) for r in rows] == [("post", "abuse", "a scam link")]
    # their own posts offer no report, and the Moderation link is for admins only
    own = await open_as(await new_context(), hub_url, alice, "feed")
    own_card = own.locator(f'.post-card[data-id="{post["id"]}"]')
    await expect(own_card.locator(".post-foot")).to_be_visible()
    await expect(own_card.get_by_role("button", name="Report")).to_have_count(0)
    await expect(own.get_by_role("link", name="Moderation")).to_be_hidden()


async def test_an_admin_removes_reported_content_from_the_queue_and_it_leaves_the_feed(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    alice = await signup(client, full_name="Alice Spammer")
    bob = await signup(client, full_name="Bob Watcher")
    carol = await signup(client, full_name="Carol Reader")
    title = f"Buy my course {secrets.token_hex(3)}"
    post = await create_post(client, alice, title)
    filed = await client.post("/api/reports", headers=bob.headers, json={
        "target_type": "post", "target_id": post["id"], "reason": "spam", "details": "advertising"})
    assert filed.status_code == 201, filed.text

    reader = await open_as(await new_context(), hub_url, carol, "feed")
    await channel_ready(reader, "feed")
    await expect(reader.locator(".post-card h2", has_text=title)).to_be_visible()
    reporter = await open_as(await new_context(), hub_url, bob, "lessons")
    await channel_ready(reporter, f"user:{bob.user_id}")

    page = await open_as(await new_context(), hub_url, boss, "feed")
    await page.get_by_role("link", name="Moderation").click()
    group = page.locator(f'.report-group[data-target-id="{post["id"]}"]')
    await expect(group.locator(".report-count")).to_have_text("1 report")
    await expect(group.locator(".reported-title")).to_have_text(title)
    await expect(group.get_by_role("list", name="Reports")).to_contain_text("advertising")
    await group.get_by_label("Note (kept in the audit log)").fill("commercial spam")
    await screenshot(page, "moderation-desktop")
    await group.get_by_role("button", name="Remove content").click()
    await expect(group).to_have_count(0)

    await expect(reader.locator(".post-card h2", has_text=title)).to_have_count(0)
    await expect(reporter.locator("#toasts")).to_contain_text("the content was removed")
    await reader.reload()
    await channel_ready(reader, "feed")
    await expect(reader.locator(".post-card h2", has_text=title)).to_have_count(0)
    audited = await owner_conn.fetch("SELECT action, reason, details->>'action' AS decided FROM private.admin_audit "
                                     "WHERE target_id = $1", post["id"])
    assert [tuple(r) for r in audited] == [("report.resolve", "commercial spam", "remove_content")]


async def test_blocking_an_author_drops_their_posts_and_their_live_ones_but_not_others(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str) -> None:
    pest = await signup(client, full_name="Pest Poster")
    other = await signup(client, full_name="Other Poster")
    carol = await signup(client, full_name="Carol Blocker")
    first = await create_post(client, pest, f"Noise {secrets.token_hex(3)}")
    page = await open_as(await new_context(), hub_url, carol, "feed")
    await channel_ready(page, "feed")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.locator(f'.post-card[data-id="{first["id"]}"]').get_by_role("button", name="Block author").click()
    await expect(page.locator(f'.post-card[data-id="{first["id"]}"]')).to_have_count(0)
    await expect(page.locator("#toasts")).to_contain_text("Blocked")

    # a live post of the blocked author is dropped; one by someone else, created after it, still arrives
    dropped = await create_post(client, pest, f"More noise {secrets.token_hex(3)}")
    shown = await create_post(client, other, f"Signal {secrets.token_hex(3)}")
    await expect(page.locator(f'.post-card[data-id="{shown["id"]}"]')).to_be_visible()
    await expect(page.locator(f'.post-card[data-id="{dropped["id"]}"]')).to_have_count(0)
    blocks = (await client.get("/api/me/blocks", headers=carol.headers)).json()["items"]
    assert [b["id"] for b in blocks] == [str(pest.user_id)]
