"""`hub-client.js` falls back to Server-Sent Events by itself where websocket upgrades are refused, in real
Chromium against the real hub: the page's `/ws` is cut by the test's network routing (Playwright's
`route_web_socket`), the post page keeps showing comments live, none is lost or shown twice across the switch,
and publishes go through REST."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import httpx
import pytest
from playwright.async_api import BrowserContext, WebSocketRoute, expect

from tests.browser.conftest import NewContext, screenshot
from tests.browser.pages import open_as, wait_live
from tests.browser.test_community_live import create_post, thread_ready, write_comment
from tests.helpers.api import signup
from tests.integration.test_live_room import live_room
from tests.integration.test_sessions import host_account

pytestmark = pytest.mark.browser


class Upgrades:
    """The context's websockets to `/ws`: passed to the hub while `allowed`, else opened and closed at once
    (before the client's `auth` can be answered), as a proxy that refuses upgrades looks to the client."""

    def __init__(self) -> None:
        self.allowed = True
        self.refused = 0
        self.open: list[WebSocketRoute] = []

    async def install(self, context: BrowserContext) -> None:
        await context.route_web_socket("**/ws", self._route)

    async def _route(self, ws: WebSocketRoute) -> None:
        if self.allowed:
            ws.connect_to_server()
            self.open.append(ws)
            return
        self.refused += 1
        await ws.close(code=1011, reason="upgrade refused")

    async def refuse_from_now_on(self) -> None:
        self.allowed = False
        for ws in self.open:
            await ws.close(code=1006, reason="proxy dropped the connection")
        self.open.clear()


async def test_with_websockets_refused_the_post_page_switches_to_sse_and_loses_no_comment(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str) -> None:
    alice = await signup(client, full_name="Alice Proxy")
    bob = await signup(client, full_name="Bob Proxy")
    post = await create_post(client, alice, "Does the page work behind a strict proxy?")
    context = await new_context()
    upgrades = Upgrades()
    await upgrades.install(context)
    page = await open_as(context, hub_url, bob, f"posts/{post['id']}")
    await thread_ready(page, post["id"])
    assert await page.evaluate("window.hubClient.transport") == "websocket"
    await write_comment(page, "over the websocket")
    bodies = page.locator("ol.thread .comment-body")
    await expect(bodies).to_have_text(["over the websocket"])

    await upgrades.refuse_from_now_on()
    written = [f"while switching #{n}" for n in range(1, 4)]
    for text in written:  # nothing can reach the page until it is on SSE: it must resume from its last seq
        response = await client.post(f"/api/posts/{post['id']}/comments", headers=alice.headers,
                                     json={"content": text})
        assert response.status_code == 201, response.text
    await page.wait_for_function("() => window.hubClient.transport === 'sse'", timeout=30_000)
    await wait_live(page, within_ms=30_000)
    assert upgrades.refused >= 3
    await expect(bodies).to_have_text(["over the websocket", *written])

    live = await client.post(f"/api/posts/{post['id']}/comments", headers=alice.headers,
                             json={"content": "live over SSE"})
    assert live.status_code == 201
    await write_comment(page, "bob's own, on SSE")
    await expect(bodies).to_have_text(["over the websocket", *written, "live over SSE", "bob's own, on SSE"])
    # A duplicate of any of them would be delivered before a later comment: once that one shows, none did.
    marker = await client.post(f"/api/posts/{post['id']}/comments", headers=alice.headers,
                               json={"content": "the last one"})
    assert marker.status_code == 201
    await expect(bodies).to_have_text(["over the websocket", *written, "live over SSE", "bob's own, on SSE",
                                       "the last one"])
    await screenshot(page, "post-on-sse")


async def test_on_sse_a_publish_goes_through_rest_and_comes_back_on_the_stream(
        new_context: NewContext, client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, _ = await live_room(owner_conn, host, 0)
    member = await signup(client, full_name="Member Proxy")
    await owner_conn.execute("INSERT INTO public.session_participants (session_id, user_id) VALUES ($1, $2)",
                             UUID(channel[8:]), member.user_id)
    context = await new_context()
    upgrades = Upgrades()
    upgrades.allowed = False
    await upgrades.install(context)
    page = await open_as(context, hub_url, member, "")
    assert await page.evaluate("window.hubClient.transport") == "sse"
    said = await page.evaluate("""async (channel) => {
        const hub = window.hubClient;
        const sub = hub.subscribe(channel);
        const heard = new Promise((resolve) => sub.on("chat.message", (data, frame) => resolve(frame)));
        await sub.ready;
        const result = await hub.publish(channel, "chat.message", { text: "said over REST" });
        const frame = await heard;
        let refused = null;
        try { await hub.publish(channel, "room.lock_chat", { locked: true }); } catch (err) { refused = err.code; }
        return { result, frame, refused };
    }""", channel)
    assert "said over REST" in str(said["frame"]["data"])
    assert said["frame"]["seq"] == said["result"].get("seq", said["frame"]["seq"])
    assert said["refused"] == "forbidden"
