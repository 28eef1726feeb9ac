"""The notification bell in Chromium, against the real hub: another user replies over REST and the bell's
count goes up live, without a reload; the panel lists the reply, opening it marks it read and leads to the
post; the preferences page switches email per kind."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import PHONE, NewContext, screenshot
from tests.browser.pages import channel_ready, open_as
from tests.browser.test_community_live import create_post
from tests.helpers.api import signup

pytestmark = pytest.mark.browser


async def test_the_bell_counts_a_live_reply_and_opening_it_marks_it_read(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str) -> None:
    author = await signup(client, full_name="Ann Author")
    replier = await signup(client, full_name="Rob Replier")
    post = await create_post(client, author, "Which broker for options?")
    first = await client.post(f"/api/posts/{post['id']}/comments", json={"content": "an early answer"},
                              headers=replier.headers)
    assert first.status_code == 201, first.text

    page = await open_as(await new_context(), hub_url, author, "feed")
    await channel_ready(page, f"user:{author.user_id}")
    bell = page.get_by_role("button", name="Notifications, 1 unread")
    await expect(bell).to_be_visible()
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)

    reply = await client.post(f"/api/posts/{post['id']}/comments", json={"content": "Try a low-cost one"},
                              headers=replier.headers)
    assert reply.status_code == 201, reply.text
    bell = page.get_by_role("button", name="Notifications, 2 unread")
    await expect(bell).to_be_visible()
    await expect(page.locator(".bell-count")).to_have_text("2")
    assert navigations == []  # no reload: the count came over the websocket

    await bell.click()
    panel = page.get_by_role("region", name="Recent notifications")
    newest = panel.locator(".bell-item").first
    await expect(newest).to_contain_text('Rob Replier commented on "Which broker for options?": Try a low-cost one')
    await expect(panel.locator(".bell-item.unread")).to_have_count(2)
    await screenshot(page, "bell-desktop")
    await newest.get_by_role("button").click()
    await expect(page).to_have_url(f"{hub_url}/#/posts/{post['id']}")
    await expect(page.get_by_role("button", name="Notifications, 1 unread")).to_be_visible()
    unread = (await client.get("/api/notifications", params={"unread": "true"}, headers=author.headers)).json()
    assert [i["data"]["excerpt"] for i in unread["items"]] == ["an early answer"]

    await page.get_by_role("button", name="Notifications, 1 unread").click()
    await panel.get_by_role("button", name="Mark all read").click()
    await expect(page.get_by_role("button", name="Notifications, 0 unread")).to_be_visible()
    await expect(page.locator(".bell-count")).to_be_hidden()


async def test_the_preferences_page_switches_email_per_kind(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str) -> None:
    user = await signup(client)
    page = await open_as(await new_context(viewport=PHONE), hub_url, user, "settings/notifications")
    replies = page.get_by_label("Comments on my posts")
    await expect(replies).to_be_checked()
    await expect(page.get_by_label("Achievements I unlock")).not_to_be_checked()
    await replies.uncheck()
    await expect(page.get_by_role("status").filter(has_text="Saved")).to_contain_text("is off")
    settings = (await client.get("/api/me/notification-settings", headers=user.headers)).json()
    assert settings["email"]["post.reply"] is False
    await screenshot(page, "notification-settings-phone")
    await page.get_by_role("button", name="Notifications, 0 unread").click()
    await page.get_by_role("link", name="Preferences").click()
    await expect(page).to_have_url(f"{hub_url}/#/settings/notifications")
