"""Durable delivery over /ws: commit order, resume, the replay/live boundary, reset, slow consumers, vote storms.

Events are appended through the app's own role (`persistence.events.append_event` in a SERVICE
transaction), exactly as REST routes do, and travel PostgreSQL NOTIFY → listener → fan-out → socket.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import socket
import time
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect

from persistence.db import Database
from tests.conftest import METRICS_HEADERS
from tests.helpers.api import signup
from tests.helpers.eventually import eventually
from tests.helpers.ws import ProtocolClient, append_events, assert_continuous, insert_post, seqs, ws_url

SCALE = float(os.environ.get("HUB_TEST_SCALE", "1"))


def scaled(n: int) -> int:
    return max(1, int(n * SCALE))


async def _thread(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> tuple[str, str, str]:
    """(access token, post id, thread channel) for a fresh user and post."""
    account = await signup(client)
    post_id = await insert_post(owner_conn, account.user_id)
    return account.access_token, post_id, f"thread:{post_id}"


async def test_appended_events_reach_a_subscriber_once_in_commit_order(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    token, _, channel = await _thread(client, owner_conn)
    ws = await ProtocolClient.open(hub_url, token)
    reply = await ws.subscribe(channel)
    assert reply["ok"] and reply["result"] == {"channel": channel, "seq": 0, "snapshot": None}
    written = await append_events(app_db, channel, 30, per_transaction=3)
    events = await ws.wait_events(channel, 30)
    assert seqs(events) == written == list(range(1, 31))
    assert [e["data"]["n"] for e in events] == list(range(30))
    assert all(e["event"] == "comment.created" and e["ts"].endswith("+00:00") for e in events)
    stored = await owner_conn.fetch("SELECT seq, data FROM realtime.events WHERE channel = $1 ORDER BY seq", channel)
    assert [r["data"] for r in stored] == [e["data"] for e in events]
    await append_events(app_db, channel, 1)  # delivered in order: anything twice would come before it
    await ws.wait_events(channel, 31)
    assert seqs(ws.events[channel]) == list(range(1, 32))  # nothing twice
    await ws.close()


async def test_payload_over_the_notify_limit_is_read_from_the_log(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    token, _, channel = await _thread(client, owner_conn)
    ws = await ProtocolClient.open(hub_url, token)
    await ws.subscribe(channel)
    await append_events(app_db, channel, 1, pad=10)
    await append_events(app_db, channel, 1, pad=9000)  # key-only notification
    await append_events(app_db, channel, 1, pad=10)
    events = await ws.wait_events(channel, 3)
    assert seqs(events) == [1, 2, 3]
    assert len(events[1]["data"]["pad"]) == 9000
    await ws.close()


async def test_resume_after_disconnect_delivers_exactly_the_missed_events_in_order(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    token, _, channel = await _thread(client, owner_conn)
    first = await ProtocolClient.open(hub_url, token)
    await first.subscribe(channel)
    await append_events(app_db, channel, 5)
    seen = await first.wait_events(channel, 5)
    last = seen[-1]["seq"]
    await first.close()
    missed = scaled(500)
    await append_events(app_db, channel, missed, per_transaction=50)
    second = await ProtocolClient.open(hub_url, token)
    started = time.perf_counter()
    reply = await second.subscribe(channel, since=last)
    assert reply["result"]["seq"] == last + missed
    events = await second.wait_events(channel, missed, within=30)
    elapsed = time.perf_counter() - started
    assert_continuous(events, last, last + missed)
    print(f"\nresume of {missed} events: {elapsed * 1000:.0f} ms")
    await append_events(app_db, channel, 2)  # and live after the replay
    events = await second.wait_events(channel, missed + 2)
    assert_continuous(events, last, last + missed + 2)
    await second.close()


async def test_subscribing_with_since_during_concurrent_writes_has_no_gap_and_no_duplicate(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    token, _, channel = await _thread(client, owner_conn)
    await append_events(app_db, channel, 200, per_transaction=50)
    stop = asyncio.Event()
    written: list[int] = []

    async def writer() -> None:
        while not stop.is_set():
            written.extend(await append_events(app_db, channel, random.randint(1, 5), per_transaction=5))
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    try:
        clients = []
        for since in (0, 57, 150, 199):
            await asyncio.sleep(0.02)  # spaces the subscribes among the writes; how many land between is free
            ws = await ProtocolClient.open(hub_url, token)
            reply = await ws.subscribe(channel, since=since)
            assert reply["ok"], reply
            clients.append((since, ws))
        subscribed_at = len(written)
        # Writes after the last subscribe: every client then has live events to place after its replay.
        await eventually(lambda: len(written) >= subscribed_at + 5, what="writes after the last subscribe")
    finally:
        stop.set()
        await task
    # A last event after the writes: delivered in order, so a duplicate or a stray would come before it.
    head = (await append_events(app_db, channel, 1))[-1]
    for since, ws in clients:
        await ws.wait_events(channel, head - since, within=20)
        assert_continuous(ws.events[channel], since, head)
        await ws.close()


async def test_since_older_than_the_retained_log_gets_reset_with_the_head(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    token, _, channel = await _thread(client, owner_conn)
    await append_events(app_db, channel, 20, per_transaction=20)
    # Keep 5 per channel: this channel's events 1..15 are pruned.
    await owner_conn.execute(
        "DELETE FROM realtime.events WHERE channel = $1 AND seq <= 15", channel)
    await owner_conn.execute("UPDATE realtime.channel_heads SET trimmed_seq = 15 WHERE channel = $1", channel)
    ws = await ProtocolClient.open(hub_url, token)
    reply = await ws.subscribe(channel, since=3)
    assert reply["result"]["seq"] == 20
    await ws.until(lambda: bool(ws.resets))
    assert ws.resets == [{"op": "reset", "channel": channel, "seq": 20, "reason": "history_expired"}]
    assert ws.frames.index(ws.resets[0]) > ws.frames.index(reply)
    await append_events(app_db, channel, 1)
    assert seqs(await ws.wait_events(channel, 1)) == [21]
    # From the oldest retained sequence − 1 the replay still works.
    other = await ProtocolClient.open(hub_url, token)
    await other.subscribe(channel, since=15)
    assert_continuous(await other.wait_events(channel, 6), 15, 21)
    assert not other.resets
    await ws.close()
    await other.close()


async def test_prune_events_then_resume_resets(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    token, _, channel = await _thread(client, owner_conn)
    await append_events(app_db, channel, 120, per_transaction=120)
    await owner_conn.execute("SELECT realtime.prune_events(NULL, 100)")
    assert await owner_conn.fetchval(
        "SELECT trimmed_seq FROM realtime.channel_heads WHERE channel = $1", channel) == 20
    ws = await ProtocolClient.open(hub_url, token)
    await ws.subscribe(channel, since=10)
    await ws.until(lambda: bool(ws.resets))
    assert ws.resets[0]["seq"] == 120
    await ws.close()


async def test_since_ahead_of_the_head_is_a_bad_frame(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    token, _, channel = await _thread(client, owner_conn)
    await append_events(app_db, channel, 3, per_transaction=3)
    ws = await ProtocolClient.open(hub_url, token)
    reply = await ws.subscribe(channel, since=4)
    assert not reply["ok"]
    assert reply["error"]["code"] == "bad_frame"
    assert reply["error"]["details"]["path"] == "$.since"
    # The refused subscription is not held: subscribing again works.
    assert (await ws.subscribe(channel, since=3))["ok"]
    await ws.close()


async def _silent_client(base_url: str, token: str, channels: list[str]) -> Any:
    """A client that subscribes and then never reads: tiny receive buffer, one-message queue."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = base_url.removeprefix("http://").split(":")
    sock.connect((host, int(port)))
    sock.setblocking(False)
    ws = await connect(ws_url(base_url), sock=sock, max_queue=1, compression=None)
    client = ProtocolClient(ws)
    assert (await client.request({"op": "auth", "token": token}))["ok"]
    for channel in channels:
        assert (await client.subscribe(channel))["ok"]
    return client


@pytest.mark.timeout(300)
async def test_slow_consumer_is_closed_4008_while_other_subscribers_receive_everything(
    client: httpx.AsyncClient, start_hub: Any, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    token, _, channel = await _thread(client, owner_conn)
    # A second channel only the slow client follows carries big events, so its socket buffers
    # (several MiB on loopback) fill quickly; the shared channel stays light for the others.
    _, _, heavy = await _thread(client, owner_conn)
    with start_hub(ws_send_queue=64, ws_max_connections_per_user=500) as url:
        slow = await _silent_client(url, token, [channel, heavy])
        # 20 readers in this process, beside the hub's thread: on a busy machine 100 of them (40,000 frames
        # read in Python) missed a 60 s deadline. The deadline bounds a hang, not a speed.
        others = [await ProtocolClient.open(url, token) for _ in range(20)]
        for ws in others:
            await ws.subscribe(channel)
        rounds = max(40, scaled(40))
        total = rounds * 10
        readers = [asyncio.create_task(ws.wait_events(channel, total, within=180)) for ws in others]
        for _ in range(rounds):
            await append_events(app_db, channel, 10, per_transaction=1, pad=200)
            await append_events(app_db, heavy, 5, per_transaction=1, pad=60_000)
            await asyncio.sleep(0.005)
        for events in await asyncio.gather(*readers):
            assert_continuous(events, 0, total)
        assert await slow.wait_closed(within=30) == 4008
        assert len(slow.events[channel]) < total
        assert_continuous(slow.events[channel], 0)  # what it did get was in order
        async with httpx.AsyncClient(base_url=url) as http:
            metrics = (await http.get("/metrics", headers=METRICS_HEADERS)).text
        assert "hub_send_queue_overflows_total 1.0" in metrics
        for ws in others:
            await ws.close()


async def test_vote_storm_is_coalesced_and_the_last_counts_equal_the_database(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection
) -> None:
    voters = [await signup(client) for _ in range(5)]
    post_id = await insert_post(owner_conn, voters[0].user_id)
    vote_ids = [
        await owner_conn.fetchval(
            "INSERT INTO public.community_votes (user_id, target_type, target_id, vote_type) "
            "VALUES ($1, 'post', $2, 'upvote') RETURNING id", v.user_id, post_id)
        for v in voters
    ]
    channel = f"votes:{post_id}"
    ws = await ProtocolClient.open(hub_url, voters[0].access_token)
    reply = await ws.subscribe(channel)
    assert reply["result"]["seq"] is None
    assert reply["result"]["snapshot"] == [
        {"target_type": "post", "target_id": post_id, "upvotes": 5, "downvotes": 0, "score": 5}]
    await owner_conn.execute("SET synchronous_commit TO off")  # thousands of commits in about a second
    flips = scaled(2000)
    started = time.perf_counter()
    for _ in range(flips):
        await owner_conn.execute(
            "UPDATE public.community_votes SET vote_type = CASE vote_type WHEN 'upvote' THEN 'downvote' "
            "ELSE 'upvote' END WHERE id = $1", random.choice(vote_ids))
    storm_s = time.perf_counter() - started
    up, down = await owner_conn.fetchrow(
        "SELECT upvotes_count, downvotes_count FROM public.community_posts WHERE id = $1", post_id)
    final = {"target_type": "post", "target_id": post_id, "upvotes": up, "downvotes": down, "score": up - down}
    frames = ws.events[channel]
    await ws.until(lambda: bool(frames) and frames[-1]["data"] == final, within=20)
    assert all(f["seq"] is None and f["event"] == "counts" for f in frames)
    per_second = len(frames) / storm_s
    print(f"\nvote storm: {flips} changes in {storm_s:.2f} s -> {len(frames)} counts frames ({per_second:.1f}/s)")
    assert len(frames) <= storm_s * 10 + 3
    assert all(b["ts"] > a["ts"] for a, b in itertools.pairwise(frames))
    await ws.close()
