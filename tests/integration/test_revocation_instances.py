"""Revocation across two hub processes: what an admin or the user does on one instance reaches the other's REST
and websockets within 2 s (the contract), measured from the moment the acting request's answer arrives."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from hub.settings import Settings
from tests.helpers.api import Account, admin, login, signup, with_role
from tests.helpers.eventually import eventually
from tests.helpers.instances import Instance, start_instance
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import ProtocolClient
from tests.integration.test_live_room import live_room

pytestmark = pytest.mark.slow

CONTRACT_S = 2.0


@pytest.fixture(scope="module")
async def instances(test_db: DatabaseUnderTest, base_settings: Settings,
                    tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, str]]:
    log_dir = tmp_path_factory.mktemp("revocation-instances")
    started: list[Instance] = list(await asyncio.gather(start_instance(test_db, base_settings, Path(log_dir)),
                                                        start_instance(test_db, base_settings, Path(log_dir))))
    yield started[0].url, started[1].url
    await asyncio.gather(*(instance.stop() for instance in started))


@pytest.fixture
async def clients(instances: tuple[str, str]) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with httpx.AsyncClient(base_url=instances[0], timeout=30) as a, \
            httpx.AsyncClient(base_url=instances[1], timeout=30) as b:
        yield a, b


async def me_code(http: httpx.AsyncClient, token: str) -> str | None:
    """None when the token works, else the error's code."""
    response = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    return None if response.status_code == 200 else str(response.json()["code"])


async def revoked_within(since: float, *checks: tuple[httpx.AsyncClient, str]) -> None:
    """Every (instance, token) answers 401 token_revoked before `since` + the contract's 2 s."""
    async def all_revoked() -> bool:
        return all([await me_code(http, token) == "token_revoked" for http, token in checks])

    await eventually(all_revoked, within=since + CONTRACT_S - time.monotonic(), every=0.05,
                     what="every older token answering 401 token_revoked")


async def closed_within(since: float, *sockets: ProtocolClient) -> list[int | None]:
    remaining = since + CONTRACT_S - time.monotonic()
    codes = await asyncio.gather(*(ws.wait_closed(within=remaining) for ws in sockets))
    for ws in sockets:
        assert any(e["error"]["code"] == "token_revoked" for e in ws.errors), ws.errors
    return list(codes)


async def pong(ws: ProtocolClient) -> bool:
    """The socket still answers."""
    count = len(ws.pongs)
    await ws.send({"op": "ping", "id": ws.new_id()})
    await ws.until(lambda: len(ws.pongs) > count)
    return True


async def warm(http: httpx.AsyncClient, token: str) -> None:
    """The token works there, and the instance's cache now holds the account's cutoff: the revocation must
    reach it through the note, not through a cache miss."""
    for _ in range(2):
        assert await me_code(http, token) is None


async def test_a_ban_on_one_instance_revokes_the_users_tokens_and_sockets_on_the_other_within_2_s(
        instances: tuple[str, str], clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
        owner_conn: asyncpg.Connection) -> None:
    a, b = clients
    boss = await admin(a, owner_conn)
    target = await signup(b)
    await warm(b, target.access_token)
    socket_b = await ProtocolClient.open(instances[1], target.access_token)
    socket_a = await ProtocolClient.open(instances[0], target.access_token)
    until = datetime.now(UTC) + timedelta(days=2)

    banned = await a.post(f"/api/admin/users/{target.user_id}/ban", headers=boss.headers,
                          json={"until": until.isoformat(), "reason": "abuse"})
    since = time.monotonic()
    assert banned.status_code == 200, banned.text
    await revoked_within(since, (b, target.access_token), (a, target.access_token))
    assert await closed_within(since, socket_b, socket_a) == [4003, 4003]

    refused = await b.post("/api/auth/login", json={"email": target.email, "password": target.password})
    assert (refused.status_code, refused.json()["code"]) == (403, "banned")
    assert datetime.fromisoformat(refused.json()["until"]) == until
    refresh = await b.post("/api/auth/refresh", json={"refresh_token": target.refresh_token})
    assert (refresh.status_code, refresh.json()["code"]) == (403, "banned")

    assert (await a.delete(f"/api/admin/users/{target.user_id}/ban", headers=boss.headers)).status_code == 200
    await login(b, target)
    assert await me_code(a, target.access_token) is None


async def test_logout_all_revokes_every_older_token_on_both_instances_and_a_new_login_works(
        instances: tuple[str, str], clients: tuple[httpx.AsyncClient, httpx.AsyncClient]) -> None:
    a, b = clients
    account = await signup(a)
    first = account.access_token
    second = (await login(b, account)).access_token
    for http in (a, b):
        await warm(http, first)
    socket = await ProtocolClient.open(instances[1], first)

    response = await a.post("/api/auth/logout-all", headers={"Authorization": f"Bearer {second}"})
    since = time.monotonic()
    assert response.status_code == 204, response.text
    await revoked_within(since, (a, first), (b, first), (a, second), (b, second))
    assert await closed_within(since, socket) == [4003]

    fresh = (await login(a, account)).access_token
    assert [await me_code(http, fresh) for http in (a, b)] == [None, None]
    assert (await b.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})).status_code == 200


async def test_a_password_change_on_one_instance_revokes_older_tokens_on_both_and_its_new_pair_works(
        instances: tuple[str, str], clients: tuple[httpx.AsyncClient, httpx.AsyncClient]) -> None:
    a, b = clients
    account = await signup(b)
    for http in (a, b):
        await warm(http, account.access_token)
    socket = await ProtocolClient.open(instances[0], account.access_token)

    changed = await b.post("/api/auth/password", headers=account.headers,
                           json={"current_password": account.password, "new_password": "another secret 2"})
    since = time.monotonic()
    assert changed.status_code == 200, changed.text
    await revoked_within(since, (a, account.access_token), (b, account.access_token))
    assert await closed_within(since, socket) == [4003]
    pair: dict[str, Any] = changed.json()
    assert [await me_code(http, pair["access_token"]) for http in (a, b)] == [None, None]
    stays = await ProtocolClient.open(instances[0], pair["access_token"])
    assert await pong(stays)
    await stays.close()


async def test_a_role_change_keeps_the_sockets_and_revokes_only_the_subscriptions_the_new_role_loses(
        instances: tuple[str, str], clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
        owner_conn: asyncpg.Connection) -> None:
    a, b = clients
    boss = await admin(a, owner_conn)
    watcher = await with_role(b, owner_conn, await signup(b), "admin")
    host: Account = await with_role(b, owner_conn, await signup(b), "host")
    channel, _ = await live_room(owner_conn, host, 1)
    watcher_ws = await ProtocolClient.open(instances[1], watcher.access_token)
    host_ws = await ProtocolClient.open(instances[1], host.access_token)
    for ws in (watcher_ws, host_ws):
        assert (await ws.subscribe(channel))["ok"]
        assert (await ws.subscribe("feed"))["ok"]
    await warm(b, watcher.access_token)

    for account in (watcher, host):
        changed = await a.put(f"/api/admin/users/{account.user_id}/role", headers=boss.headers, json={"role": None})
        assert changed.status_code == 200, changed.text
    since = time.monotonic()
    await watcher_ws.until(lambda: any(e["error"]["code"] == "forbidden" for e in watcher_ws.errors),
                           within=since + CONTRACT_S - time.monotonic())
    assert watcher_ws.errors[-1]["error"]["details"] == {"channel": channel}
    await revoked_within(since, (b, watcher.access_token), (b, host.access_token))

    # Both sockets stay; the host still hosts their own room, the former admin may subscribe to it no more.
    assert await pong(host_ws)
    assert not host_ws.errors
    assert await pong(watcher_ws)
    again = await watcher_ws.subscribe(channel)
    assert again["error"]["code"] == "forbidden"
    refreshed = await b.post("/api/auth/refresh", json={"refresh_token": watcher.refresh_token})
    assert refreshed.json()["user"]["roles"] == []
    await asyncio.gather(watcher_ws.close(), host_ws.close())
