"""The browser app on the msgpack encoding (`localStorage["hub.encoding"] = "msgpack"`), against the real hub:
the vendored codec loads under the app's `script-src 'self'`, every frame it receives is binary, and live
comments flow between it and a browser on JSON."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.conftest import NewContext
from tests.browser.pages import open_as
from tests.browser.test_community_live import create_post, thread_ready, write_comment
from tests.helpers.api import signup

pytestmark = pytest.mark.browser

# Notes the websocket type of every message a page's sockets receive, and any CSP refusal.
WATCH = """
window.wsKinds = [];
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => cspViolations.push(e.blockedURI));
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (e) => wsKinds.push(typeof e.data === "string" ? "text" : "binary"));
  }
};
"""


async def watched(context: BrowserContext, encoding: str | None) -> BrowserContext:
    await context.add_init_script(WATCH)
    if encoding is not None:
        # try: the script also runs in the new page's about:blank, which has no storage.
        await context.add_init_script(f"try {{ localStorage.setItem('hub.encoding', '{encoding}'); }} catch {{}}")
    return context


async def test_the_app_on_msgpack_gets_binary_frames_and_live_comments_from_and_to_a_json_browser(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    alice = await signup(client, full_name="Alice Msgpack")
    bob = await signup(client, full_name="Bob Json")
    post = await create_post(client, alice, "Binary or text?")
    packed = await open_as(await watched(await new_context(), "msgpack"), hub_url, alice, f"posts/{post['id']}")
    text = await open_as(await watched(await new_context(), None), hub_url, bob, f"posts/{post['id']}")
    await thread_ready(packed, post["id"])
    await thread_ready(text, post["id"])

    assert await packed.evaluate("[hubClient.encoding, hubClient._ws.protocol]") == ["msgpack", "hub.v1.msgpack"]
    assert await text.evaluate("[hubClient.encoding, hubClient._ws.protocol]") == ["json", ""]

    await write_comment(text, "Sent as text, read as msgpack")
    await expect(packed.locator(".comment-body", has_text="Sent as text, read as msgpack")).to_be_visible()
    await write_comment(packed, "Written on a msgpack page")
    await expect(text.locator(".comment-body", has_text="Written on a msgpack page")).to_be_visible()
    await expect(packed.locator(".comment-body", has_text="Written on a msgpack page")).to_be_visible()

    kinds = await packed.evaluate("wsKinds")
    assert kinds and set(kinds) == {"binary"}
    assert set(await text.evaluate("wsKinds")) == {"text"}
    assert await packed.evaluate("cspViolations") == []
    assert await packed.evaluate("typeof MessagePack.decode") == "function"
