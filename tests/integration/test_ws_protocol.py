"""/ws protocol behaviour against a real server: auth, refresh, expiry, limits, authorization, publishes.

The REST history route (`GET /api/channels/{channel}/events`) is checked here too, because it must
enforce exactly the same authorization as subscribing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from hub.tokens import TokenService
from persistence.db import Database
from tests.conftest import TEST_SECRET
from tests.helpers.api import Account, login, signup
from tests.helpers.ws import ProtocolClient, append_events, insert_post, open_or_refused, seqs


async def _session(owner_conn: asyncpg.Connection, host: Account, status: str = "live") -> str:
    session_id = await owner_conn.fetchval(
        "INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration, status) "
        "VALUES ('ws test', $1, now(), interval '1 hour', $2) RETURNING id::text", host.user_id, status)
    return str(session_id)


async def _attend(owner_conn: asyncpg.Connection, session_id: str, account: Account, status: str) -> None:
    await owner_conn.execute(
        "INSERT INTO public.session_participants (session_id, user_id, attendance_status) VALUES ($1, $2, $3)",
        uuid.UUID(session_id), account.user_id, status)


def _short_token(account: Account, ttl_s: int) -> str:
    token, _ = TokenService(TEST_SECRET, "hub", ttl_s).issue_access(
        user_id=account.user_id, email=account.email, app_metadata={}, user_metadata={}, session_id=uuid.uuid4())
    return token


# --- authentication ---------------------------------------------------------------------


async def test_no_auth_within_the_deadline_closes_4001(start_hub: Any) -> None:
    with start_hub(ws_auth_timeout_s=0.3) as url:
        ws = await ProtocolClient.open(url)
        started = time.monotonic()
        assert await ws.wait_closed(5) == 4001
        assert time.monotonic() - started < 3


async def test_a_frame_other_than_auth_first_is_refused_and_closes_4001(hub_url: str) -> None:
    ws = await ProtocolClient.open(hub_url)
    await ws.send({"op": "subscribe", "id": 1, "channel": "feed"})
    assert await ws.wait_closed() == 4001
    assert ws.replies[1]["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("kind", ["garbage", "bad_signature", "alg_none", "wrong_audience", "expired"])
async def test_bad_first_token_is_refused_and_closes_4001(client: httpx.AsyncClient, hub_url: str, kind: str) -> None:
    account = await signup(client)
    claims = {"sub": str(account.user_id), "role": "authenticated", "aud": "authenticated",
              "exp": int(time.time()) + 600}
    token = {
        "garbage": "not-a-token",
        "bad_signature": jwt.encode(claims, "another-secret-that-is-long-enough-0123456789", algorithm="HS256"),
        "alg_none": jwt.encode(claims, key=None, algorithm="none"),
        "wrong_audience": jwt.encode({**claims, "aud": "anon"}, TEST_SECRET, algorithm="HS256"),
        "expired": jwt.encode({**claims, "exp": int(time.time()) - 10}, TEST_SECRET, algorithm="HS256"),
    }[kind]
    ws = await ProtocolClient.open(hub_url)
    reply = await ws.request({"op": "auth", "token": token})
    assert not reply["ok"]
    assert reply["error"]["code"] == ("token_expired" if kind == "expired" else "unauthorized")
    assert await ws.wait_closed() == 4001


async def test_auth_reply_carries_identity_expiry_and_heartbeat(client: httpx.AsyncClient, hub_url: str) -> None:
    account = await signup(client)
    ws = await ProtocolClient.open(hub_url)
    reply = await ws.request({"op": "auth", "token": account.access_token})
    result = reply["result"]
    assert result["user_id"] == str(account.user_id)
    assert result["expires_at"] == jwt.decode(account.access_token, options={"verify_signature": False})["exp"]
    assert result["heartbeat_s"] == 25.0 and result["connection_id"]
    await ws.close()


async def test_auth_again_refreshes_without_losing_subscriptions(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    account = await signup(client)
    post_id = await insert_post(owner_conn, account.user_id)
    ws = await ProtocolClient.open(hub_url, _short_token(account, 30))
    await ws.subscribe(f"thread:{post_id}")
    fresh = await login(client, account)
    reply = await ws.request({"op": "auth", "token": fresh.access_token})
    assert reply["ok"] and reply["result"]["expires_at"] > time.time() + 60
    await append_events(app_db, f"thread:{post_id}", 2)
    assert seqs(await ws.wait_events(f"thread:{post_id}", 2)) == [1, 2]
    await ws.close()


async def test_refresh_with_another_users_token_is_refused_and_the_first_identity_stays(
    client: httpx.AsyncClient, hub_url: str
) -> None:
    me, other = await signup(client), await signup(client)
    ws = await ProtocolClient.open(hub_url, me.access_token)
    reply = await ws.request({"op": "auth", "token": other.access_token})
    assert reply["error"]["code"] == "forbidden"
    assert (await ws.subscribe(f"user:{me.user_id}"))["ok"]
    assert (await ws.subscribe(f"user:{other.user_id}"))["error"]["code"] == "forbidden"
    await ws.close()


async def test_token_expiry_mid_connection_sends_token_expired_then_closes_4001(
    client: httpx.AsyncClient, hub_url: str
) -> None:
    account = await signup(client)
    ws = await ProtocolClient.open(hub_url, _short_token(account, 2))
    assert await ws.wait_closed(6) == 4001
    assert [e["error"]["code"] for e in ws.errors] == ["token_expired"]


async def test_refresh_with_an_expired_token_answers_token_expired_and_keeps_the_first_token(
    client: httpx.AsyncClient, hub_url: str
) -> None:
    # The expired token is told apart by its error's type (`AccessTokenExpired`), not by its wording.
    account = await signup(client)
    ws = await ProtocolClient.open(hub_url, _short_token(account, 60))
    claims = {"sub": str(account.user_id), "role": "authenticated", "aud": "authenticated",
              "exp": int(time.time()) - 10}
    reply = await ws.request({"op": "auth", "token": jwt.encode(claims, TEST_SECRET, algorithm="HS256")})
    assert reply["error"]["code"] == "token_expired" and reply["error"]["message"] == "token expired"
    assert (await ws.subscribe(f"user:{account.user_id}"))["ok"]
    assert ws.close_code is None
    await ws.close()


async def test_refresh_before_expiry_keeps_the_connection_open(client: httpx.AsyncClient, hub_url: str) -> None:
    account = await signup(client)
    ws = await ProtocolClient.open(hub_url, _short_token(account, 2))
    assert (await ws.request({"op": "auth", "token": _short_token(account, 60)}))["ok"]
    # Lets the first token's expiry pass (what the test is about); a slow machine only lets more time pass.
    await asyncio.sleep(2.5)
    pong_id = ws.new_id()
    await ws.send({"op": "ping", "id": pong_id})
    await ws.until(lambda: any(p["id"] == pong_id for p in ws.pongs))
    assert ws.close_code is None and not ws.errors
    await ws.close()


async def test_ping_gets_pong_with_the_same_id(client: httpx.AsyncClient, hub_url: str) -> None:
    account = await signup(client)
    ws = await ProtocolClient.open(hub_url, account.access_token)
    await ws.send({"op": "ping", "id": 41})
    await ws.until(lambda: bool(ws.pongs))
    assert ws.pongs == [{"op": "pong", "id": 41}]
    await ws.close()


# --- authorization ------------------------------------------------------------------------


async def test_subscribe_authorization_by_channel(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection
) -> None:
    me, host, other = await signup(client), await signup(client), await signup(client)
    post_id = await insert_post(owner_conn, other.user_id)
    open_session = await _session(owner_conn, host)
    registered = await _session(owner_conn, host)
    await _attend(owner_conn, registered, me, "registered")
    waitlisted = await _session(owner_conn, host)
    await _attend(owner_conn, waitlisted, me, "waitlisted")
    ws = await ProtocolClient.open(hub_url, me.access_token)
    expected = {
        "feed": None,
        f"user:{me.user_id}": None,
        f"user:{other.user_id}": "forbidden",
        f"thread:{post_id}": None,
        f"votes:{post_id}": None,
        f"thread:{uuid.uuid4()}": "not_found",
        f"session:{registered}": None,
        f"session:{open_session}": "forbidden",
        f"session:{waitlisted}": "forbidden",
        f"session:{uuid.uuid4()}": "not_found",
        "leaderboard:weekly": None,
        "leaderboard:yearly": "unknown_channel",
        "thread:not-a-uuid": "unknown_channel",
        "Feed": "unknown_channel",
        "feed\n": "unknown_channel",
        f"user:{me.user_id}/../x": "unknown_channel",
        "x" * 300: "bad_frame",
        "": "unknown_channel",
    }
    for channel, code in expected.items():
        reply = await ws.subscribe(channel)
        assert (None if reply["ok"] else reply["error"]["code"]) == code, (channel, reply)
    host_ws = await ProtocolClient.open(hub_url, host.access_token)
    assert (await host_ws.subscribe(f"session:{open_session}"))["ok"]  # the host needs no registration
    await ws.close()
    await host_ws.close()


async def test_history_route_enforces_the_subscribe_authorization(
    client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    me, host, other = await signup(client), await signup(client), await signup(client)
    session_id = await _session(owner_conn, host)
    await append_events(app_db, f"user:{other.user_id}", 1)
    await append_events(app_db, f"session:{session_id}", 1)
    cases = {
        f"user:{other.user_id}": (403, "forbidden"),
        f"session:{session_id}": (403, "forbidden"),
        f"session:{uuid.uuid4()}": (404, "not_found"),
        f"thread:{uuid.uuid4()}": (404, "not_found"),
        "thread:nope": (422, "unknown_channel"),
        "votes:" + str(uuid.uuid4()): (404, "not_found"),
    }
    for channel, (status, code) in cases.items():
        response = await client.get(f"/api/channels/{channel}/events", headers=me.headers)
        assert (response.status_code, response.json()["code"]) == (status, code), channel
    assert (await client.get(f"/api/channels/user:{me.user_id}/events")).status_code == 401
    host_view = await client.get(f"/api/channels/session:{session_id}/events", headers=host.headers)
    assert host_view.status_code == 200 and len(host_view.json()["items"]) == 1


async def test_history_route_pages_with_next_since_and_reports_expired_and_future_positions(
    client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    me = await signup(client)
    channel = f"user:{me.user_id}"
    await append_events(app_db, channel, 25, per_transaction=25)
    first = (await client.get(f"/api/channels/{channel}/events?since=0&limit=10", headers=me.headers)).json()
    assert [i["seq"] for i in first["items"]] == list(range(1, 11))
    assert first["head"] == 25 and first["next_since"] == 10
    assert first["items"][0]["event"] == "comment.created" and first["items"][0]["data"]["n"] == 0
    last = (await client.get(f"/api/channels/{channel}/events?since=20&limit=10", headers=me.headers)).json()
    assert [i["seq"] for i in last["items"]] == [21, 22, 23, 24, 25] and last["next_since"] is None
    ahead = await client.get(f"/api/channels/{channel}/events?since=26", headers=me.headers)
    assert ahead.status_code == 422
    await owner_conn.execute("DELETE FROM realtime.events WHERE channel = $1 AND seq <= 5", channel)
    await owner_conn.execute("UPDATE realtime.channel_heads SET trimmed_seq = 5 WHERE channel = $1", channel)
    expired = await client.get(f"/api/channels/{channel}/events?since=2", headers=me.headers)
    assert expired.status_code == 409
    assert expired.json()["code"] == "history_expired" and expired.json()["head"] == 25
    bad = await client.get(f"/api/channels/{channel}/events?limit=0", headers=me.headers)
    assert bad.status_code == 422


# --- limits -------------------------------------------------------------------------------


async def test_frame_over_the_size_limit_closes_1009(client: httpx.AsyncClient, hub_url: str) -> None:
    account = await signup(client)
    ws = await ProtocolClient.open(hub_url, account.access_token)
    await ws.send({"op": "ping", "pad": "x" * 70_000})
    assert await ws.wait_closed() == 1009


async def test_frame_over_the_limit_is_closed_1009_by_the_handler_too(
    client: httpx.AsyncClient, start_hub: Any
) -> None:
    account = await signup(client)
    # The server's transport limit (ws_max_size) is set from this setting; 2 KiB for this hub.
    with start_hub(ws_max_frame_bytes=2048) as url:
        ws = await ProtocolClient.open(url, account.access_token)
        await ws.send({"op": "ping", "id": 1})
        await ws.until(lambda: bool(ws.pongs))
        await ws.send('{"op":"ping","id":2,"x":"' + "y" * 3000 + '"}')
        assert await ws.wait_closed() == 1009


async def test_repeated_bad_frames_get_replies_then_close_1008(client: httpx.AsyncClient, hub_url: str) -> None:
    account = await signup(client)
    ws = await ProtocolClient.open(hub_url, account.access_token)
    for i in range(9):
        await ws.send({"op": "nonsense", "id": i})
    await ws.until(lambda: len(ws.replies) == 9)
    assert {r["error"]["code"] for r in ws.replies.values()} == {"bad_frame"}
    assert ws.close_code is None
    await ws.send("{not json")
    assert await ws.wait_closed() == 1008
    assert ws.errors[-1]["error"]["code"] == "bad_frame"


async def test_too_many_connections_of_one_user_closes_4029(client: httpx.AsyncClient, start_hub: Any) -> None:
    account = await signup(client)
    with start_hub(ws_max_connections_per_user=2) as url:
        kept = [await ProtocolClient.open(url, account.access_token) for _ in range(2)]
        third = await ProtocolClient.open(url)
        await third.send({"op": "auth", "id": 1, "token": account.access_token})
        assert await third.wait_closed() == 4029
        await kept[0].close()
        deadline = time.monotonic() + 10  # a slot is freed once the server has handled the close: 4029 until then
        while not isinstance(again := await open_or_refused(url, account.access_token), ProtocolClient):
            assert again == 4029 and time.monotonic() < deadline, again
        for ws in (kept[1], again):
            await ws.close()


async def test_publish_rate_limit_answers_rate_limited_with_retry_after(
    client: httpx.AsyncClient, start_hub: Any, owner_conn: asyncpg.Connection
) -> None:
    account = await signup(client)
    post_id = await insert_post(owner_conn, account.user_id)
    # The suite's hub scales every budget out of the way; this one keeps the burst of 10 and refills it so
    # slowly (0.1/s) that a busy machine, slower per round trip, does not refill a token mid-test.
    with start_hub(rate_limit_scale=1, ws_publish_rate=0.1) as url:
        ws = await ProtocolClient.open(url, account.access_token)
        replies = [await ws.request({"op": "publish", "channel": f"thread:{post_id}", "event": "typing",
                                     "data": {}}) for _ in range(11)]
        await ws.close()
    assert all(r["ok"] for r in replies[:10])
    assert replies[10]["error"]["code"] == "rate_limited"
    assert 0 < replies[10]["error"]["details"]["retry_after"] <= 10  # one token's refill


# --- publishes ----------------------------------------------------------------------------


async def test_typing_reaches_other_subscribers_as_an_ephemeral_event(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection
) -> None:
    typist, reader = await signup(client), await signup(client)
    post_id = await insert_post(owner_conn, typist.user_id)
    channel = f"thread:{post_id}"
    watcher = await ProtocolClient.open(hub_url, reader.access_token)
    await watcher.subscribe(channel)
    ws = await ProtocolClient.open(hub_url, typist.access_token)
    reply = await ws.request({"op": "publish", "channel": channel, "event": "typing", "data": {}})
    assert reply["ok"]
    await watcher.until(lambda: bool(watcher.events[channel]))
    events = watcher.events[channel]
    assert events[0]["seq"] is None and events[0]["event"] == "typing"
    assert events[0]["data"] == {"user_id": str(typist.user_id)}
    assert await owner_conn.fetchval("SELECT count(*) FROM realtime.events WHERE channel = $1", channel) == 0
    await ws.close()
    await watcher.close()


async def test_publishes_outside_the_table_or_with_bad_data_are_refused(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection
) -> None:
    account, host = await signup(client), await signup(client)
    post_id = await insert_post(owner_conn, account.user_id)
    session_id = await _session(owner_conn, host)
    await _attend(owner_conn, session_id, account, "registered")
    ws = await ProtocolClient.open(hub_url, account.access_token)
    cases = [
        ({"channel": f"thread:{post_id}", "event": "comment.created", "data": {}}, "event_not_allowed"),
        ({"channel": "feed", "event": "typing", "data": {}}, "event_not_allowed"),
        ({"channel": f"thread:{post_id}", "event": "typing", "data": {"x": 1}}, "bad_frame"),
        ({"channel": f"session:{session_id}", "event": "reaction", "data": {"emoji": "💩"}}, "bad_frame"),
        ({"channel": f"session:{session_id}", "event": "announcement", "data": {"text": "hi"}}, "forbidden"),
        ({"channel": f"session:{session_id}", "event": "hand.lower", "data": {"user_id": str(host.user_id)}},
         "forbidden"),
        ({"channel": "session:nope", "event": "reaction", "data": {"emoji": "👍"}}, "unknown_channel"),
    ]
    for frame, code in cases:
        reply = await ws.request({"op": "publish", **frame})
        assert reply["error"]["code"] == code, (frame, reply)
    reaction = await ws.request({"op": "publish", "channel": f"session:{session_id}", "event": "reaction",
                                 "data": {"emoji": "👍"}})
    assert reaction["ok"]
    await ws.close()


async def test_unsubscribe_stops_delivery_and_twice_is_not_subscribed(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    account = await signup(client)
    channel = f"user:{account.user_id}"
    ws = await ProtocolClient.open(hub_url, account.access_token)
    await ws.subscribe(channel)
    await append_events(app_db, channel, 1)
    await ws.wait_events(channel, 1)
    assert (await ws.request({"op": "unsubscribe", "channel": channel}))["ok"]
    assert (await ws.request({"op": "unsubscribe", "channel": channel}))["error"]["code"] == "not_subscribed"
    await append_events(app_db, channel, 1)
    # An event on a channel still held, committed after: delivered in commit order, so one on the channel
    # left would have come before it.
    held = f"thread:{await insert_post(owner_conn, account.user_id)}"
    assert (await ws.subscribe(held))["ok"]
    await append_events(app_db, held, 1)
    await ws.wait_events(held, 1)
    assert len(ws.events[channel]) == 1
    await ws.close()
