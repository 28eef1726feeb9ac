"""Room moderation on `session:<id>` (one instance): mutes, kicks, slow mode and the chat lock, published by
the host over /ws, answered in the reply, recorded as durable events, enforced on participants' lines, and
readable on rejoin (`GET /api/sessions/{id}/moderation`) and on resume."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from tests.conftest import HubStarter
from tests.helpers.api import admin, signup
from tests.helpers.eventually import eventually
from tests.helpers.ws import ProtocolClient
from tests.integration.test_live_room import close_all, error_code, joined, live_room, publish
from tests.integration.test_sessions import host_account

Frame = dict[str, Any]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def events_of(ws: ProtocolClient, channel: str, *names: str) -> list[Frame]:
    return [e for e in ws.durable(channel) if e["event"] in names]


async def burst(ws: ProtocolClient, channel: str, texts: list[str]) -> list[Frame]:
    """Sends a chat line per text without waiting in between, then waits for every reply."""
    ids = []
    for text in texts:
        ids.append(ws.new_id())
        await ws.send({"op": "publish", "id": ids[-1], "channel": channel, "event": "chat.message",
                       "data": {"text": text}})
    await ws.until(lambda: all(i in ws.replies for i in ids))
    return [ws.replies[i] for i in ids]


async def moderation(client: httpx.AsyncClient, channel: str, token: str) -> httpx.Response:
    return await client.get(f"/api/sessions/{channel.partition(':')[2]}/moderation",
                            headers={"Authorization": f"Bearer {token}"})


async def test_each_moderation_publish_is_answered_and_recorded_as_a_durable_event_the_room_sees(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(a_id, a_token), (b_id, b_token)] = await live_room(owner_conn, host, 2)
    host_ws, start = await joined(hub_url, host.access_token, channel)
    a_ws, _ = await joined(hub_url, a_token, channel)
    b_ws, _ = await joined(hub_url, b_token, channel)

    sent = [
        ("participant.mute", {"user_id": str(a_id), "minutes": 5}),
        ("participant.unmute", {"user_id": str(a_id)}),
        ("room.slow_mode", {"seconds": 30}),
        ("room.lock_chat", {"locked": True}),
        ("room.lock_chat", {"locked": False}),
        ("room.slow_mode", {"seconds": 0}),
        ("participant.kick", {"user_id": str(b_id)}),
    ]
    replies = [await publish(host_ws, channel, event, data) for event, data in sent]
    assert all(r["ok"] for r in replies), replies
    results = [r["result"] for r in replies]
    head = start["seq"]
    assert [r["seq"] for r in results] == list(range(head + 1, head + 8))
    assert [{k: v for k, v in r.items() if k != "seq"} for r in results] == [
        {"user_id": str(a_id), "until": results[0]["until"]}, {"user_id": str(a_id)}, {"seconds": 30},
        {"locked": True}, {"locked": False}, {"seconds": 0}, {"user_id": str(b_id)}]

    names = ["participant.muted", "participant.unmuted", "room.slow_mode", "room.chat_locked", "room.chat_locked",
             "room.slow_mode", "participant.kicked"]
    for ws in (host_ws, a_ws):
        await ws.until(lambda ws=ws: len(events_of(ws, channel, *names)) == 7)
        got = events_of(ws, channel, *names)
        assert [e["event"] for e in got] == names
        assert [e["data"] for e in got] == [{k: v for k, v in r.items() if k != "seq"} for r in results]
        assert [e["seq"] for e in got] == [r["seq"] for r in results]
        assert 295 < (at(got[0]["data"]["until"]) - at(got[0]["ts"])).total_seconds() <= 300, "muted for 5 minutes"
    logged = await owner_conn.fetch("SELECT event FROM realtime.events WHERE channel = $1 AND seq > $2 ORDER BY seq",
                                    channel, head)
    assert [r["event"] for r in logged] == names

    # Repeats change nothing, so they add no event: the reply says so with `seq` null.
    repeats = [("participant.unmute", {"user_id": str(a_id)}), ("room.slow_mode", {"seconds": 0}),
               ("room.lock_chat", {"locked": False}), ("participant.kick", {"user_id": str(b_id)})]
    for event, data in repeats:
        again = await publish(host_ws, channel, event, data)
        assert again["ok"] and again["result"]["seq"] is None, again
    assert await owner_conn.fetchval("SELECT seq FROM realtime.channel_heads WHERE channel = $1",
                                     channel) == head + 7
    await close_all(host_ws, a_ws, b_ws)


async def test_a_muted_participant_cannot_chat_or_ask_until_unmuted_and_the_refusal_names_the_end(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(a_id, a_token), (_, b_token)] = await live_room(owner_conn, host, 2)
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    a_ws, _ = await joined(hub_url, a_token, channel)
    b_ws, _ = await joined(hub_url, b_token, channel)
    muted = await publish(host_ws, channel, "participant.mute", {"user_id": str(a_id), "minutes": 10})
    until = muted["result"]["until"]

    for event in ("chat.message", "question.ask"):
        refused = await publish(a_ws, channel, event, {"text": "can you hear me?"})
        assert error_code(refused) == "forbidden", refused
        assert refused["error"]["details"] == {"channel": channel, "until": until}
    assert (await publish(b_ws, channel, "chat.message", {"text": "others still chat"}))["ok"]
    assert (await publish(host_ws, channel, "chat.message", {"text": "so does the host"}))["ok"]
    stored = await owner_conn.fetch("SELECT author_id FROM public.session_messages WHERE session_id = $1",
                                    UUID(channel[8:]))
    assert a_id not in {r["author_id"] for r in stored}

    assert (await publish(host_ws, channel, "participant.unmute", {"user_id": str(a_id)}))["ok"]
    for event in ("chat.message", "question.ask"):
        assert (await publish(a_ws, channel, event, {"text": "back"}))["ok"]
    await close_all(host_ws, a_ws, b_ws)


async def test_slow_mode_spaces_each_participants_chat_lines_and_exempts_the_host(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(_, a_token), (_, b_token)] = await live_room(owner_conn, host, 2)
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    a_ws, _ = await joined(hub_url, a_token, channel)
    b_ws, _ = await joined(hub_url, b_token, channel)
    assert (await publish(host_ws, channel, "room.slow_mode", {"seconds": 60}))["ok"]

    assert (await publish(a_ws, channel, "chat.message", {"text": "first"}))["ok"]
    second = await publish(a_ws, channel, "chat.message", {"text": "second"})
    assert error_code(second) == "rate_limited", second
    assert 55 < second["error"]["details"]["retry_after"] <= 60
    assert (await publish(a_ws, channel, "question.ask", {"text": "questions are not chat"}))["ok"]
    assert (await publish(b_ws, channel, "chat.message", {"text": "each participant has their own spacing"}))["ok"]
    for text in ("host", "is", "exempt"):
        assert (await publish(host_ws, channel, "chat.message", {"text": text}))["ok"]

    # A short spacing passes: a line is refused right after an accepted one, and accepted once it has gone by.
    assert (await publish(host_ws, channel, "room.slow_mode", {"seconds": 2}))["ok"]

    async def accepted() -> bool:
        return bool((await publish(b_ws, channel, "chat.message", {"text": "spaced"}))["ok"])

    await eventually(accepted, within=10, every=0.2)  # b's line above may be under 2 s old
    soon = await publish(b_ws, channel, "chat.message", {"text": "too soon"})
    assert error_code(soon) == "rate_limited" and 0 < soon["error"]["details"]["retry_after"] <= 2, soon
    await eventually(accepted, within=10, every=0.2)
    assert (await publish(host_ws, channel, "room.slow_mode", {"seconds": 0}))["ok"]
    for text in ("slow", "mode", "off"):
        assert (await publish(a_ws, channel, "chat.message", {"text": text}))["ok"]
    await close_all(host_ws, a_ws, b_ws)


async def test_a_locked_chat_refuses_participants_but_not_the_host_until_unlocked(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(_, token)] = await live_room(owner_conn, host, 1)
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    ws, _ = await joined(hub_url, token, channel)
    assert (await publish(host_ws, channel, "room.lock_chat", {"locked": True}))["ok"]

    refused = await publish(ws, channel, "chat.message", {"text": "hello?"})
    assert error_code(refused) == "forbidden"
    assert refused["error"]["details"] == {"channel": channel, "chat_locked": True}
    assert (await publish(ws, channel, "question.ask", {"text": "questions stay open"}))["ok"]
    assert (await publish(host_ws, channel, "chat.message", {"text": "the host still talks"}))["ok"]

    assert (await publish(host_ws, channel, "room.lock_chat", {"locked": False}))["ok"]
    assert (await publish(ws, channel, "chat.message", {"text": "hello again"}))["ok"]
    await close_all(host_ws, ws)


async def test_a_kicked_participant_loses_the_room_their_seat_and_cannot_register_or_subscribe_again(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, _ = await live_room(owner_conn, host, 0)
    session_id = channel.partition(":")[2]
    await owner_conn.execute("UPDATE public.live_sessions SET max_participants = 1 WHERE id = $1", UUID(session_id))
    registrations = f"/api/sessions/{session_id}/registration"
    kicked, waiting = await signup(client), await signup(client)
    assert (await client.post(registrations, headers=kicked.headers)).json()["attendance_status"] == "registered"
    assert (await client.post(registrations, headers=waiting.headers)).json()["attendance_status"] == "waitlisted"
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    kicked_ws, _ = await joined(hub_url, kicked.access_token, channel)
    second_tab, _ = await joined(hub_url, kicked.access_token, channel)

    reply = await publish(host_ws, channel, "participant.kick", {"user_id": str(kicked.user_id)})
    assert reply["ok"] and reply["result"]["user_id"] == str(kicked.user_id), reply
    for ws in (kicked_ws, second_tab):
        await ws.until(lambda ws=ws: any(e["error"]["code"] == "forbidden" for e in ws.errors))
        assert ws.errors[-1]["error"]["details"] == {"channel": channel}
        assert [e["data"] for e in events_of(ws, channel, "participant.kicked")] == [{"user_id": str(kicked.user_id)}]
    await host_ws.until(lambda: bool(events_of(host_ws, channel, "participant.promoted")))
    assert events_of(host_ws, channel, "participant.promoted")[0]["data"]["user_id"] == str(waiting.user_id)
    rows = await owner_conn.fetch("SELECT user_id, attendance_status FROM public.session_participants "
                                  "WHERE session_id = $1", UUID(session_id))
    assert {(r["user_id"], r["attendance_status"]) for r in rows} == {(waiting.user_id, "registered")}

    again = await client.post(registrations, headers=kicked.headers)
    assert again.status_code == 403 and again.json()["code"] == "forbidden", again.text
    refused = await kicked_ws.subscribe(channel)
    assert error_code(refused) == "forbidden"
    line = await publish(second_tab, channel, "chat.message", {"text": "let me back in"})
    assert error_code(line) in ("not_subscribed", "forbidden")
    assert (await moderation(client, channel, kicked.access_token)).status_code == 403
    assert await owner_conn.fetchval("SELECT count(*) FROM public.session_messages WHERE session_id = $1",
                                     UUID(session_id)) == 0
    await close_all(host_ws, kicked_ws, second_tab)


async def test_only_the_host_or_an_admin_moderates_and_payloads_are_bounded(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(_, a_token), (b_id, _)] = await live_room(owner_conn, host, 2)
    a_ws, _ = await joined(hub_url, a_token, channel)
    for event, data in (("participant.mute", {"user_id": str(b_id), "minutes": 5}),
                        ("participant.unmute", {"user_id": str(b_id)}),
                        ("participant.kick", {"user_id": str(b_id)}),
                        ("room.slow_mode", {"seconds": 10}),
                        ("room.lock_chat", {"locked": True})):
        refused = await publish(a_ws, channel, event, data)
        assert error_code(refused) == "forbidden", (event, refused)
    assert await owner_conn.fetchval("SELECT count(*) FROM realtime.events WHERE channel = $1", channel) == 0

    host_ws, _ = await joined(hub_url, host.access_token, channel)
    for event, data, path in (("participant.mute", {"user_id": str(b_id), "minutes": 0}, "$.data.minutes"),
                              ("participant.mute", {"user_id": str(b_id), "minutes": 10_081}, "$.data.minutes"),
                              ("participant.mute", {"user_id": str(b_id), "minutes": True}, "$.data.minutes"),
                              ("participant.kick", {"user_id": "not-a-uuid"}, "$.data.user_id"),
                              ("room.slow_mode", {"seconds": 3601}, "$.data.seconds"),
                              ("room.slow_mode", {"seconds": -1}, "$.data.seconds"),
                              ("room.lock_chat", {"locked": "yes"}, "$.data.locked")):
        bad = await publish(host_ws, channel, event, data)
        assert error_code(bad) == "bad_frame" and bad["error"]["details"]["path"] == path, (event, data, bad)
    host_ws_2, _ = await joined(hub_url, host.access_token, channel)  # the first one spent strikes on bad frames
    host_self = await publish(host_ws_2, channel, "participant.mute", {"user_id": str(host.user_id), "minutes": 5})
    assert error_code(host_self) == "forbidden"
    stranger = await signup(client)
    missing = await publish(host_ws_2, channel, "participant.kick", {"user_id": str(stranger.user_id)})
    assert error_code(missing) == "not_found"
    await close_all(a_ws, host_ws, host_ws_2)


async def test_an_admin_moderates_any_room_and_an_ended_room_is_not_moderated(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(a_id, _)] = await live_room(owner_conn, host, 1)
    boss = await admin(client, owner_conn)
    ws, _ = await joined(hub_url, boss.access_token, channel)
    assert (await publish(ws, channel, "participant.mute", {"user_id": str(a_id), "minutes": 1}))["ok"]
    await owner_conn.execute("UPDATE public.live_sessions SET status = 'ended' WHERE id = $1", UUID(channel[8:]))
    late = await publish(ws, channel, "room.lock_chat", {"locked": True})
    assert error_code(late) == "session_not_live"
    await ws.close()


async def test_the_moderation_state_is_readable_on_rejoin_and_replayed_on_resume(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(a_id, _), (b_id, b_token)] = await live_room(owner_conn, host, 2)
    outsider = await signup(client)
    fresh = await moderation(client, channel, b_token)
    assert fresh.status_code == 200
    assert fresh.json() == {"session_id": channel[8:], "slow_mode_seconds": 0, "chat_locked": False, "muted": []}
    assert (await moderation(client, channel, outsider.access_token)).status_code == 403

    b_ws, start = await joined(hub_url, b_token, channel)
    await b_ws.close()  # b is away while the host moderates
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    muted = await publish(host_ws, channel, "participant.mute", {"user_id": str(a_id), "minutes": 30})
    bystander = await publish(host_ws, channel, "participant.mute", {"user_id": str(b_id), "minutes": 1})
    for event, data in (("room.slow_mode", {"seconds": 20}), ("room.lock_chat", {"locked": True}),
                        ("participant.unmute", {"user_id": str(b_id)})):
        assert (await publish(host_ws, channel, event, data))["ok"]
    assert bystander["ok"]

    state = (await moderation(client, channel, b_token)).json()
    assert state == {"session_id": channel[8:], "slow_mode_seconds": 20, "chat_locked": True,
                     "muted": [{"user_id": str(a_id), "until": muted["result"]["until"]}]}
    assert (await moderation(client, channel, host.access_token)).json() == state

    resumed, _ = await joined(hub_url, b_token, channel, since=start["seq"])
    got = await resumed.wait_events(channel, 5)
    assert [(e["event"], e["data"]) for e in got] == [
        ("participant.muted", {"user_id": str(a_id), "until": muted["result"]["until"]}),
        ("participant.muted", {"user_id": str(b_id), "until": bystander["result"]["until"]}),
        ("room.slow_mode", {"seconds": 20}), ("room.chat_locked", {"locked": True}),
        ("participant.unmuted", {"user_id": str(b_id)})]
    await close_all(host_ws, resumed)


async def until_refused(ws: ProtocolClient, channel: str, most: int = 500) -> list[Frame]:
    """Sends chat lines one after another until one is refused (at most `most`); every reply."""
    replies: list[Frame] = []
    while not replies or replies[-1]["ok"]:
        assert len(replies) < most, "never refused"
        replies.append(await publish(ws, channel, "chat.message", {"text": f"line {len(replies)}"}))
    return replies


async def test_a_line_racing_a_mute_is_stored_before_the_mute_or_refused(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """The senders keep publishing until the mute refuses them, so lines are in flight on both sides of it."""
    host = await host_account(client, owner_conn)
    channel, [(a_id, a_token)] = await live_room(owner_conn, host, 1)
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    senders = [(await joined(hub_url, a_token, channel))[0] for _ in range(3)]

    async def mute_once_lines_flow() -> Frame:
        await eventually(lambda: owner_conn.fetchval(
            "SELECT count(*) >= 3 FROM public.session_messages WHERE session_id = $1", UUID(channel[8:])))
        return await publish(host_ws, channel, "participant.mute", {"user_id": str(a_id), "minutes": 5})

    *lines, muted = await asyncio.gather(*(until_refused(ws, channel) for ws in senders), mute_once_lines_flow())
    replies = [r for batch in lines for r in batch]
    mute_seq = muted["result"]["seq"]
    stored = [r["result"]["seq"] for r in replies if r["ok"]]
    assert stored and all(seq < mute_seq for seq in stored), (stored, mute_seq)
    refused = [r for r in replies if not r["ok"]]
    assert len(refused) == len(senders) and {error_code(r) for r in refused} == {"forbidden"}
    assert await owner_conn.fetchval("SELECT count(*) FROM public.session_messages WHERE session_id = $1",
                                     UUID(channel[8:])) == len(stored)
    await close_all(host_ws, *senders)


async def test_a_muted_participant_cannot_vote_and_a_locked_chat_still_takes_votes(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(a_id, a_token), (_, b_token)] = await live_room(owner_conn, host, 2)
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    a_ws, _ = await joined(hub_url, a_token, channel)
    b_ws, _ = await joined(hub_url, b_token, channel)
    question = (await publish(host_ws, channel, "question.ask", {"text": "which topic next?"}))["result"]["message"]
    vote = {"question_id": question["id"]}
    assert (await publish(host_ws, channel, "participant.mute", {"user_id": str(a_id), "minutes": 10}))["ok"]
    assert (await publish(host_ws, channel, "room.lock_chat", {"locked": True}))["ok"]

    refused = await publish(a_ws, channel, "question.vote", vote)
    assert error_code(refused) == "forbidden" and "until" in refused["error"]["details"], refused
    assert (await publish(b_ws, channel, "question.vote", vote))["result"] == {
        "question_id": question["id"], "upvotes": 1, "voted": True}
    assert (await publish(host_ws, channel, "participant.unmute", {"user_id": str(a_id)}))["ok"]
    assert (await publish(a_ws, channel, "question.vote", vote))["result"]["upvotes"] == 2
    await close_all(host_ws, a_ws, b_ws)


async def test_lines_and_votes_the_room_refuses_spend_none_of_the_senders_budget(
        start_hub: HubStarter, owner_conn: asyncpg.Connection) -> None:
    namespace = start_hub.new_namespace("room-budget")
    with start_hub(rate_limit_scale=1, namespace=namespace, room_messages_per_minute=2, votes_per_minute=1,
                   ws_publish_burst=100) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            host = await host_account(http, owner_conn)
            channel, [(a_id, a_token)] = await live_room(owner_conn, host, 1)
            host_ws, _ = await joined(url, host.access_token, channel)
            a_ws, _ = await joined(url, a_token, channel)
            question = (await publish(host_ws, channel, "question.ask", {"text": "?"}))["result"]["message"]
            assert (await publish(host_ws, channel, "participant.mute", {"user_id": str(a_id), "minutes": 10}))["ok"]
            for event, data in [("chat.message", {"text": "hello?"})] * 4 + [("question.ask", {"text": "q?"})] * 2 \
                    + [("question.vote", {"question_id": question["id"]})] * 3:
                assert error_code(await publish(a_ws, channel, event, data)) == "forbidden"
            assert (await publish(host_ws, channel, "participant.unmute", {"user_id": str(a_id)}))["ok"]

            assert (await publish(a_ws, channel, "question.vote", {"question_id": question["id"]}))["ok"]
            assert [(await publish(a_ws, channel, "chat.message", {"text": f"now {i}"}))["ok"] for i in range(2)] == [
                True, True]
            assert error_code(await publish(a_ws, channel, "chat.message", {"text": "one more"})) == "rate_limited"
            await close_all(host_ws, a_ws)
