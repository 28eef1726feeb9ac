"""Several hub processes on one PostgreSQL and one Redis, and the faults they must ride out.

Each instance is a real `uvicorn hub.asgi:create --factory` process. Clients follow a channel by
remembering the last sequence they saw and resubscribing with `since` wherever they reconnect, as
browsers do; every scenario ends by checking that each client saw every event once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from hub.client import Disconnect, Event, HubClient, Subscription
from hub.settings import Settings
from persistence.db import Database
from tests.conftest import METRICS_HEADERS
from tests.helpers.api import Account, signup
from tests.helpers.eventually import eventually
from tests.helpers.instances import Instance, start_instance
from tests.helpers.ports import free_port
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import ProtocolClient, append_events, assert_continuous, insert_post, ws_url

pytestmark = pytest.mark.slow

SCALE = float(os.environ.get("HUB_TEST_SCALE", "1"))
# uvicorn re-raises a handled SIGTERM after its graceful shutdown, so the process ends "killed by 15".
GRACEFUL_EXIT = {0, -15}


def scaled(n: int) -> int:
    return max(1, int(n * SCALE))


class Follower:
    """A `HubClient` following one channel: it resubscribes with `since` wherever it reconnects, going through
    `urls` in turn; `seqs` are the durable sequences it yielded, `closes` the close codes of its connections
    (attempts that never connected are not counted)."""

    def __init__(self, token: str, channel: str) -> None:
        self.token = token
        self.channel = channel
        self.seqs: list[int] = []
        self.closes: list[int] = []
        self.hub: HubClient | None = None
        self.sub: Subscription | None = None

    @property
    def last(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    def _dropped(self, drop: Disconnect) -> None:
        if drop.code is not None:
            self.closes.append(drop.code)

    async def attach(self, *urls: str) -> None:
        """Connects to the first of `urls` (later to the others in turn) and subscribes from the start."""
        self.hub = HubClient([ws_url(url) for url in urls], token=self.token, on_disconnect=self._dropped)
        self.sub = await self.hub.subscribe(self.channel, since=self.last)

    def reconnect_to(self, *urls: str) -> None:
        assert self.hub is not None
        self.hub.urls = [ws_url(url) for url in urls]

    async def follow(self, until_seq: asyncio.Future[int]) -> None:
        """Read until `until_seq` is known and reached."""
        assert self.sub is not None
        while not (until_seq.done() and self.last >= until_seq.result()):
            try:
                item = await asyncio.wait_for(anext(self.sub), 0.2)
            except TimeoutError:
                continue
            if isinstance(item, Event) and item.seq is not None:
                self.seqs.append(item.seq)

    async def close(self) -> None:
        if self.hub is not None:
            await self.hub.close()


async def _writer(db: Database, channel: str, count: int, result: asyncio.Future[int], pause_s: float = 0.01) -> None:
    last = 0
    for _ in range(count):
        last = (await append_events(db, channel, 1))[-1]
        await asyncio.sleep(pause_s)
    result.set_result(last)


async def _events_flowing(followers: list[Follower]) -> None:
    """Until every follower has received events: the fault that comes next hits a live stream."""
    await eventually(lambda: all(f.seqs for f in followers), within=20, what="events reaching every follower")


async def _ready(http: httpx.AsyncClient, url: str) -> bool:
    return (await http.get(f"{url}/readyz")).status_code == 200


@pytest.fixture
async def pair(test_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path) -> AsyncIterator[list[Instance]]:
    instances = list(await asyncio.gather(start_instance(test_db, base_settings, tmp_path),
                                          start_instance(test_db, base_settings, tmp_path)))
    yield instances
    for instance in instances:
        await instance.stop()


async def test_a_comment_posted_through_one_instance_reaches_subscribers_on_both(
    pair: list[Instance], owner_conn: asyncpg.Connection
) -> None:
    a, b = pair
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
        author = await signup(http)
        post_id = await insert_post(owner_conn, author.user_id)
        channel = f"thread:{post_id}"
        on_a = await ProtocolClient.open(a.url, author.access_token)
        on_b = await ProtocolClient.open(b.url, author.access_token)
        for ws in (on_a, on_b):
            assert (await ws.subscribe(channel))["result"]["seq"] == 0
        response = await http.post(f"/api/posts/{post_id}/comments", json={"content": "hello from A"},
                                   headers=author.headers)
        assert response.status_code == 201, response.text
    for ws in (on_a, on_b):
        [event] = await ws.wait_events(channel, 1)
        assert (event["seq"], event["event"]) == (1, "comment.created")
        assert event["data"]["id"] == response.json()["id"]
        await ws.close()


async def _kill_listeners(owner_conn: asyncpg.Connection) -> int:
    killed: int = await owner_conn.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = 'hub-listener' AND datname = current_database()")
    return killed


async def test_listener_killed_while_events_flow_loses_nothing_and_readyz_recovers(
    pair: list[Instance], client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    a, b = pair
    account = await signup(client)
    channel = f"user:{account.user_id}"
    followers = [Follower(account.access_token, channel) for _ in range(4)]
    for i, follower in enumerate(followers):
        await follower.attach(*((a.url, b.url) if i % 2 == 0 else (b.url, a.url)))
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    total = scaled(300)
    writer = asyncio.create_task(_writer(app_db, channel, total, done, pause_s=0.005))
    readers = [asyncio.create_task(f.follow(done)) for f in followers]
    statuses: list[int] = []
    async with httpx.AsyncClient(timeout=10) as http:
        await _events_flowing(followers)
        # Kill listeners for 1.5 s, and on until two kills (a listener that came back was killed again) and a
        # 503 were seen: a busy machine reconnects more slowly, which only makes this take longer.
        killing_from = time.monotonic()
        killed = 0
        while time.monotonic() < killing_from + 1.5 or killed < 2 or 503 not in statuses:
            assert time.monotonic() < killing_from + 30, (killed, statuses)
            killed += await _kill_listeners(owner_conn)
            statuses.append((await http.get(f"{a.url}/readyz")).status_code)
            await asyncio.sleep(0.01)
        await eventually(lambda: _ready(http, a.url), within=15, what="instance ready again")
        metrics = (await http.get(f"{a.url}/metrics", headers=METRICS_HEADERS)).text
    await writer
    await asyncio.wait_for(asyncio.gather(*readers), 30)
    assert killed >= 2 and 503 in statuses
    assert "hub_listener_reconnects_total 0.0" not in metrics
    for follower in followers:
        assert_continuous([{"seq": s} for s in follower.seqs], 0, done.result())
        assert follower.closes == []  # the websockets never noticed
        await follower.close()


@contextlib.asynccontextmanager
async def _private_redis(port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    process = await asyncio.create_subprocess_exec(
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def answering() -> bool:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return True
        return False

    await eventually(answering, within=15, what=f"redis-server on port {port}")
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _session_with(owner_conn: asyncpg.Connection, host: Account, members: list[Account]) -> str:
    session_id = await owner_conn.fetchval(
        "INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration, status) "
        "VALUES ('multi', $1, now(), interval '1 hour', 'live') RETURNING id::text", host.user_id)
    for member in members:
        await owner_conn.execute(
            "INSERT INTO public.session_participants (session_id, user_id) VALUES ($1, $2)",
            uuid.UUID(session_id), member.user_id)
    return str(session_id)


async def test_redis_restart_leaves_durable_events_whole_and_presence_recovers(
    test_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path, client: httpx.AsyncClient,
    owner_conn: asyncpg.Connection, app_db: Database,
) -> None:
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    host, guest = await signup(client), await signup(client)
    session_id = await _session_with(owner_conn, host, [guest])
    channel = f"session:{session_id}"
    async with _private_redis(port) as redis:
        a, b = await asyncio.gather(
            start_instance(test_db, base_settings, tmp_path, redis_url=redis_url, PRESENCE_TTL="3"),
            start_instance(test_db, base_settings, tmp_path, redis_url=redis_url, PRESENCE_TTL="3"))
        try:
            on_a = await ProtocolClient.open(a.url, host.access_token)
            await on_a.subscribe(channel)
            on_b = await ProtocolClient.open(b.url, guest.access_token)
            reply = await on_b.subscribe(channel)
            assert set(reply["result"]["presence"]) == {str(host.user_id), str(guest.user_id)}
            followers = [Follower(host.access_token, channel), Follower(guest.access_token, channel)]
            await followers[0].attach(a.url, b.url)
            await followers[1].attach(b.url, a.url)
            done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            writer = asyncio.create_task(_writer(app_db, channel, scaled(150), done))
            readers = [asyncio.create_task(f.follow(done)) for f in followers]
            await _events_flowing(followers)
            redis.kill()
            await redis.wait()
            await asyncio.sleep(1.0)  # the outage's length, not a wait for something
            async with _private_redis(port):
                await writer
                await asyncio.wait_for(asyncio.gather(*readers), 30)
                for follower in followers:
                    assert_continuous([{"seq": s} for s in follower.seqs], 0, done.result())
                    assert follower.closes == []
                # Presence: within a heartbeat or two each instance has written its entries back.
                deadline = time.monotonic() + 10
                while True:
                    late = await ProtocolClient.open(b.url, guest.access_token)
                    presence = (await late.subscribe(channel))["result"]["presence"]
                    await late.close()
                    if str(host.user_id) in presence or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.3)
                assert str(host.user_id) in presence
                # Ephemeral events flow again between the instances.
                reaction = {"op": "publish", "channel": channel, "event": "reaction", "data": {"emoji": "🎉"}}
                deadline = time.monotonic() + 10
                while not [e for e in on_b.events[channel] if e["event"] == "reaction"]:
                    assert time.monotonic() < deadline, "reactions did not recover"
                    await on_a.request(reaction)
                    await on_b.settle(0.3)
            for follower in followers:
                await follower.close()
            await on_a.close()
            await on_b.close()
        finally:
            await a.stop()
            await b.stop()


async def test_sigkill_of_an_instance_its_clients_resume_on_the_other_with_nothing_lost(
    pair: list[Instance], client: httpx.AsyncClient, app_db: Database
) -> None:
    a, b = pair
    account = await signup(client)
    channel = f"user:{account.user_id}"
    followers = [Follower(account.access_token, channel) for _ in range(3)]
    for follower in followers:
        await follower.attach(a.url, b.url)
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    writer = asyncio.create_task(_writer(app_db, channel, scaled(200), done))
    readers = [asyncio.create_task(f.follow(done)) for f in followers]
    await _events_flowing(followers)
    a.sigkill()
    await a.wait_exit()
    await writer
    await asyncio.wait_for(asyncio.gather(*readers), 30)
    for follower in followers:
        assert_continuous([{"seq": s} for s in follower.seqs], 0, done.result())
        assert follower.closes == [1006]
        await follower.close()


async def test_rolling_restart_clients_see_1001_reconnect_resume_and_lose_nothing(
    pair: list[Instance], test_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path,
    client: httpx.AsyncClient, app_db: Database,
) -> None:
    a, b = pair
    account = await signup(client)
    channel = f"user:{account.user_id}"
    followers = [Follower(account.access_token, channel) for _ in range(4)]
    for i, follower in enumerate(followers):
        await follower.attach(*((a.url, b.url) if i % 2 == 0 else (b.url, a.url)))
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    writer = asyncio.create_task(_writer(app_db, channel, scaled(300), done))
    readers = [asyncio.create_task(f.follow(done)) for f in followers]
    await _events_flowing(followers)
    a.sigterm()
    assert await a.wait_exit() in GRACEFUL_EXIT
    a2 = await start_instance(test_db, base_settings, tmp_path)
    for follower in followers:
        follower.reconnect_to(a2.url, b.url)
    b.sigterm()
    assert await b.wait_exit() in GRACEFUL_EXIT
    b2 = await start_instance(test_db, base_settings, tmp_path)
    for follower in followers:
        follower.reconnect_to(a2.url, b2.url)
    try:
        await writer
        await asyncio.wait_for(asyncio.gather(*readers), 30)
        for follower in followers:
            assert_continuous([{"seq": s} for s in follower.seqs], 0, done.result())
            assert follower.closes and set(follower.closes) == {1001}
            await follower.close()
    finally:
        await a2.stop()
        await b2.stop()
