"""The account pages in Chromium: forgot password → mailed link → reset → log in; the verification link;
the settings page (time zone, export download, deletion)."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import PHONE, NewContext, screenshot
from tests.browser.pages import open_as, wait_live
from tests.helpers.api import signup
from tests.helpers.mailbox import Mailbox, link_in

pytestmark = pytest.mark.browser


def token_in(message_link: str) -> str:
    return message_link.split("?token=", 1)[1]


async def test_forgot_password_mails_a_link_whose_page_sets_a_new_password_that_logs_in(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, mailbox: Mailbox) -> None:
    account = await signup(client, email=f"forgot-{secrets.token_hex(4)}@example.com", full_name="Forgetful")
    page = await (await new_context(viewport=PHONE)).new_page()
    await page.goto(f"{hub_url}/#/login")
    await page.get_by_role("link", name="Forgot your password?").click()
    await expect(page).to_have_url(f"{hub_url}/#/forgot")
    await page.get_by_label("Email").fill(account.email)
    await page.get_by_role("button", name="Send reset link").click()
    await expect(page.get_by_role("status").filter(has_text="reset link is on its way")).to_be_visible()
    await screenshot(page, "forgot-phone")

    link = link_in(await mailbox.wait_for(account.email, subject_contains="Reset your password"))
    assert "/#/reset?token=" in link
    await page.goto(f"{hub_url}/#/reset?token={token_in(link)}")
    await page.get_by_label("New password (at least 8 characters)").fill("my brand new password")
    await page.get_by_role("button", name="Set new password").click()
    await expect(page).to_have_url(f"{hub_url}/#/feed")
    await wait_live(page)

    await page.get_by_role("button", name="Log out").click()
    await page.get_by_label("Email").fill(account.email)
    await page.get_by_label("Password").fill(account.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_be_visible()  # the old password is gone
    await page.get_by_label("Password").fill("my brand new password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{hub_url}/#/feed")
    await wait_live(page)

    # The link worked once.
    await page.goto(f"{hub_url}/#/reset?token={token_in(link)}")
    await page.get_by_label("New password (at least 8 characters)").fill("yet another password")
    await page.get_by_role("button", name="Set new password").click()
    await expect(page.get_by_role("alert")).to_contain_text("invalid, was already used or has expired")


async def test_the_verification_link_page_verifies_and_signs_in(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, mailbox: Mailbox) -> None:
    account = await signup(client, email=f"verify-{secrets.token_hex(4)}@example.com", full_name="Verifier")
    link = link_in(await mailbox.wait_for(account.email, subject_contains="Confirm your email"))
    page = await (await new_context()).new_page()
    await page.goto(f"{hub_url}/#/verify?token={token_in(link)}")
    await expect(page.get_by_role("status").filter(has_text="is verified")).to_be_visible()
    await wait_live(page)
    await expect(page.locator("#whoami")).to_have_text("Verifier")
    await expect(page.locator("#verify-notice")).to_be_hidden()
    await page.goto(f"{hub_url}/#/settings")
    await expect(page.get_by_text(f"{account.email} — verified.")).to_be_visible()


async def test_settings_save_the_time_zone_download_the_export_and_delete_the_account(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str) -> None:
    account = await signup(client, full_name="Settler")
    page = await open_as(await new_context(), hub_url, account, "settings")
    await expect(page.locator("#verify-notice")).to_be_visible()  # signed up, link not opened yet
    await expect(page.get_by_role("link", name="Notification preferences")).to_have_attribute(
        "href", "#/settings/notifications")
    await page.get_by_label("Time zone").select_option("Europe/Berlin")
    await page.get_by_role("button", name="Save profile").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    profile = (await client.get("/api/profiles/me", headers=account.headers)).json()
    assert profile["timezone"] == "Europe/Berlin"
    await screenshot(page, "settings-desktop")

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Download my data").click()
    download = await download_info.value
    assert download.suggested_filename == "hub-export.json"
    exported = json.loads(await asyncio.to_thread(Path(await download.path()).read_text))
    assert exported["account"]["email"] == account.email

    deletion = page.get_by_role("form", name="Delete account")
    await deletion.get_by_label("Password").fill(account.password)
    await deletion.get_by_label("I understand this cannot be undone").check()
    await deletion.get_by_role("button", name="Delete my account").click()
    await expect(page).to_have_url(f"{hub_url}/#/login")
    login = await client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    assert (login.status_code, login.json()["code"]) == (401, "invalid_credentials")
