"""The post page in two browsers at once, against the real hub: live comments, votes, edits, replies,
and user text that is always shown as text."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Dialog, Page, expect

from tests.browser.conftest import PHONE, NewContext, screenshot
from tests.browser.pages import channel_ready, open_as
from tests.helpers.api import Account, signup

pytestmark = pytest.mark.browser


async def create_post(client: httpx.AsyncClient, author: Account, title: str) -> dict[str, Any]:
    response = await client.post("/api/posts", headers=author.headers, json={
        "title": title, "content": "What do you all think?", "post_type": "discussion", "category": "general",
        "tags": []})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def thread_ready(page: Page, post_id: str) -> None:
    """Waits until the page's `thread:` and `votes:` subscriptions are confirmed by the server."""
    for channel in (f"thread:{post_id}", f"votes:{post_id}"):
        await channel_ready(page, channel)


async def write_comment(page: Page, text: str) -> None:
    form = page.get_by_role("form", name="Add a comment")
    await form.get_by_label("Add a comment").fill(text)
    await form.get_by_role("button", name="Comment").click()


def comment_li(page: Page, comment_id: str) -> Any:
    return page.locator(f'li.comment[data-comment-id="{comment_id}"]')


async def comment_id_of(page: Page, text: str) -> str:
    li = page.locator("li.comment", has=page.locator(".comment-body", has_text=text)).last
    await expect(li).to_be_visible()
    value = await li.get_attribute("data-comment-id")
    assert value
    return value


async def test_comment_vote_edit_and_reply_in_one_browser_appear_in_the_other_without_reload(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    alice = await signup(client, full_name="Alice Browser")
    bob = await signup(client, full_name="Bob Browser")
    post = await create_post(client, alice, "Which timeframe do you trade?")
    page_a = await open_as(await new_context(), hub_url, alice, f"posts/{post['id']}")
    page_b = await open_as(await new_context(viewport=PHONE), hub_url, bob, f"posts/{post['id']}")
    await thread_ready(page_a, post["id"])
    await thread_ready(page_b, post["id"])
    loads_b = []
    page_b.on("load", lambda _: loads_b.append(1))

    await write_comment(page_a, "Mostly the 4h chart")
    await expect(page_b.locator(".comment-body", has_text="Mostly the 4h chart")).to_be_visible()
    cid = await comment_id_of(page_b, "Mostly the 4h chart")

    await comment_li(page_b, cid).locator("> .comment-actions").get_by_role("button", name="Upvote").click()
    await expect(comment_li(page_a, cid).locator("> .comment-actions .score")).to_have_text("1")
    await expect(comment_li(page_b, cid).locator("> .comment-actions").get_by_role("button", name="Upvote")
                 ).to_have_attribute("aria-pressed", "true")
    await page_b.locator("article.post-full").get_by_role("button", name="Upvote").click()
    await expect(page_a.locator("article.post-full .score")).to_have_text("1")

    await comment_li(page_a, cid).locator("> .comment-actions").get_by_role("button", name="Edit").click()
    await page_a.get_by_label("Edit your comment").fill("Mostly the daily chart")
    await page_a.get_by_role("button", name="Save").click()
    await expect(comment_li(page_b, cid).locator("> .comment-body")).to_have_text("Mostly the daily chart")

    await comment_li(page_b, cid).locator("> .comment-actions").get_by_role("button", name="Reply").click()
    await page_b.get_by_label("Your reply").fill("Same here, daily")
    await page_b.get_by_role("form", name="Reply").get_by_role("button", name="Reply").click()
    await expect(comment_li(page_a, cid).locator(".replies .comment-body")).to_have_text("Same here, daily")

    assert loads_b == []  # everything arrived live
    counts = await owner_conn.fetchrow(
        "SELECT upvotes_count, (SELECT count(*) FROM community_comments WHERE post_id = $1) AS comments "
        "FROM community_comments WHERE id = $2", post["id"], cid)
    assert (counts["upvotes_count"], counts["comments"]) == (1, 2)
    await screenshot(page_a, "post-desktop")
    await screenshot(page_b, "post-phone")


async def test_a_new_post_appears_live_on_another_users_feed(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str) -> None:
    alice = await signup(client, full_name="Alice Feed")
    bob = await signup(client, full_name="Bob Feed")
    page_b = await open_as(await new_context(), hub_url, bob, "feed")
    await channel_ready(page_b, "feed")
    page_a = await open_as(await new_context(), hub_url, alice, "feed")
    await page_a.get_by_text("Start a discussion").click()
    await page_a.get_by_label("Title").fill("Fresh idea about stop losses")
    await page_a.get_by_label("What's on your mind?").fill("Trailing or fixed?")
    await page_a.get_by_role("button", name="Post", exact=True).click()
    await expect(page_b.locator(".post-card h2", has_text="Fresh idea about stop losses")).to_be_visible()
    await expect(page_a.locator(".post-card h2", has_text="Fresh idea about stop losses")).to_have_count(1)
    await screenshot(page_b, "feed-desktop")


async def test_markup_in_comments_and_titles_is_shown_as_text_and_never_runs(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str) -> None:
    alice = await signup(client, full_name="<b>Mallory</b>")
    bob = await signup(client, full_name="Bob Reader")
    post = await create_post(client, alice, "<img src=x onerror=alert(1)> title")
    dialogs: list[str] = []
    page_b = await open_as(await new_context(), hub_url, bob, f"posts/{post['id']}")
    page_b.on("dialog", lambda d: _dismiss(d, dialogs))
    await thread_ready(page_b, post["id"])
    page_a = await open_as(await new_context(), hub_url, alice, f"posts/{post['id']}")
    page_a.on("dialog", lambda d: _dismiss(d, dialogs))
    payload = "<img src=x onerror=alert(1)> and <script>window.__xss = 1; alert(2)</script>"
    await write_comment(page_a, payload)
    body = page_b.locator(".comment-body", has_text="onerror")
    await expect(body).to_have_text(payload)
    await expect(page_b.locator("h1.post-title")).to_have_text("<img src=x onerror=alert(1)> title")
    for page in (page_a, page_b):
        assert await page.locator("#view img, #view script, #view b").count() == 0
        assert await page.evaluate("window.__xss") is None
    await page_b.goto(f"{hub_url}/#/feed")
    await expect(page_b.locator(".post-card h2", has_text="onerror").first).to_be_visible()
    # No element in the views could run an `onerror` (the counts above), so no dialog can still come.
    assert await page_b.locator("#view img").count() == 0
    assert dialogs == []


async def _dismiss(dialog: Dialog, seen: list[str]) -> None:
    seen.append(dialog.message)
    await dialog.dismiss()
