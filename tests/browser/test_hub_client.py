"""`static/hub-client.js` in real Chromium against a small protocol-speaking server (tests/browser/fake_hub.py).

These prove the client's own promises — ids and timeouts, resume from the last seq after a reconnect,
backoff with jitter, "reconnect now" codes, reset, gaps, token refresh, heartbeats, presence — without
needing the hub's backend.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page

from tests.browser.conftest import STATIC_DIR, NewContext
from tests.browser.fake_hub import FakeHub, fake_hub
from tests.helpers.eventually import eventually

pytestmark = pytest.mark.browser

THREAD = "thread:6f1c0000-0000-4000-8000-000000000001"
HARNESS = """<!doctype html><meta charset="utf-8"><title>client harness</title>
<script type="module">
import { HubClient, applyPresenceDiff } from "/hub-client.js";
window.HubClient = HubClient;
window.applyPresenceDiff = applyPresenceDiff;
window.log = [];
window.states = [];
window.tokenCalls = [];
window.makeClient = (url, options = {}) => {
  const hub = new HubClient({
    url,
    getToken: async ({ forceRefresh }) => {
      tokenCalls.push(forceRefresh);
      if (window.tokenFails) throw new Error("signed out");
      return "tok-" + tokenCalls.length;
    },
    backoff: { initialMs: 100, maxMs: 2000 },
    ...options,
  });
  hub.on("state", (s) => states.push(s.state));
  window.hub = hub;
  return hub;
};
window.harnessReady = true;
</script>"""


@pytest.fixture
async def harness(new_context: NewContext) -> AsyncIterator[tuple[Page, FakeHub]]:
    async with fake_hub(static_dir=STATIC_DIR, pages={"/harness.html": HARNESS}) as hub:
        context = await new_context()
        page = await context.new_page()
        await page.goto(f"{hub.origin}/harness.html")
        await page.wait_for_function("window.harnessReady === true")
        yield page, hub
        await page.evaluate("window.hub && window.hub.close()")


async def connect_with_thread(page: Page, hub: FakeHub, **options: Any) -> None:
    await page.evaluate(
        """([url, channel, options]) => {
          const client = makeClient(url, options);
          const sub = client.subscribe(channel, { onReset: async (f) => { log.push(["reset", f.seq]); } });
          sub.on("comment.created", (data, frame) => log.push([frame.seq, data.n]));
          return client.connect().then(() => sub.ready);
        }""",
        [hub.url, THREAD, options],
    )


async def page_log(page: Page) -> list[Any]:
    result: list[Any] = await page.evaluate("window.log")
    return result


async def test_client_authenticates_first_and_matches_replies_and_pongs_by_id(
        harness: tuple[Page, FakeHub]) -> None:
    page, hub = harness
    await connect_with_thread(page, hub)
    auth, subscribe = hub.received[0], hub.received[1]
    assert auth["op"] == "auth" and auth["token"] == "tok-1" and isinstance(auth["id"], int)
    assert subscribe == {"op": "subscribe", "channel": THREAD, "id": subscribe["id"]}
    rtt = await page.evaluate("hub.ping()")
    assert rtt >= 0 and hub.frames("ping")[-1]["id"] > subscribe["id"]
    assert await page.evaluate("hub.publish('session:x', 'chat.message', {text: 'hi'})") == {}
    assert hub.frames("publish")[0]["data"] == {"text": "hi"}


async def test_client_request_without_reply_fails_with_timeout_code(harness: tuple[Page, FakeHub]) -> None:
    page, hub = harness
    await connect_with_thread(page, hub, requestTimeoutMs=300)
    hub.silent = True
    code = await page.evaluate("hub.publish('session:x', 'chat.message', {text: 'x'}).catch((e) => e.code)")
    assert code == "timeout"


async def test_client_reports_a_refused_request_with_the_servers_error_code(
        harness: tuple[Page, FakeHub]) -> None:
    page, hub = harness
    await connect_with_thread(page, hub)
    code = await page.evaluate("hub.request({op: 'auth', token: 'bad'}).catch((e) => e.code)")
    assert code == "unauthorized"


@pytest.mark.parametrize("close_code", [1001, 4008])
async def test_client_reconnects_at_once_on_drain_or_slow_consumer_and_resumes_without_loss_or_duplicates(
        harness: tuple[Page, FakeHub], close_code: int) -> None:
    page, hub = harness
    # A long backoff: only the "reconnect now" rule can explain a fast reconnect.
    await connect_with_thread(page, hub, backoff={"initialMs": 5000, "maxMs": 5000})
    for n in (1, 2):
        await hub.publish(THREAD, "comment.created", {"n": n})
    await eventually(lambda: _has(page, 2))
    await hub.close_all(close_code)
    for n in (3, 4):  # written while the client is away
        hub.append(THREAD, "comment.created", {"n": n})
    closed_at = time.monotonic()
    await eventually(lambda: _has(page, 4))
    assert len(hub.connect_times) == 2 and hub.connect_times[1] - closed_at < 1.0
    await hub.publish(THREAD, "comment.created", {"n": 5})
    await eventually(lambda: _has(page, 5))
    assert await page_log(page) == [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]
    assert [f.get("since") for f in hub.frames("subscribe")] == [None, 2]
    assert await page.evaluate("hub.reconnects") == 1


async def _has(page: Page, count: int) -> bool:
    return len(await page_log(page)) >= count


async def test_client_backs_off_exponentially_with_jitter_while_the_server_refuses(
        harness: tuple[Page, FakeHub]) -> None:
    page, hub = harness
    # The fake hub speaks no SSE: the client must stay on websockets (test_sse_fallback.py covers the switch).
    await connect_with_thread(page, hub, backoff={"initialMs": 100, "factor": 2, "maxMs": 800, "jitter": 0.5},
                              sseAfterFailures=1000)
    hub.refuse_with = 1011
    await hub.close_all(1011)
    await eventually(lambda: len(hub.connect_times) >= 6, within=10)
    gaps = [b - a for a, b in zip(hub.connect_times[1:], hub.connect_times[2:], strict=False)]
    # Attempt n waits in [ceiling/2, ceiling] with ceiling = min(800, 100·2ⁿ); allow scheduling slack.
    for n, gap in enumerate(gaps[:4], start=1):
        ceiling = min(800, 100 * 2**n) / 1000
        assert ceiling / 2 - 0.03 <= gap <= ceiling + 0.25, (n, gap)
    samples = await page.evaluate("Array.from({length: 200}, () => hub.nextDelayMs(3))")
    assert all(400 <= s <= 800 for s in samples) and len(set(samples)) > 20  # jittered, within bounds
    assert await page.evaluate("hub.nextDelayMs(20)") <= 800  # capped
    hub.refuse_with = None
    await eventually(lambda: _state(page, "open"), within=5)
    assert await page.evaluate("hub.attempt") == 0  # a successful connection resets the backoff


async def _state(page: Page, state: str) -> bool:
    return bool(await page.evaluate("hub.state") == state)


async def test_client_calls_onreset_and_continues_from_the_head_when_history_expired(
        harness: tuple[Page, FakeHub]) -> None:
    page, hub = harness
    await connect_with_thread(page, hub)
    await hub.publish(THREAD, "comment.created", {"n": 1})
    await eventually(lambda: _has(page, 1))
    await hub.close_all(1001)
    for n in range(2, 6):
        hub.append(THREAD, "comment.created", {"n": n})
    hub.logs[THREAD] = hub.logs[THREAD][3:]  # the log now starts after seq 3: since=1 cannot resume
    hub.trimmed[THREAD] = 3
    await eventually(lambda: _has(page, 2))
    await hub.publish(THREAD, "comment.created", {"n": 6})
    await eventually(lambda: _has(page, 3))
    assert await page_log(page) == [[1, 1], ["reset", 5], [6, 6]]


async def test_client_drops_duplicates_and_refills_a_gap_by_resubscribing(harness: tuple[Page, FakeHub]) -> None:
    page, hub = harness
    await connect_with_thread(page, hub)
    first = await hub.publish(THREAD, "comment.created", {"n": 1})
    await hub.broadcast(THREAD, first)  # the same event again
    hub.append(THREAD, "comment.created", {"n": 2})  # never sent live: a gap
    await hub.publish(THREAD, "comment.created", {"n": 3})
    await eventually(lambda: _has(page, 3))
    # One more live event after the refill: the page handles frames in order, so a wrong extra entry (the
    # duplicate, a double refill) would be in its log before this one.
    await hub.publish(THREAD, "comment.created", {"n": 4})
    await eventually(lambda: _has(page, 4))
    assert await page_log(page) == [[1, 1], [2, 2], [3, 3], [4, 4]]
    assert [f.get("since") for f in hub.frames("subscribe")] == [None, 1]
    assert len(hub.connect_times) == 1


async def test_client_refreshes_its_token_on_the_open_connection_before_expiry(
        harness: tuple[Page, FakeHub]) -> None:
    page, hub = harness
    hub.token_lifetime_s = 1.5  # refresh at two thirds of the lifetime, ~1 s
    await connect_with_thread(page, hub)
    await eventually(lambda: len(hub.frames("auth")) >= 2, within=4)
    assert [f["token"] for f in hub.frames("auth")[:2]] == ["tok-1", "tok-2"]
    assert (await page.evaluate("tokenCalls"))[:2] == [False, True]
    assert len(hub.connect_times) == 1  # same connection


async def test_client_reconnects_with_a_forced_token_refresh_after_close_4001(
        harness: tuple[Page, FakeHub]) -> None:
    page, hub = harness
    await connect_with_thread(page, hub)
    await hub.close_all(4001, "token expired")
    await eventually(lambda: len(hub.frames("auth")) >= 2)
    assert await page.evaluate("tokenCalls") == [False, True]


async def test_client_stops_as_unauthorized_when_no_token_can_be_had(harness: tuple[Page, FakeHub]) -> None:
    page, hub = harness
    await connect_with_thread(page, hub)
    await page.evaluate("window.tokenFails = true")
    await hub.close_all(4001)
    await eventually(lambda: _state(page, "unauthorized"))
    await asyncio.sleep(0.5)  # a window for a wrong reconnect to happen; a slow machine cannot fail a right client
    assert len(hub.connect_times) == 1


async def test_client_pings_and_reconnects_when_the_server_is_silent_for_two_heartbeats(
        harness: tuple[Page, FakeHub]) -> None:
    page, hub = harness
    hub.heartbeat_s = 0.2
    await connect_with_thread(page, hub, requestTimeoutMs=500)
    await eventually(lambda: len(hub.frames("ping")) >= 1, within=2)
    hub.silent = True
    await eventually(lambda: len(hub.connect_times) >= 2, within=3)
    # While still silent, the unanswered `auth` times out and the client tries again.
    await eventually(lambda: len(hub.connect_times) >= 3, within=3)
    hub.silent = False
    await eventually(lambda: _state(page, "open"))
    assert "reconnecting" in await page.evaluate("states")


async def test_client_keeps_presence_from_the_reply_and_later_diffs(harness: tuple[Page, FakeHub]) -> None:
    page, hub = harness
    room = "session:6f1c0000-0000-4000-8000-000000000002"
    host_meta = {"conn_id": "a", "role": "host", "hand_raised": False, "joined_at": "2025-01-01T00:00:00Z"}
    hub.presence[room] = {"host": {"metas": [host_meta]}}
    await page.evaluate(
        """([url, room]) => {
          const client = makeClient(url);
          window.room = client.subscribe(room);
          return client.connect().then(() => window.room.ready);
        }""",
        [hub.url, room],
    )
    me = {"conn_id": "b", "role": "participant", "hand_raised": False, "joined_at": "2025-01-01T00:00:01Z"}
    raised = {**me, "hand_raised": True}
    second_tab = {**me, "conn_id": "c"}
    for diff in ({"joins": {"me": {"metas": [me]}}, "leaves": {}},
                 {"joins": {"me": {"metas": [raised]}}, "leaves": {"me": {"metas": [me]}}},
                 {"joins": {"me": {"metas": [second_tab]}}, "leaves": {"host": {"metas": [host_meta]}}}):
        await hub.broadcast(room, {"op": "presence", "channel": room, **diff})
    expected = {"me": {"metas": [raised, second_tab]}}

    seen: list[Any] = []

    async def applied() -> bool:
        seen[:] = [await page.evaluate("Object.fromEntries(room.presence)")]
        return bool(seen[0] == expected)

    # On failure, what the page held and how often it connected: lost diffs and a reconnect look different.
    await eventually(applied, what=lambda: f"presence {seen} after {len(hub.connect_times)} connection(s), "
                                                      f"{len(hub.frames('subscribe'))} subscribe(s)")


async def test_client_gets_a_snapshot_on_every_subscribe_of_a_state_channel_and_never_sends_since(
        harness: tuple[Page, FakeHub]) -> None:
    page, hub = harness
    votes = "votes:6f1c0000-0000-4000-8000-000000000001"
    await page.evaluate(
        """([url, votes]) => {
          const client = makeClient(url);
          client.subscribe(votes, { onSnapshot: (s) => log.push(s) });
          return client.connect();
        }""",
        [hub.url, votes],
    )
    await eventually(lambda: _has(page, 1))
    await hub.close_all(4008)
    await eventually(lambda: _has(page, 2))
    assert [f.get("since") for f in hub.frames("subscribe")] == [None, None]
    assert (await page_log(page))[1] == {"items": [{"target_id": "p1", "score": 7}]}
