"""Websocket budgets over real sockets: the per-connection frame budget and strikes, the memory of
unknown posts and sessions, and the per-user connection cap."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import replace
from pathlib import Path

import asyncpg
import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from hub.app import create_app
from hub.realtime.ws_protocol import UVICORN_WS
from hub.settings import Settings
from tests.helpers.api import signup
from tests.helpers.instances import start_instance
from tests.helpers.server import serve_in_thread
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import ProtocolClient, append_events, insert_post, open_or_refused


async def _send_all(ws: ProtocolClient, frames: list[dict[str, object]]) -> None:
    with contextlib.suppress(ConnectionClosed):  # the server may close before the last ones are written
        for frame in frames:
            await ws.send(frame)


async def test_a_flood_of_pings_and_subscribes_is_rate_limited_then_closed_while_a_quiet_connection_is_unaffected(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: object,
) -> None:
    flooder, quiet_user = await signup(client), await signup(client)
    channel = f"thread:{await insert_post(owner_conn, quiet_user.user_id)}"
    quiet = await ProtocolClient.open(hub_url, quiet_user.access_token)
    assert (await quiet.subscribe(channel))["ok"]
    flood = await ProtocolClient.open(hub_url, flooder.access_token)

    # The default budget: 200 frames at once, 20 per second after that; 10 refusals in 10 s close.
    frames: list[dict[str, object]] = [
        {"op": "ping", "id": 10 + i} if i % 2 else {"op": "subscribe", "id": 10 + i, "channel": "feed"}
        for i in range(600)
    ]
    sending = asyncio.create_task(_send_all(flood, frames))
    assert await flood.wait_closed(within=30) == 1008
    await sending
    refused = [r for r in flood.replies.values() if not r["ok"] and r["error"]["code"] == "rate_limited"]
    assert 1 <= len(refused) <= 10
    assert all(r["error"]["details"]["retry_after"] > 0 for r in refused)
    assert len(flood.pongs) + len(flood.replies) < 300  # far fewer than the 600 sent were answered

    await append_events(app_db, channel, 1)
    assert (await quiet.wait_events(channel, 1))[0]["seq"] == 1
    pong_id = quiet.new_id()
    await quiet.send({"op": "ping", "id": pong_id})
    await quiet.until(lambda: any(p["id"] == pong_id for p in quiet.pongs))
    assert quiet.close_code is None
    await quiet.close()


async def test_probing_unknown_sessions_is_answered_not_found_then_closed_1008(
    client: httpx.AsyncClient, hub_url: str
) -> None:
    account = await signup(client)
    ws = await ProtocolClient.open(hub_url, account.access_token)
    for _ in range(9):
        reply = await ws.subscribe(f"session:{uuid.uuid4()}")
        assert reply["error"]["code"] == "not_found"
    assert ws.close_code is None
    await ws.send({"op": "subscribe", "id": 99, "channel": f"user:{uuid.uuid4()}"})  # forbidden: the tenth strike
    assert await ws.wait_closed() == 1008
    assert ws.replies[99]["error"]["code"] == "forbidden"


async def _xact_commits(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    return value


async def _hub_backends(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'hub'")
    return value


async def test_a_thousand_subscribes_to_one_unknown_post_cost_a_handful_of_database_transactions(
    test_db: DatabaseUnderTest, base_settings: Settings, client: httpx.AsyncClient, owner_conn: asyncpg.Connection,
) -> None:
    account = await signup(client)
    unknown = uuid.uuid4()
    # Budgets opened wide: this measures the database cost alone, not the strikes that would end it sooner.
    settings = replace(base_settings, ws_frame_burst=5000, ws_strike_limit=10_000)
    app = create_app(settings, test_db.app_dsn)
    backends = await _hub_backends(owner_conn)
    before = await _xact_commits(owner_conn)
    with serve_in_thread(app, ws_max_size=settings.ws_max_frame_bytes, ws=UVICORN_WS,
                         ws_per_message_deflate=settings.ws_compression) as url:
        ws = await ProtocolClient.open(url, account.access_token)
        kinds = ("thread", "votes")
        await _send_all(ws, [{"op": "subscribe", "id": i + 1, "channel": f"{kinds[i % 2]}:{unknown}"}
                             for i in range(1000)])
        await ws.until(lambda: len(ws.replies) == 1000, within=60)
        assert {r["error"]["code"] for r in ws.replies.values()} == {"not_found"}
        await ws.close()
        registry = app.state.services.metrics.registry
        from_database = registry.get_sample_value("hub_ws_access_lookups_total", {"source": "database"})
        remembered = registry.get_sample_value("hub_ws_access_lookups_total", {"source": "missing"})
    # A backend reports its statistics when it exits: wait for the stopped hub's pool to be gone.
    deadline = asyncio.get_running_loop().time() + 10
    while await _hub_backends(owner_conn) > backends:
        assert asyncio.get_running_loop().time() < deadline, "the stopped hub's database sessions did not end"
        await asyncio.sleep(0.05)
    spent = await _xact_commits(owner_conn) - before
    assert from_database <= 5 and from_database + remembered == 1000, (from_database, remembered)
    assert spent <= 30, spent  # start-up, auth and the few lookups; one transaction per subscribe before


@pytest.mark.slow
async def test_the_per_user_connection_cap_holds_across_instances_and_a_crashed_instance_stops_counting(
    test_db: DatabaseUnderTest, base_settings: Settings, client: httpx.AsyncClient, tmp_path: Path,
) -> None:
    account = await signup(client)
    env = {"WS_MAX_CONNECTIONS_PER_USER": "2", "PRESENCE_TTL": "2"}
    a, b = await asyncio.gather(start_instance(test_db, base_settings, tmp_path, **env),
                                start_instance(test_db, base_settings, tmp_path, **env))
    try:
        on_a = await open_or_refused(a.url, account.access_token)
        on_b = await open_or_refused(b.url, account.access_token)
        assert isinstance(on_a, ProtocolClient) and isinstance(on_b, ProtocolClient)
        assert await open_or_refused(a.url, account.access_token) == 4029
        assert await open_or_refused(b.url, account.access_token) == 4029

        await on_a.close()  # a slot frees as soon as the release reaches Redis
        deadline = time.monotonic() + 10
        while not isinstance(again := await open_or_refused(b.url, account.access_token), ProtocolClient):
            assert again == 4029 and time.monotonic() < deadline, again
            await asyncio.sleep(0.05)
        assert await open_or_refused(a.url, account.access_token) == 4029

        b.sigkill()  # both connections counted for B die with it, without a release
        await b.wait_exit()
        deadline = time.monotonic() + 15  # within PRESENCE_TTL (2 s) of B's last heartbeat
        kept: list[ProtocolClient] = []
        while len(kept) < 2:
            attempt = await open_or_refused(a.url, account.access_token)
            if isinstance(attempt, ProtocolClient):
                kept.append(attempt)
            else:
                assert attempt == 4029 and time.monotonic() < deadline, attempt
                await asyncio.sleep(0.1)
        assert await open_or_refused(a.url, account.access_token) == 4029
        for ws in kept:
            await ws.close()
    finally:
        await a.stop()
        await b.stop()
