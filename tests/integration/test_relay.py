"""Relay mode (FANOUT=relay) on a real local Redis Cluster (3 masters + 3 replicas), with 3 hub processes.

The delivery scenario runs in both modes. The fault scenarios are relay mode's own: the relay holder
SIGKILLed mid-stream (a standby takes over), the master of the channel's shard killed (its replica takes
over), PostgreSQL crash-restarted. Each ends by checking that every client saw every event once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio.cluster import RedisCluster

from channels.events import decode_durable
from hub.embedded import APP_ROLE, with_database, with_user
from hub.ratelimit import RedisLimiter
from hub.realtime.incoming import EPHEMERAL_TOPIC, channel_of
from hub.realtime.relay import Relay
from hub.realtime.shards import ShardBus
from hub.rules.login_backoff import login_wait
from hub.settings import Settings
from persistence.db import Database, DatabaseUnavailable
from persistence.events import channel_position
from persistence.identity import SERVICE
from persistence.migrate import apply_migrations
from tests.conftest import METRICS_HEADERS
from tests.helpers.api import signup
from tests.helpers.eventually import eventually
from tests.helpers.instances import Instance, start_instance
from tests.helpers.own_postgres import OwnPostgres
from tests.helpers.redis_cluster import Cluster, redis_cluster
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import ProtocolClient, append_events, assert_continuous
from tests.integration import test_postgres_restart
from tests.integration.test_multi_instance import Follower, _events_flowing, _session_with, _writer, scaled

pytestmark = pytest.mark.slow

own_postgres = test_postgres_restart.own_postgres  # the fixture: a PostgreSQL server of the test's own

INSTANCES = 3


@pytest.fixture(scope="session")
async def cluster() -> AsyncIterator[Cluster]:
    async with redis_cluster() as running:
        yield running


def relay_env(cluster: Cluster) -> dict[str, str]:
    # RELAY_CHECK short: a test that loses an event in a failover sees it filled within a second.
    return {"FANOUT": "relay", "REDIS_CLUSTER": "1", "REDIS_URL": cluster.url, "RELAY_STANDBY_POLL": "0.2",
            "RELAY_CHECK": "1"}


async def _start(test_db: DatabaseUnderTest, settings: Settings, tmp_path: Path, env: dict[str, str],
                 count: int = INSTANCES) -> list[Instance]:
    env = dict(env)
    redis_url = env.pop("REDIS_URL", None)
    return list(await asyncio.gather(*(start_instance(test_db, settings, tmp_path, redis_url=redis_url, **env)
                                       for _ in range(count))))


@pytest.fixture
async def relayed(cluster: Cluster, test_db: DatabaseUnderTest, base_settings: Settings,
                  tmp_path: Path) -> AsyncIterator[list[Instance]]:
    instances = await _start(test_db, base_settings, tmp_path, relay_env(cluster))
    yield instances
    for instance in instances:
        await instance.stop()


async def _metric(http: httpx.AsyncClient, url: str, name: str) -> float:
    text = (await http.get(f"{url}/metrics", headers=METRICS_HEADERS)).text
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def _holder(instances: list[Instance]) -> Instance:
    """The one instance relaying (waits until exactly one does)."""
    holders: list[Instance] = []

    async def one() -> bool:
        nonlocal holders
        async with httpx.AsyncClient(timeout=5) as http:
            holders = [i for i in instances if await _metric(http, i.url, "hub_relay_holding") == 1.0]
        return len(holders) == 1

    await eventually(one, within=20, what="exactly one relay holder")
    return holders[0]


async def _follow_all(followers: list[Follower], urls: list[str], total: int, app_db: Database,
                      channel: str) -> tuple[asyncio.Future[int], asyncio.Task[None], list[asyncio.Task[None]]]:
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    writer = asyncio.create_task(_writer(app_db, channel, total, done))
    for follower in followers:
        follower.reconnect_to(*urls)
    readers = [asyncio.create_task(f.follow(done)) for f in followers]
    await _events_flowing(followers)
    return done, writer, readers


async def _finish(followers: list[Follower], done: asyncio.Future[int], writer: asyncio.Task[None],
                  readers: list[asyncio.Task[None]]) -> None:
    await writer
    await asyncio.wait_for(asyncio.gather(*readers), 60)
    for follower in followers:
        assert_continuous([{"seq": s} for s in follower.seqs], 0, done.result())
        await follower.close()


@pytest.mark.relay
@pytest.mark.parametrize("mode", ["notify", "relay"])
async def test_events_reach_subscribers_on_every_instance_in_order_exactly_once(
    mode: str, cluster: Cluster, test_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path,
    client: httpx.AsyncClient, app_db: Database,
) -> None:
    env = relay_env(cluster) if mode == "relay" else {}
    instances = await _start(test_db, base_settings, tmp_path, env)
    try:
        account = await signup(client)
        channel = f"user:{account.user_id}"
        followers = [Follower(account.access_token, channel) for _ in range(2 * INSTANCES)]
        for i, follower in enumerate(followers):
            await follower.attach(instances[i % INSTANCES].url)
        done, writer, readers = await _follow_all(followers, [i.url for i in instances], scaled(200), app_db,
                                                  channel)
        await _finish(followers, done, writer, readers)
        assert all(f.closes == [] for f in followers)
    finally:
        for instance in instances:
            await instance.stop()


@pytest.mark.relay
@pytest.mark.parametrize("mode", ["notify", "relay"])
async def test_an_instance_without_subscribers_of_a_channel_receives_none_of_its_events_only_in_relay_mode(
    mode: str, cluster: Cluster, test_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path,
    client: httpx.AsyncClient, app_db: Database,
) -> None:
    env = relay_env(cluster) if mode == "relay" else {}
    serving, idle = await _start(test_db, base_settings, tmp_path, env, count=2)
    try:
        account = await signup(client)
        channel = f"user:{account.user_id}"
        count = 50
        async with httpx.AsyncClient(timeout=5) as http:
            joins = await _metric(http, serving.url, "hub_shard_joins_total")
            ws = await ProtocolClient.open(serving.url, account.access_token)
            assert (await ws.subscribe(channel))["ok"]
            if mode == "relay":
                # Until the shard confirms the subscription, events come by the log's catch-up, not the relay.
                async def joined() -> bool:
                    return await _metric(http, serving.url, "hub_shard_joins_total") > joins
                await eventually(joined, within=15, what="the serving instance's shard subscription")
                # A first relay publishes what it hears from its LISTEN on: an event committed before one of
                # the two instances holds the lock would come by the head check, not the relay.
                await _holder([serving, idle])
            before = await _metric(http, idle.url, f'hub_durable_notes_received_total{{path="{mode}"}}')
            seqs = await append_events(app_db, channel, count)
            events = await ws.wait_events(channel, count, within=30)
            assert [e["seq"] for e in events] == seqs
            notes = f'hub_durable_notes_received_total{{path="{mode}"}}'

            # A head check may deliver an event before its note arrives: the notes are counted once all came.
            async def serving_heard_all() -> bool:
                return await _metric(http, serving.url, notes) >= count

            await eventually(serving_heard_all, within=30, what=f"{count} notes by {mode} on the serving instance")
            if mode == "notify":
                async def idle_heard_all() -> bool:
                    return await _metric(http, idle.url, notes) - before >= count

                await eventually(idle_heard_all, within=30, what="in notify mode every instance hears every event")
            after = await _metric(http, idle.url, notes)
        await ws.close()
        if mode == "relay":
            assert after - before == 0, "the idle instance received events of a channel it does not serve"
    finally:
        await serving.stop()
        await idle.stop()


@pytest.mark.relay
async def test_sigkill_of_the_relay_holder_mid_stream_a_standby_takes_over_nothing_lost_nothing_twice(
    relayed: list[Instance], client: httpx.AsyncClient, app_db: Database
) -> None:
    holder = await _holder(relayed)
    others = [i for i in relayed if i is not holder]
    account = await signup(client)
    channel = f"user:{account.user_id}"
    followers = [Follower(account.access_token, channel) for _ in range(4)]
    for i, follower in enumerate(followers):
        await follower.attach(others[i % len(others)].url)
    done, writer, readers = await _follow_all(followers, [i.url for i in others], scaled(300), app_db, channel)
    holder.sigkill()
    await holder.wait_exit()
    new_holder = await _holder(others)
    await _finish(followers, done, writer, readers)
    assert all(f.closes == [] for f in followers)  # their instances never went away
    async with httpx.AsyncClient(timeout=5) as http:
        assert await _metric(http, new_holder.url, "hub_relay_published_total") > 0
        states = {i.url: (await http.get(f"{i.url}/readyz")).json().get("relay") for i in others}
    assert sorted(states.values()) == ["relaying", "standby"]
    assert states[new_holder.url] == "relaying"


@pytest.mark.relay
async def test_a_killed_cluster_master_fails_over_to_its_replica_and_no_event_is_lost_or_doubled(
    test_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path, client: httpx.AsyncClient,
    app_db: Database,
) -> None:
    # A cluster of its own: the session's stays whole for the other tests.
    async with redis_cluster() as own:
        instances = await _start(test_db, base_settings, tmp_path, relay_env(own))
        try:
            account = await signup(client)
            channel = f"user:{account.user_id}"
            namespace = base_settings.namespace or ""
            lookup = RedisCluster.from_url(own.url)
            try:
                await lookup.initialize()
                node = lookup.get_node_from_key(f"{namespace}:{{{channel}}}")
                assert node is not None
                shard_port = int(node.port)
            finally:
                await lookup.aclose()
            followers = [Follower(account.access_token, channel) for _ in range(INSTANCES)]
            for follower, instance in zip(followers, instances, strict=True):
                await follower.attach(instance.url)
            done, writer, readers = await _follow_all(followers, [i.url for i in instances], scaled(400), app_db,
                                                      channel)
            await own.kill_master(shard_port)
            await _finish(followers, done, writer, readers)
        finally:
            for instance in instances:
                await instance.stop()


@pytest.mark.relay
async def test_presence_and_ephemeral_events_cross_instances_on_the_cluster(
    relayed: list[Instance], client: httpx.AsyncClient, owner_conn: asyncpg.Connection
) -> None:
    a, b = relayed[0], relayed[1]
    host, guest = await signup(client), await signup(client)
    channel = f"session:{await _session_with(owner_conn, host, [guest])}"
    on_a = await ProtocolClient.open(a.url, host.access_token)
    await on_a.subscribe(channel)
    on_b = await ProtocolClient.open(b.url, guest.access_token)
    reply = await on_b.subscribe(channel)
    assert set(reply["result"]["presence"]) == {str(host.user_id), str(guest.user_id)}
    reaction = {"op": "publish", "channel": channel, "event": "reaction", "data": {"emoji": "🎉"}}

    async def reaction_crossed() -> bool:
        await on_a.request(reaction)
        await on_b.settle(0.3)
        return any(e["event"] == "reaction" for e in on_b.events[channel])

    await eventually(reaction_crossed, within=15, what="a reaction from A reaching B")
    await on_a.close()
    await on_b.close()


async def _resilient_writer(db: Database, channel: str, count: int, result: asyncio.Future[int]) -> None:
    """Appends `count` events, retrying through an outage; the result is the channel's head (a write that
    failed at commit may still have committed)."""
    written = 0
    while written < count:
        try:
            await append_events(db, channel, 1)
            written += 1
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, DatabaseUnavailable):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.01)
    async with db.transaction(SERVICE) as conn:
        result.set_result((await channel_position(conn, channel))[0])


@pytest.mark.relay
async def test_a_postgres_crash_restart_under_relay_mode_loses_no_event(
    own_postgres: OwnPostgres, cluster: Cluster, base_settings: Settings, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(own_postgres.dsn)
    try:
        await conn.execute("CREATE DATABASE hub")
    finally:
        await conn.close()
    owner_dsn = with_database(own_postgres.dsn, "hub")
    await apply_migrations(owner_dsn, log=lambda _: None)
    database = DatabaseUnderTest(owner_dsn=owner_dsn, app_dsn=with_user(owner_dsn, APP_ROLE))
    env = {**relay_env(cluster), "HUB_NAMESPACE": "relay-pg-restart"}
    instances = await _start(database, base_settings, tmp_path, env, count=2)
    db = Database(database.app_dsn, min_size=1, max_size=2)
    await db.open()
    try:
        async with httpx.AsyncClient(base_url=instances[0].url, timeout=10) as http:
            account = await signup(http)
        channel = f"user:{account.user_id}"
        followers = [Follower(account.access_token, channel) for _ in range(2)]
        for follower, instance in zip(followers, instances, strict=True):
            await follower.attach(instance.url)
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        writer = asyncio.create_task(_resilient_writer(db, channel, scaled(150), done))
        for follower in followers:
            follower.reconnect_to(*(i.url for i in instances))
        readers = [asyncio.create_task(f.follow(done)) for f in followers]
        await _events_flowing(followers)
        await own_postgres.crash()
        await asyncio.sleep(1.0)  # the outage's length, not a wait for something
        await own_postgres.start()
        await _finish(followers, done, writer, readers)
        await _holder(instances)
    finally:
        await db.close()
        for instance in instances:
            await instance.stop()


class _Published:
    """What a relay under test published, by channel."""

    def __init__(self) -> None:
        self.seqs: dict[str, list[int]] = {}

    async def __call__(self, channel: str, note: bytes) -> None:
        self.seqs.setdefault(channel, []).append(decode_durable(note).seq)  # type: ignore[union-attr]


async def _relay_until(published: _Published, test_db: DatabaseUnderTest, app_db: Database,
                       done: Callable[[], bool | Awaitable[bool]]) -> None:
    relay = Relay(test_db.app_dsn, app_db, published, standby_poll_s=0.05)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(done, within=20, what="the relay's publishes")
        await eventually(lambda: relay.holding, within=5, what="the relay holding the lock")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.relay
async def test_a_relay_taking_over_publishes_what_was_committed_without_a_relay_and_nothing_twice(
    test_db: DatabaseUnderTest, app_db: Database, owner_conn: asyncpg.Connection
) -> None:
    known, new = f"user:{uuid.uuid4()}", f"user:{uuid.uuid4()}"
    first = _Published()

    async def recorded() -> bool:
        seq = await owner_conn.fetchval("SELECT seq FROM realtime.relay_positions WHERE channel = $1", known)
        return bool(seq == 3)

    async def published_and_recorded() -> bool:
        return first.seqs.get(known) == [1, 2, 3] and await recorded()

    # A first relay publishes some events and records how far it got (it records before it idles); stopped
    # only then, since a relay stopped between its publishes and their record leaves them unrecorded.
    task_first = asyncio.create_task(_relay_until(first, test_db, app_db, published_and_recorded))
    await eventually(lambda: _relay_listening(owner_conn), within=20, what="a relay listening")
    await append_events(app_db, known, 3)
    await task_first
    # No relay now: these are committed with nobody listening for them.
    await append_events(app_db, known, 2)
    await append_events(app_db, new, 2)
    second = _Published()
    await _relay_until(second, test_db, app_db,
                       lambda: second.seqs.get(known) == [4, 5] and second.seqs.get(new) == [1, 2])
    assert second.seqs[known] == [4, 5] and second.seqs[new] == [1, 2]


async def _relay_listening(owner_conn: asyncpg.Connection) -> bool:
    held: bool = await owner_conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
        "WHERE a.application_name = 'hub-relay' AND a.datname = current_database() AND l.locktype = 'advisory' "
        "AND l.granted)")
    return held


@pytest.mark.relay
async def test_the_shard_bus_delivers_a_channels_messages_in_order_only_to_buses_following_it(
    cluster: Cluster,
) -> None:
    prefix = f"shardtest:{uuid.uuid4().hex[:8]}"
    clients = [RedisCluster.from_url(cluster.url) for _ in range(2)]
    got: list[list[tuple[str, str, bytes]]] = [[], []]
    joined: list[list[str]] = [[], []]
    buses = [
        ShardBus(client, prefix, channel_of,
                 on_durable=lambda payload, i=i: got[i].append(("d", "", payload.encode())),
                 on_joined=joined[i].append)
        for i, client in enumerate(clients)
    ]
    try:
        for i, bus in enumerate(buses):
            await bus.start(lambda topic, data, i=i: got[i].append((topic, data.partition(b"\n")[0].decode(), data)))
        here, there = "session:" + str(uuid.uuid4()), "session:" + str(uuid.uuid4())
        buses[0].follow(here)
        buses[1].follow(there)
        await eventually(lambda: joined[0] == [here] and joined[1] == [there], within=10, what="subscriptions")
        for n in range(100):
            await buses[1].publish(EPHEMERAL_TOPIC, f"{here}\n{n}".encode())
            await buses[1].publish_durable(here, durable_note(here, n + 1))
        await eventually(lambda: len(got[0]) == 200, within=15, what="every message on the following bus")
        ephemeral = [data for topic, _, data in got[0] if topic == EPHEMERAL_TOPIC]
        durable = [msgspec.json.decode(data)["s"] for topic, _, data in got[0] if topic == "d"]
        assert ephemeral == [f"{here}\n{n}".encode() for n in range(100)]
        assert durable == list(range(1, 101))
        assert got[1] == [] and buses[1].received == 0  # nothing of a channel it does not follow
        await buses[0].publish(EPHEMERAL_TOPIC, f"{there}\nlast".encode())
        await eventually(lambda: len(got[1]) == 1, within=10, what="a message on the other channel")
        assert len(got[0]) == 200
    finally:
        for bus in buses:
            await bus.stop()
        for client in clients:
            await client.aclose()


@pytest.mark.relay
async def test_a_budget_hit_on_the_cluster_client_runs_on_the_instances_own_loop(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Relay mode runs on REDIS_CLUSTER=1, so every websocket open and subscribe spends its budget through the
    cluster client. redis-py's transactional cluster pipeline queues each command through a thread of its own,
    joined while the instance's loop waits: in a connection storm that stalled the loop for seconds, and
    subscribers failed with authentication timeouts and pool timeouts (the relay bench's 894 of 1,000). A login
    failure's streak (WATCH/MULTI before) must not take that bridge either."""
    rule = partial(login_wait, free=2, base_s=10.0, max_s=100.0)
    client = RedisCluster.from_url(cluster.url)
    limiter = RedisLimiter(client, "{limitertest-" + uuid.uuid4().hex[:8] + "}")
    try:
        await limiter.hit("warm-up", 1, 60)  # the client's first command finds the cluster's nodes
        started: list[str] = []
        original = threading.Thread.start

        def counting(thread: threading.Thread) -> None:
            started.append(thread.name)
            original(thread)

        monkeypatch.setattr(threading.Thread, "start", counting)
        waits = [await limiter.hit("user", 2, 60) for _ in range(3)]
        streak = [await limiter.begin_attempt("login", 100.0, rule, 3600) for _ in range(3)]
        monkeypatch.undo()
    finally:
        await client.aclose()
    assert waits[:2] == [0.0, 0.0] and 55 < waits[2] <= 60  # the third hit of two allowed waits out the window
    assert streak == [0.0, 0.0, 10.0]  # login failures: two free, then the rule's wait
    assert started == []


def durable_note(channel: str, seq: int) -> bytes:
    return msgspec.json.encode({"c": channel, "s": seq})


@contextlib.asynccontextmanager
async def followed(cluster: Cluster, channels: list[str]) -> AsyncIterator[tuple[ShardBus, dict[str, list[int]]]]:
    """A bus to publish durable events with, and what a second bus following `channels` receives of them: each
    channel's sequence numbers in arrival order."""
    prefix = f"shardtest:{uuid.uuid4().hex[:8]}"
    publisher, follower = RedisCluster.from_url(cluster.url), RedisCluster.from_url(cluster.url)
    got: dict[str, list[int]] = {channel: [] for channel in channels}
    joined: list[str] = []

    def received(payload: str) -> None:
        note = decode_durable(payload)
        assert note is not None
        got[note.channel].append(note.seq)

    sender = ShardBus(publisher, prefix, channel_of)
    bus = ShardBus(follower, prefix, channel_of, on_durable=received, on_joined=joined.append)
    try:
        await bus.start(lambda _topic, _data: None)
        for channel in channels:
            bus.follow(channel)
        await eventually(lambda: sorted(joined) == sorted(channels), within=10, what="subscriptions")
        yield sender, got
    finally:
        await bus.stop()
        await sender.stop()
        await publisher.aclose()
        await follower.aclose()


@pytest.mark.relay
async def test_durable_publishes_started_together_reach_each_channels_followers_in_order(cluster: Cluster) -> None:
    """The relay starts many publishes before awaiting the first; the bus sends them in pipelines (one
    connection per node), and each channel's events must still arrive in the order they were started."""
    channels = [f"session:{uuid.uuid4()}" for _ in range(40)]  # spread over the 3 masters' slots
    per_channel = 100
    async with followed(cluster, channels) as (sender, got):
        started = [sender.publish_durable(channel, durable_note(channel, seq))
                   for seq in range(1, per_channel + 1) for channel in channels]
        await asyncio.gather(*started)
        await eventually(lambda: sum(map(len, got.values())) == per_channel * len(channels), within=15,
                         what="every event on the follower")
    assert all(seqs == list(range(1, per_channel + 1)) for seqs in got.values())


@pytest.mark.relay
async def test_a_durable_publish_withdrawn_before_its_pipeline_left_is_never_sent(cluster: Cluster) -> None:
    """What a relay that heard its lock is gone relies on: cancelling a started publish's future keeps it off
    the shard when the bus has not sent it yet."""
    channel = f"session:{uuid.uuid4()}"
    async with followed(cluster, [channel]) as (sender, got):
        started = [sender.publish_durable(channel, durable_note(channel, seq)) for seq in (1, 2, 3)]
        started[1].cancel()  # before the bus's sender ran: nothing of this batch has gone yet
        await asyncio.gather(started[0], started[2])
        await sender.publish_durable(channel, durable_note(channel, 4))
        await eventually(lambda: got[channel][-1:] == [4], within=10, what="the last event")
    assert got[channel] == [1, 3, 4]


@pytest.mark.relay
async def test_a_pipeline_send_in_flight_is_abandoned_once_every_event_in_it_is_withdrawn(cluster: Cluster) -> None:
    """redis-py retries a failed pipeline send inside `execute`, after backoff sleeps; once the relay withdrew
    every event of the send (its lock gone), the send must not go on (a retry would publish them beside a
    standby), while a send with one event still awaited goes on to its end."""
    client = RedisCluster.from_url(cluster.url)
    bus = ShardBus(client, f"shardtest:{uuid.uuid4().hex[:8]}", channel_of)
    loop = asyncio.get_running_loop()

    async def abandoned_after(withdrawn: int) -> tuple[bool, bool]:
        """Whether the send was cancelled, and whether it ran to its end, with `withdrawn` of 3 withdrawn."""
        started, finish, ended, cancelled = asyncio.Event(), asyncio.Event(), [], []

        async def send() -> None:  # stands for `execute` between a failed attempt and its retry
            started.set()
            try:
                await finish.wait()
                ended.append(True)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        events: list[asyncio.Future[None]] = [loop.create_future() for _ in range(3)]
        sending = asyncio.ensure_future(bus._execute_unless_withdrawn(send(), events))
        await asyncio.wait_for(started.wait(), 5)
        for event in events[:withdrawn]:
            event.cancel()
        if withdrawn < len(events):
            finish.set()
        await asyncio.wait_for(sending, 5)
        return bool(cancelled), bool(ended)

    try:
        assert await abandoned_after(3) == (True, False)
        assert await abandoned_after(2) == (False, True)
    finally:
        await client.aclose()
