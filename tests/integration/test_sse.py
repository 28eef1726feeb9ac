"""`GET /sse`, its tickets and `POST /api/channels/{channel}/publish`, across two hub processes on one
PostgreSQL and one Redis: an SSE stream is a connection of the realtime edge like a websocket, with the same
events in the same order, the same resume and `reset`, the same limits and the same revocations."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from hub.settings import Settings
from persistence.db import Database
from tests.helpers.api import admin, login, signup
from tests.helpers.eventually import eventually
from tests.helpers.instances import Instance, start_instance
from tests.helpers.ports import free_port
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.sse import SseClient, ticket
from tests.helpers.ws import ProtocolClient, append_events, assert_continuous, insert_post, seqs
from tests.integration.test_live_room import live_room
from tests.integration.test_sessions import host_account

pytestmark = pytest.mark.slow

TOKEN_TTL_S = 6  # tokens issued by these instances (the suite's own hub issues the usual ones)
OPENS_PER_MINUTE = 12
MAX_CHANNELS = 3


@pytest.fixture(scope="module")
async def hubs(test_db: DatabaseUnderTest, base_settings: Settings,
               tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, str]]:
    log_dir = Path(tmp_path_factory.mktemp("sse"))
    env = {"RATE_LIMIT_SCALE": "1", "WS_PUBLISH_BURST": "4", "WS_PUBLISH_RATE": "0.1",
           "WS_OPEN_RATE_PER_MINUTE": str(OPENS_PER_MINUTE), "WS_MAX_SUBSCRIPTIONS": str(MAX_CHANNELS),
           "WS_HEARTBEAT": "0.5", "ACCESS_TOKEN_TTL": str(TOKEN_TTL_S), "DB_POOL_MAX": "8"}
    started: list[Instance] = list(await asyncio.gather(
        *(start_instance(test_db, base_settings, log_dir, **env) for _ in range(2))))
    yield started[0].url, started[1].url
    await asyncio.gather(*(instance.stop() for instance in started))


def _bodies(frames: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(f["seq"], f["event"], f["data"]) for f in frames]


async def test_an_sse_stream_and_a_websocket_on_two_instances_get_the_same_events_in_the_same_order(
        hubs: tuple[str, str], client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    one, two = hubs
    reader = await signup(client)
    channel = f"thread:{await insert_post(owner_conn, reader.user_id)}"
    ws = await ProtocolClient.open(one, reader.access_token)
    assert (await ws.subscribe(channel))["ok"]
    # The ticket comes from one instance and opens the stream on the other.
    sse = await SseClient.open(two, reader.access_token, [channel], ticket_from=one)
    await sse.until(lambda: bool(sse.frames("reply")), what="the subscribe reply")
    assert sse.frames("reply")[0]["result"]["channel"] == channel

    written = await append_events(app_db, channel, 30)
    websocket_events = await ws.wait_events(channel, 30)
    stream_events = await sse.wait_events(channel, 30)
    assert seqs(stream_events) == written
    assert _bodies(stream_events) == _bodies(websocket_events)
    # Each message's id is its channel and seq, so Last-Event-ID names where to resume.
    assert [m.id for m in sse.messages if m.event == "event"] == [f"{channel}:{s}" for s in written]
    await sse.until(lambda: sse.comments > 0, what="a heartbeat comment")
    await asyncio.gather(ws.close(), sse.close())


async def test_a_stream_resumed_with_last_event_id_on_the_other_instance_misses_nothing_and_repeats_nothing(
        hubs: tuple[str, str], client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    one, two = hubs
    reader = await signup(client)
    channel = f"thread:{await insert_post(owner_conn, reader.user_id)}"
    other = f"user:{reader.user_id}"
    first = await SseClient.open(one, reader.access_token, [channel, other])
    await first.until(lambda: len(first.frames("reply")) == 2, what="both replies")
    await append_events(app_db, channel, 5)
    await append_events(app_db, other, 2, event="notification.created")
    await first.wait_events(channel, 5)
    await first.wait_events(other, 2)
    last_id = first.last_id
    await first.close()

    await append_events(app_db, channel, 5)
    await append_events(app_db, other, 3, event="notification.created")
    # Last-Event-ID covers the channel of the last message; the other resumes from its `since`.
    assert last_id is not None
    last_channel = last_id.rpartition(":")[0]
    since_of_other = {other: 2} if last_channel == channel else {channel: 5}
    resumed = await SseClient.open(two, reader.access_token, [channel, other], since=since_of_other,
                                   last_event_id=last_id)
    await append_events(app_db, channel, 2)
    events = await resumed.wait_events(channel, 7)
    others = await resumed.wait_events(other, 3)
    assert_continuous(events, after=5, through=12)
    assert_continuous(others, after=2, through=5)
    assert resumed.frames("reset") == []
    await resumed.close()


async def test_a_since_later_than_last_event_id_for_the_same_channel_repeats_nothing(
        hubs: tuple[str, str], client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    reader = await signup(client)
    channel = f"thread:{await insert_post(owner_conn, reader.user_id)}"
    await append_events(app_db, channel, 5)
    # A client that kept a stale Last-Event-ID header but names how far it really got in `since`.
    sse = await SseClient.open(hubs[1], reader.access_token, [channel], since={channel: 4},
                               last_event_id=f"{channel}:2")
    await append_events(app_db, channel, 1)
    events = await sse.wait_events(channel, 2)
    assert seqs(events) == [5, 6], seqs(events)
    await sse.close()


async def test_a_since_older_than_the_retained_log_gives_reset_then_live_events(
        hubs: tuple[str, str], client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    reader = await signup(client)
    channel = f"thread:{await insert_post(owner_conn, reader.user_id)}"
    await append_events(app_db, channel, 20)
    await owner_conn.execute("UPDATE realtime.channel_heads SET trimmed_seq = 15 WHERE channel = $1", channel)
    sse = await SseClient.open(hubs[0], reader.access_token, [channel], since={channel: 3})
    await sse.until(lambda: bool(sse.frames("reset")), what="reset")
    assert sse.frames("reset") == [{"op": "reset", "channel": channel, "seq": 20, "reason": "history_expired"}]
    assert [m.id for m in sse.messages if m.event == "reset"] == [f"{channel}:20"]
    await append_events(app_db, channel, 1)
    assert seqs(await sse.wait_events(channel, 1)) == [21]
    await sse.close()


async def test_no_ticket_a_spent_ticket_and_an_unknown_ticket_answer_401_invalid_ticket(
        hubs: tuple[str, str], client: httpx.AsyncClient) -> None:
    one, two = hubs
    reader = await signup(client)
    issued = await ticket(one, reader.access_token)
    stream = await SseClient.open(two, reader.access_token, ["feed"])
    async with httpx.AsyncClient(timeout=30) as http:
        missing = await http.get(f"{one}/sse", params={"channel": "feed"})
        unknown = await http.get(f"{one}/sse", params={"channel": "feed", "ticket": "x" * 43})
        async with http.stream("GET", f"{two}/sse", params={"channel": "feed", "ticket": issued}) as used:
            assert used.status_code == 200
        # Spent on one instance, refused on both.
        spent = [await http.get(f"{url}/sse", params={"channel": "feed", "ticket": issued}) for url in hubs]
        anonymous = await http.post(f"{one}/api/realtime/tickets")
    for response in (missing, unknown, *spent):
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "invalid_ticket"
    assert anonymous.status_code == 401
    await stream.close()


async def test_a_banned_users_stream_gets_token_revoked_and_ends(
        hubs: tuple[str, str], client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    one, two = hubs
    boss = await admin(client, owner_conn)
    target = await signup(client)
    sse = await SseClient.open(two, target.access_token, ["feed", f"user:{target.user_id}"])
    await sse.until(lambda: len(sse.frames("reply")) == 2, what="both replies")
    async with httpx.AsyncClient(base_url=one, timeout=30) as http:
        until = datetime.now(UTC) + timedelta(days=1)
        banned = await http.post(f"/api/admin/users/{target.user_id}/ban", headers=boss.headers,
                                 json={"until": until.isoformat(), "reason": "abuse"})
        assert banned.status_code == 200, banned.text
    assert await sse.wait_ended() == 4003
    assert [e["error"]["code"] for e in sse.errors] == ["token_revoked"], sse.messages
    await sse.close()


async def test_a_ticket_made_before_a_logout_all_opens_no_stream_and_an_open_stream_ends(
        hubs: tuple[str, str], client: httpx.AsyncClient) -> None:
    one, two = hubs
    reader = await signup(client)
    unused = await ticket(one, reader.access_token)
    sse = await SseClient.open(two, reader.access_token, ["feed"])
    await sse.until(lambda: bool(sse.frames("reply")), what="the reply")
    async with httpx.AsyncClient(timeout=30) as http:
        out = await http.post(f"{one}/api/auth/logout-all", headers=reader.headers)
        assert out.status_code == 204, out.text
        assert await sse.wait_ended() == 4003
        refused = await http.get(f"{two}/sse", params={"channel": "feed", "ticket": unused})
    assert (refused.status_code, refused.json()["code"]) == (401, "token_revoked")
    assert [e["error"]["code"] for e in sse.errors] == ["token_revoked"]
    await sse.close()


async def test_a_cancelled_participants_session_channel_ends_and_the_stream_goes_on(
        hubs: tuple[str, str], client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    one, two = hubs
    host = await host_account(client, owner_conn)
    # Seat holders wait in the room before it starts (a live room's subscription is an attendance).
    channel, [(_, leaving)] = await live_room(owner_conn, host, 1, status="scheduled")
    headers = {"Authorization": f"Bearer {leaving}"}
    sse = await SseClient.open(two, leaving, [channel, "feed"])
    await sse.until(lambda: len(sse.frames("reply")) == 2, what="both replies")
    async with httpx.AsyncClient(base_url=one, timeout=30) as http:
        cancel = await http.delete(f"/api/sessions/{channel[8:]}/registration", headers=headers)
        assert cancel.status_code == 204, cancel.text
    await sse.until(lambda: any(e["error"]["code"] == "forbidden" for e in sse.errors), what="forbidden")
    assert sse.errors[-1]["error"]["details"] == {"channel": channel}
    assert [e["event"] for e in sse.events(channel)][-1] == "participant.cancelled"
    # The stream and its other channel go on; the session's channel is gone from it.
    await append_events(app_db, "feed", 1, event="post.created")
    await sse.until(lambda: bool(sse.events("feed")), what="a feed event after the cancellation")
    assert not sse.ended
    await sse.close()


async def test_a_rest_publish_reaches_websocket_and_sse_subscribers_on_both_instances_with_the_same_rules(
        hubs: tuple[str, str], client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    one, two = hubs
    host = await host_account(client, owner_conn)
    channel, members = await live_room(owner_conn, host, 1)
    _, member_token = members[0]
    host_ws = await ProtocolClient.open(one, host.access_token)
    assert (await host_ws.subscribe(channel))["ok"]
    sse = await SseClient.open(two, member_token, [channel])
    await sse.until(lambda: bool(sse.frames("reply")), what="the reply")
    assert sse.frames("reply")[0]["result"]["presence"] is not None

    headers = {"Authorization": f"Bearer {member_token}"}
    async with httpx.AsyncClient(base_url=two, timeout=30) as http:
        said = await http.post(f"/api/channels/{channel}/publish", headers=headers,
                               json={"event": "chat.message", "data": {"text": "over plain HTTP"}})
        raised = await http.post(f"/api/channels/{channel}/publish", headers=headers,
                                 json={"event": "hand.raise", "data": {}})
        assert said.status_code == 200, said.text
        assert raised.status_code == 200, raised.text
        assert said.json()["channel"] == channel and said.json()["event"] == "chat.message"
        # The websocket's table and payload rules, as problem documents.
        not_allowed = await http.post(f"/api/channels/{channel}/publish", headers=headers,
                                      json={"event": "room.lock_chat", "data": {"locked": True}})
        bad = await http.post(f"/api/channels/{channel}/publish", headers=headers,
                              json={"event": "chat.message", "data": {"text": ""}})
        unknown = await http.post("/api/channels/nope:1/publish", headers=headers,
                                  json={"event": "chat.message", "data": {"text": "x"}})
        # The burst (4: every publish above that named a channel) is spent: the rate holds over REST too.
        limited = await http.post(f"/api/channels/{channel}/publish", headers=headers,
                                  json={"event": "reaction", "data": {"emoji": "👍"}})
    assert (not_allowed.status_code, not_allowed.json()["code"]) in ((403, "forbidden"), (422, "event_not_allowed"))
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_channel")
    assert (limited.status_code, limited.json()["code"]) == (429, "rate_limited")
    assert "Retry-After" in limited.headers

    def said_by(frames: list[dict[str, Any]]) -> list[str]:
        # Sorted: the chat message is durable (PostgreSQL), the hand ephemeral (Redis); nothing orders the two.
        return sorted(f["event"] for f in frames if f["event"] in ("chat.message", "hand.raised"))

    await host_ws.until(lambda: said_by(host_ws.events[channel]) == ["chat.message", "hand.raised"])
    await sse.until(lambda: said_by(sse.events(channel)) == ["chat.message", "hand.raised"], what="both events")
    chat = next(f for f in host_ws.events[channel] if f["event"] == "chat.message")
    assert "over plain HTTP" in str(chat["data"])
    assert _bodies([f for f in sse.events(channel) if f["event"] == "chat.message"]) == _bodies([chat])
    await asyncio.gather(host_ws.close(), sse.close())


async def test_a_users_rest_publishes_over_many_channels_pay_one_budget_as_a_sockets_frames_do(
        client: httpx.AsyncClient, start_hub: Any, owner_conn: asyncpg.Connection) -> None:
    # Each channel has its own publish bucket; a socket's frames also pay its frame budget whatever their channel.
    # Without that over REST, a user could publish a burst on every thread they can read.
    writer = await signup(client)
    threads = [f"thread:{await insert_post(owner_conn, writer.user_id)}" for _ in range(5)]
    headers = {"Authorization": f"Bearer {writer.access_token}"}
    with start_hub(rate_limit_scale=1.0, ws_frame_burst=3, ws_frame_rate=0.1, ws_publish_burst=4,
                   ws_publish_rate=0.1) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            answers = [await http.post(f"/api/channels/{channel}/publish", headers=headers,
                                       json={"event": "typing", "data": {}}) for channel in threads]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429], [a.text for a in answers]
    assert answers[3].json()["code"] == "rate_limited" and "Retry-After" in answers[3].headers


async def test_a_stream_over_the_users_connection_cap_is_429_and_a_closed_one_frees_its_slot(
        client: httpx.AsyncClient, start_hub: Any) -> None:
    reader = await signup(client)
    with start_hub(ws_max_connections_per_user=1) as url:
        first = await SseClient.open(url, reader.access_token, ["feed"])
        await first.until(lambda: bool(first.frames("reply")), what="the reply")
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            over = await http.get("/sse", params={"ticket": await ticket(url, reader.access_token), "channel": "feed"})
            assert (over.status_code, over.json()["code"]) == (429, "rate_limited"), over.text
            assert "Retry-After" in over.headers
            await first.close()

            async def reopened() -> bool:
                params = {"ticket": await ticket(url, reader.access_token), "channel": "feed"}
                async with http.stream("GET", "/sse", params=params) as answer:
                    return answer.status_code == 200

            await eventually(reopened, within=15, what="a stream once the first one ended")


async def test_without_redis_tickets_are_neither_issued_nor_redeemed_and_the_answer_is_503_not_500(
        client: httpx.AsyncClient, start_hub: Any) -> None:
    reader = await signup(client)
    with start_hub(redis_url=f"redis://127.0.0.1:{free_port()}/0") as url:  # nothing listens there
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            issued = await http.post("/api/realtime/tickets", headers=reader.headers)
            redeemed = await http.get("/sse", params={"ticket": "x" * 43, "channel": "feed"})
    for answer in (issued, redeemed):
        assert (answer.status_code, answer.json()["code"]) == (503, "not_ready"), answer.text
        assert answer.headers["Retry-After"] == "1"


async def test_the_streams_limits_channels_per_stream_and_tickets_per_minute(
        hubs: tuple[str, str], client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    one, two = hubs
    reader = await signup(client)
    posts = [f"thread:{await insert_post(owner_conn, reader.user_id)}" for _ in range(MAX_CHANNELS + 1)]
    headers = {"Authorization": f"Bearer {reader.access_token}"}
    async with httpx.AsyncClient(timeout=30) as http:
        issued = await ticket(one, reader.access_token)
        too_many = await http.get(f"{two}/sse", params=[("ticket", issued)] + [("channel", c) for c in posts])
        malformed = await http.get(f"{two}/sse", params={"ticket": issued, "channel": "feed", "since": "feed"})
        opens = [await http.post(f"{url}/api/realtime/tickets", headers=headers)
                 for url in (one, two) * OPENS_PER_MINUTE]
    assert (too_many.status_code, too_many.json()["code"]) == (422, "too_many_subscriptions")
    assert (malformed.status_code, malformed.json()["code"]) == (422, "validation_failed")
    statuses = [r.status_code for r in opens]
    # One open budget for websockets and tickets, on both instances together (one ticket above was spent).
    assert statuses.count(201) == OPENS_PER_MINUTE - 1 and statuses[OPENS_PER_MINUTE - 1:].count(429) > 0
    assert statuses[:OPENS_PER_MINUTE - 1] == [201] * (OPENS_PER_MINUTE - 1)


async def test_a_stream_ends_with_token_expired_when_the_token_it_was_ticketed_with_expires(
        hubs: tuple[str, str], client: httpx.AsyncClient) -> None:
    one, _ = hubs
    reader = await signup(client)
    async with httpx.AsyncClient(base_url=one, timeout=30) as http:
        short = await login(http, dataclasses.replace(reader))
    sse = await SseClient.open(one, short.access_token, ["feed"])
    await sse.until(lambda: bool(sse.frames("reply")), what="the reply")
    assert await sse.wait_ended(within=TOKEN_TTL_S + 15) == 4001
    assert [e["error"]["code"] for e in sse.errors] == ["token_expired"]
    await sse.close()


async def test_a_stream_that_does_not_read_is_closed_4008_while_a_websocket_gets_everything(
        client: httpx.AsyncClient, start_hub: Any, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    reader = await signup(client)
    channel = f"thread:{await insert_post(owner_conn, reader.user_id)}"
    # Big events on a channel only the stream follows fill its socket's buffers (several MiB on loopback).
    heavy = f"thread:{await insert_post(owner_conn, reader.user_id)}"
    with start_hub(ws_send_queue=16) as url:
        issued = await ticket(url, reader.access_token)
        # A client that sends its request and then never reads, with a tiny receive buffer.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        host, port = url.removeprefix("http://").split(":")
        sock.connect((host, int(port)))
        sock.setblocking(False)
        stream_in, stream_out = await asyncio.open_connection(sock=sock)
        request = f"GET /sse?ticket={issued}&channel={channel}&channel={heavy} HTTP/1.1\r\nHost: {host}\r\n\r\n"
        stream_out.write(request.encode())
        await stream_out.drain()
        # Both subscribes answered before the flood, or a late one would start after it and find nothing to lag on.
        received = b""
        async with asyncio.timeout(30):
            while received.count(b"event: reply\n") < 2:
                chunk = await stream_in.read(4096)
                assert chunk, received
                received += chunk
        ws = await ProtocolClient.open(url, reader.access_token)
        assert (await ws.subscribe(channel))["ok"]
        total = 0
        for _ in range(40):
            total += len(await append_events(app_db, channel, 10, per_transaction=10, pad=200))
            await append_events(app_db, heavy, 5, per_transaction=1, pad=60_000)
            # The websocket reads each batch before the next: at most 10 of its 16 frames in flight, however
            # slow a busy machine makes the hub or this reader.
            await ws.wait_events(channel, total, within=60)
        assert_continuous(ws.durable(channel), 0, total)

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                while b"event: close" not in received:
                    chunk = await stream_in.read(1 << 20)
                    if not chunk:
                        break
                    received += chunk
        assert b'event: close\ndata: {"code":4008,"reason":"slow consumer"}' in received
        assert received.count(f'"channel":"{channel}"'.encode()) < total
        stream_out.close()
        await ws.close()


@contextlib.asynccontextmanager
async def _cutoffs_locked(owner_conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Holds every read of the token cutoffs: an instance that has not cached a user's cutoff waits in the
    route of `GET /sse` (the ticket's check) until the block ends."""
    async with owner_conn.transaction():
        await owner_conn.execute("LOCK TABLE private.token_cutoffs IN ACCESS EXCLUSIVE MODE")
        yield


async def _waiting_on_the_lock(owner_conn: asyncpg.Connection) -> bool:
    return bool(await owner_conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'private.token_cutoffs'::regclass"))


async def test_a_stream_whose_route_was_under_way_when_the_drain_began_is_refused_not_left_open(
        test_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path, client: httpx.AsyncClient,
        owner_conn: asyncpg.Connection) -> None:
    # The drain closes the streams it sees; one whose route was still awaiting (the ticket's checks) when it
    # began must not start afterwards, unseen, and hold the instance's shutdown open.
    one, two = await asyncio.gather(start_instance(test_db, base_settings, tmp_path),
                                    start_instance(test_db, base_settings, tmp_path, DRAIN_TIMEOUT="120"))
    try:
        reader = await signup(client)
        issued = await ticket(one.url, reader.access_token)  # `two` has not read this user's cutoff yet
        async with httpx.AsyncClient(timeout=httpx.Timeout(60, read=None)) as http:
            async with _cutoffs_locked(owner_conn):
                request = http.build_request("GET", f"{two.url}/sse", params={"ticket": issued, "channel": "feed"})
                opening = asyncio.create_task(http.send(request, stream=True))
                await eventually(lambda: _waiting_on_the_lock(owner_conn), within=30, what="the route at the lock")
                two.sigterm()

                async def draining() -> bool:
                    try:
                        return (await http.get(f"{two.url}/readyz")).status_code != 200
                    except httpx.TransportError:
                        return True  # drained (no peers) and handed on to uvicorn, which stopped listening

                await eventually(draining, within=30, what="the instance draining")
            response = await asyncio.wait_for(opening, 30)
            body = await asyncio.wait_for(response.aread(), 30)
        assert response.status_code == 503, body[:300]
        assert json.loads(body)["code"] == "not_ready"
        await two.wait_exit(within=30)  # nothing held its shutdown open
    finally:
        await asyncio.gather(one.stop(), two.stop())
