"""`hub.client.HubClient` against real hubs: uvicorn in a thread, and two uvicorn processes for failover.

Each test drives the client as an application would (subscribe, iterate, publish, refresh) and checks what
arrived: every durable event once and in order across a drained instance, presence from the reply and its
diffs, a refreshed token outliving the first one, a revoked one ending the client with the stable code.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import asyncpg
import httpx
import pytest

from channels.encodings import Encoding
from hub.client import (
    Disconnect,
    Event,
    HubClient,
    RequestError,
    Reset,
    Subscription,
    SubscriptionRevoked,
    TokenRevoked,
    Unauthenticated,
)
from hub.settings import Settings
from hub.tokens import TokenService
from persistence.db import Database
from tests.conftest import METRICS_HEADERS, TEST_SECRET, HubStarter
from tests.helpers.api import Account, signup
from tests.helpers.eventually import eventually
from tests.helpers.instances import start_instance
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import append_events, insert_post, next_durable, ws_url


def short_token(account: Account, ttl_s: int) -> str:
    token, _ = TokenService(TEST_SECRET, "hub", ttl_s).issue_access(
        user_id=account.user_id, email=account.email, app_metadata={}, user_metadata={}, session_id=uuid.uuid4())
    return token


class FlakyProvider:
    """A token provider whose `failing_call`-th call fails (its identity service down); the first token lives
    `first_ttl_s`, the others 600 s."""

    def __init__(self, account: Account, *, failing_call: int, first_ttl_s: int = 600) -> None:
        self.account = account
        self.failing_call = failing_call
        self.first_ttl_s = first_ttl_s
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls == self.failing_call:
            raise RuntimeError("identity service unavailable")
        return short_token(self.account, self.first_ttl_s if self.calls == 1 else 600)


async def test_subscribe_replays_after_since_then_delivers_live_events_in_order(
    client: httpx.AsyncClient, hub_url: str, app_db: Database
) -> None:
    account = await signup(client)
    channel = f"user:{account.user_id}"
    await append_events(app_db, channel, 3)
    async with HubClient(ws_url(hub_url), token=account.access_token) as hub:
        assert hub.session is not None and hub.session.user_id == str(account.user_id)
        sub = await hub.subscribe(channel, since=1)
        assert sub.result is not None and sub.result.seq == 3
        await append_events(app_db, channel, 2)
        events = await next_durable(sub, 4)
        assert [e.seq for e in events] == [2, 3, 4, 5]
        assert sub.last_seq == 5
    assert hub.error is not None and hub.error.code == "closed"


async def test_a_since_past_the_retained_history_yields_a_typed_reset_then_the_events_after_the_head(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    account = await signup(client)
    channel = f"user:{account.user_id}"
    await append_events(app_db, channel, 20, per_transaction=20)
    await owner_conn.execute("DELETE FROM realtime.events WHERE channel = $1 AND seq <= 15", channel)
    await owner_conn.execute("UPDATE realtime.channel_heads SET trimmed_seq = 15 WHERE channel = $1", channel)
    async with HubClient(ws_url(hub_url), token=account.access_token) as hub:
        sub = await hub.subscribe(channel, since=3)
        assert await asyncio.wait_for(anext(sub), 10) == Reset(channel, 20, "history_expired")
        assert sub.last_seq == 20
        await append_events(app_db, channel, 1)
        assert [e.seq for e in await next_durable(sub, 1)] == [21]


async def test_a_refused_subscribe_raises_the_hubs_stable_code_and_others_go_on(
    client: httpx.AsyncClient, hub_url: str
) -> None:
    me, other = await signup(client), await signup(client)
    async with HubClient(ws_url(hub_url), token=me.access_token) as hub:
        with pytest.raises(RequestError) as refused:
            await hub.subscribe(f"user:{other.user_id}")
        assert refused.value.code == "forbidden"
        with pytest.raises(RequestError) as malformed:
            await hub.subscribe("nonsense:1")
        assert malformed.value.code == "unknown_channel"
        assert hub.subscription(f"user:{other.user_id}") is None
        assert (await hub.subscribe(f"user:{me.user_id}")).result is not None


async def test_publish_answers_the_result_or_a_typed_error_with_the_stable_code(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection
) -> None:
    writer, reader = await signup(client), await signup(client)
    post_id = await insert_post(owner_conn, writer.user_id)
    channel = f"thread:{post_id}"
    async with (HubClient(ws_url(hub_url), token=writer.access_token) as hub,
                HubClient(ws_url(hub_url), token=reader.access_token) as watcher):
        sub = await watcher.subscribe(channel)
        assert await hub.publish(channel, "typing", {}) == {}
        item = await asyncio.wait_for(anext(sub), 10)
        assert isinstance(item, Event) and (item.event, item.seq) == ("typing", None)
        with pytest.raises(RequestError) as not_allowed:
            await hub.publish(channel, "comment.created", {"content": "forged"})
        assert not_allowed.value.code == "event_not_allowed"
        with pytest.raises(RequestError) as closed_room:
            await hub.publish(f"session:{uuid.uuid4()}", "chat.message", {"text": "hi"})
        assert closed_room.value.code in {"not_found", "forbidden"}


async def _events(sub: Subscription, durable: int, ephemeral: int, within: float = 15.0) -> list[Event]:
    """The events `sub` yields until `durable` durable and `ephemeral` ephemeral ones arrived, in arrival order."""
    got: list[Event] = []
    async with asyncio.timeout(within):
        while sum(e.seq is not None for e in got) < durable or sum(e.seq is None for e in got) < ephemeral:
            item = await anext(sub)
            if isinstance(item, Event):
                got.append(item)
    return got


async def test_a_msgpack_client_and_a_json_client_of_one_channel_receive_identical_events(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    writer, reader = await signup(client), await signup(client)
    channel = f"thread:{await insert_post(owner_conn, writer.user_id)}"
    await append_events(app_db, channel, 2, pad=40)
    async with (HubClient(ws_url(hub_url), token=writer.access_token, encoding="msgpack") as packed,
                HubClient(ws_url(hub_url), token=reader.access_token) as text):
        assert (packed.encoding, text.encoding) == (Encoding.MSGPACK, Encoding.JSON)
        subs = [await packed.subscribe(channel, since=0), await text.subscribe(channel, since=0)]
        assert subs[0].result == subs[1].result and subs[0].result is not None and subs[0].result.seq == 2
        await append_events(app_db, channel, 3, pad=40)
        assert await packed.publish(channel, "typing", {}) == {}  # a client frame in msgpack, relayed to both
        on_msgpack, on_json = [await _events(sub, durable=5, ephemeral=1) for sub in subs]
        durable = [e for e in on_msgpack if e.seq is not None]
        assert durable == [e for e in on_json if e.seq is not None]
        assert [e.seq for e in durable] == [1, 2, 3, 4, 5] and durable[0].data == {"n": 0, "pad": "x" * 40}
        assert [e for e in on_msgpack if e.seq is None] == [e for e in on_json if e.seq is None]
        assert [(e.event, e.data) for e in on_json if e.seq is None] == [("typing", {"user_id": str(writer.user_id)})]


async def _live_session(owner_conn: asyncpg.Connection, host: Account, members: list[Account]) -> str:
    session_id = await owner_conn.fetchval(
        "INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration, status) "
        "VALUES ('client', $1, now(), interval '1 hour', 'live') RETURNING id::text", host.user_id)
    for member in members:
        await owner_conn.execute("INSERT INTO public.session_participants (session_id, user_id) VALUES ($1, $2)",
                                 uuid.UUID(session_id), member.user_id)
    return str(session_id)


async def test_presence_comes_with_the_subscribe_and_is_kept_from_diffs(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection
) -> None:
    host, guest = await signup(client), await signup(client)
    channel = f"session:{await _live_session(owner_conn, host, [guest])}"
    async with HubClient(ws_url(hub_url), token=host.access_token) as hub:
        room = await hub.subscribe(channel)
        assert set(room.presence) == {str(host.user_id)}
        async with HubClient(ws_url(hub_url), token=guest.access_token) as other:
            await other.subscribe(channel)
            await _presence_until(room, lambda: str(guest.user_id) in room.presence)
            [meta] = room.presence[str(guest.user_id)]
            assert meta["role"] == "participant" and meta["hand_raised"] is False
            await other.publish(channel, "hand.raise", {})
            await _presence_until(room, lambda: room.presence[str(guest.user_id)][0]["hand_raised"] is True)
        await _presence_until(room, lambda: str(guest.user_id) not in room.presence)
        assert set(room.presence) == {str(host.user_id)}


async def _presence_until(room: Subscription, done: Callable[[], bool], within: float = 15.0) -> None:
    """Reads the room's items until `done()` holds for its presence state."""
    async with asyncio.timeout(within):
        while not done():
            await anext(room)


async def test_a_token_provider_refreshes_in_place_before_expiry_and_the_stream_goes_on(
    client: httpx.AsyncClient, hub_url: str, app_db: Database
) -> None:
    account = await signup(client)
    channel = f"user:{account.user_id}"
    issued: list[str] = []

    async def provider() -> str:
        issued.append(short_token(account, 4))
        return issued[-1]

    drops: list[Disconnect] = []
    async with HubClient(ws_url(hub_url), token_provider=provider, on_disconnect=drops.append) as hub:
        sub = await hub.subscribe(channel)
        assert hub.session is not None
        first_expiry = hub.session.expires_at
        # Past the first token's expiry, the connection is still the first one and events still arrive.
        await eventually(lambda: time.time() > first_expiry + 1.5, within=20, what="the first token's expiry")
        assert len(issued) >= 2 and hub.session.expires_at > first_expiry
        await append_events(app_db, channel, 2)
        assert [e.seq for e in await next_durable(sub, 2)] == [1, 2]
        assert drops == [] and hub.reconnects == 0


async def test_a_failed_refresh_meets_4001_and_the_client_reconnects_with_a_fresh_token_and_resumes(
    client: httpx.AsyncClient, hub_url: str, app_db: Database
) -> None:
    account = await signup(client)
    channel = f"user:{account.user_id}"
    # A short first token, an identity service down when the refresh comes, then a good token again.
    provider = FlakyProvider(account, failing_call=2, first_ttl_s=3)
    drops: list[Disconnect] = []
    async with HubClient(ws_url(hub_url), token_provider=provider, on_disconnect=drops.append) as hub:
        sub = await hub.subscribe(channel)
        await append_events(app_db, channel, 2)
        assert [e.seq for e in await next_durable(sub, 2)] == [1, 2]
        await eventually(lambda: hub.reconnects == 1, within=20, what="the reconnect after the 4001")
        await append_events(app_db, channel, 2)
        assert [e.seq for e in await next_durable(sub, 2)] == [3, 4]
        assert [d.code for d in drops] == [4001] and provider.calls == 3


async def test_a_token_provider_that_fails_while_the_client_connects_is_retried_after_the_backoff(
    client: httpx.AsyncClient, hub_url: str
) -> None:
    account = await signup(client)
    # The identity service is down at first (as after a restart of the hub that serves it), then back.
    provider = FlakyProvider(account, failing_call=1)
    drops: list[Disconnect] = []
    async with HubClient(ws_url(hub_url), token_provider=provider, on_disconnect=drops.append, seed=3) as hub:
        assert hub.session is not None and hub.error is None
        assert (await hub.subscribe(f"user:{account.user_id}")).channel == f"user:{account.user_id}"
    assert provider.calls == 2 and [d.code for d in drops] == [None] and "identity service" in drops[0].reason


async def test_a_reader_too_slow_for_its_send_queue_gets_4008_and_resumes_without_loss(
    client: httpx.AsyncClient, start_hub: HubStarter, app_db: Database
) -> None:
    account = await signup(client)
    channel = f"user:{account.user_id}"
    total = 600
    drops: list[Disconnect] = []
    with start_hub(ws_send_queue=8) as url:
        # Two unread items fill the subscription: the client stops reading, the socket backs up, and the
        # hub's queue of 8 frames overflows.
        async with HubClient(ws_url(url), token=account.access_token, max_pending=2,
                             on_disconnect=drops.append) as hub:
            sub = await hub.subscribe(channel)
            await append_events(app_db, channel, total, per_transaction=50, pad=16_000)
            async with httpx.AsyncClient(base_url=url, headers=METRICS_HEADERS, timeout=10) as http:

                async def overflowed() -> bool:
                    text = (await http.get("/metrics")).text
                    found = re.search(r"^hub_send_queue_overflows_total (\S+)$", text, re.M)
                    return found is not None and float(found.group(1)) > 0

                # Read only once the hub gave up on the socket: a reader that starts sooner may keep up.
                await eventually(overflowed, within=60, what="the hub's send queue overflowing")
            events = await next_durable(sub, total, within=120)
            assert [e.seq for e in events] == list(range(1, total + 1))
            assert 4008 in [d.code for d in drops] and hub.reconnects >= 1


async def test_a_static_token_that_expires_stops_the_client_with_token_expired(
    client: httpx.AsyncClient, hub_url: str
) -> None:
    account = await signup(client)
    hub = HubClient(ws_url(hub_url), token=short_token(account, 2))
    sub = await hub.subscribe(f"user:{account.user_id}")
    with pytest.raises(Unauthenticated) as stopped:
        await asyncio.wait_for(anext(sub), 15)
    assert stopped.value.code == "token_expired" and hub.error is stopped.value
    await hub.close()


async def test_a_revoked_token_stops_the_client_and_it_does_not_reconnect(
    client: httpx.AsyncClient, hub_url: str
) -> None:
    account = await signup(client)
    drops: list[Disconnect] = []
    hub = HubClient(ws_url(hub_url), token=account.access_token, on_disconnect=drops.append)
    sub = await hub.subscribe(f"user:{account.user_id}")
    response = await client.post("/api/auth/logout-all", headers=account.headers)
    assert response.status_code == 204, response.text
    with pytest.raises(TokenRevoked) as stopped:
        await asyncio.wait_for(anext(sub), 15)
    assert stopped.value.code == "token_revoked"
    await eventually(lambda: bool(drops), what="the 4003 close")
    assert [d.code for d in drops] == [4003]
    with pytest.raises(TokenRevoked):
        await hub.publish(f"user:{account.user_id}", "typing", {})
    await hub.close()


async def test_a_kicked_participant_loses_the_subscription_with_a_typed_error(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection
) -> None:
    host, guest = await signup(client), await signup(client)
    channel = f"session:{await _live_session(owner_conn, host, [guest])}"
    async with (HubClient(ws_url(hub_url), token=host.access_token) as hosting,
                HubClient(ws_url(hub_url), token=guest.access_token) as guesting):
        await hosting.subscribe(channel)
        room = await guesting.subscribe(channel)
        await hosting.publish(channel, "participant.kick", {"user_id": str(guest.user_id)})
        with pytest.raises(SubscriptionRevoked) as revoked:
            async with asyncio.timeout(15):
                async for _ in room:
                    pass
        assert (revoked.value.code, revoked.value.channel) == ("forbidden", channel)
        assert guesting.subscription(channel) is None and guesting.error is None


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["json", "msgpack"])
async def test_a_draining_instance_sends_1001_and_the_client_resumes_on_the_other_with_nothing_lost(
    test_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path, client: httpx.AsyncClient,
    app_db: Database, encoding: Literal["json", "msgpack"],
) -> None:
    a, b = await asyncio.gather(start_instance(test_db, base_settings, tmp_path),
                                start_instance(test_db, base_settings, tmp_path))
    try:
        account = await signup(client)
        channel = f"user:{account.user_id}"
        drops: list[Disconnect] = []
        async with HubClient([ws_url(a.url), ws_url(b.url)], token=account.access_token, seed=7,
                             on_disconnect=drops.append, encoding=encoding) as hub:
            sub = await hub.subscribe(channel)
            total = 120
            received: list[int] = []

            async def read() -> None:
                received.extend(e.seq for e in await next_durable(sub, total, within=60) if e.seq is not None)

            reader = asyncio.create_task(read())

            async def write() -> None:
                for _ in range(total):
                    await append_events(app_db, channel, 1)
                    await asyncio.sleep(0.01)

            writer = asyncio.create_task(write())
            await eventually(lambda: sub.last_seq is not None and sub.last_seq >= 10, within=20,
                             what="events flowing")
            a.sigterm()
            await a.wait_exit()
            await writer
            await asyncio.wait_for(reader, 60)
            assert received == list(range(1, total + 1))
            assert [(d.url, d.code) for d in drops] == [(ws_url(a.url), 1001)]
            assert hub.reconnects == 1 and hub.encoding.value == f"hub.v1.{encoding}"
    finally:
        await a.stop()
        await b.stop()


async def test_the_benchmarks_probe_of_a_hub_goes_through_the_client(client: httpx.AsyncClient, hub_url: str) -> None:
    from bench.context import _probe_ws

    account = await signup(client)
    assert await _probe_ws(ws_url(hub_url), account.access_token) is None
    assert (await _probe_ws(ws_url(hub_url), "not-a-token") or "").startswith("auth refused: unauthorized: ")
