"""The live room of a workshop over /ws (one instance): stored publishes, question votes, who may do what,
attendance, resume, and the host's chat-line removal over REST."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from hub.client import HubClient
from hub.realtime.instance import Realtime
from tests.conftest import HubStarter
from tests.helpers.api import Account, signup
from tests.helpers.eventually import eventually
from tests.helpers.ws import ProtocolClient, assert_continuous, next_durable, ws_url
from tests.integration.test_sessions import create_session, host_account, mint_users

Frame = dict[str, Any]


async def live_room(owner_conn: asyncpg.Connection, host: Account, members: int,
                    status: str = "live") -> tuple[str, list[tuple[UUID, str]]]:
    """A session in `status` hosted by `host` with `members` registered participants: (channel, [(id, token)])."""
    session_id = await owner_conn.fetchval(
        "INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration, status) "
        "VALUES ('live room test', $1, now(), interval '1 hour', $2) RETURNING id::text", host.user_id, status)
    users = await mint_users(owner_conn, members)
    await owner_conn.executemany(
        "INSERT INTO public.session_participants (session_id, user_id) VALUES ($1, $2)",
        [(UUID(session_id), user_id) for user_id, _ in users])
    return f"session:{session_id}", [(user_id, headers["Authorization"][7:]) for user_id, headers in users]


async def joined(url: str, token: str, channel: str, since: int | None = None) -> tuple[ProtocolClient, Frame]:
    ws = await ProtocolClient.open(url, token)
    reply = await ws.subscribe(channel, since)
    assert reply["ok"], reply
    return ws, reply["result"]


async def publish(ws: ProtocolClient, channel: str, event: str, data: dict[str, Any]) -> Frame:
    return await ws.request({"op": "publish", "channel": channel, "event": event, "data": data})


def error_code(reply: Frame) -> str | None:
    return None if reply["ok"] else str(reply["error"]["code"])


async def participant_row(owner_conn: asyncpg.Connection, channel: str, user_id: UUID) -> asyncpg.Record:
    row: asyncpg.Record = await owner_conn.fetchrow(
        "SELECT attendance_status, joined_at, left_at FROM public.session_participants "
        "WHERE session_id = $1 AND user_id = $2", UUID(channel.split(":")[1]), user_id)
    return row


async def close_all(*clients: ProtocolClient) -> None:
    await asyncio.gather(*(c.close() for c in clients))


# ---------------------------------------------------------------------------------------------- publishes


async def test_chat_questions_and_announcements_are_stored_and_reach_everyone_in_seq_order(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(a_id, a_token), (_b_id, b_token)] = await live_room(owner_conn, host, 2)
    async with (HubClient(ws_url(hub_url), token=host.access_token) as hosting,
                HubClient(ws_url(hub_url), token=a_token) as a_hub,
                HubClient(ws_url(hub_url), token=b_token) as b_hub):
        rooms = [await hub.subscribe(channel) for hub in (hosting, a_hub, b_hub)]
        head = rooms[0].last_seq
        assert head is not None
        sent = [
            (a_hub, "chat.message", {"text": "<b>hello</b> & welcome"}),
            (b_hub, "question.ask", {"text": "What is a pip?"}),
            (hosting, "announcement", {"text": "Break in 5"}),
            (a_hub, "chat.message", {"text": "thanks"}),
        ]
        results = [await hub.publish(channel, event, data) for hub, event, data in sent]
        assert [r["seq"] for r in results] == list(range(head + 1, head + 5))

        views = [r["message"] for r in results]
        for room in rooms:
            got = await next_durable(room, 4)
            assert [e.seq for e in got] == list(range(head + 1, head + 5))
            assert [e.event for e in got] == ["chat.message", "question.asked", "announcement", "chat.message"]
            assert [e.data for e in got] == views
    assert views[0]["content"] == "<b>hello</b> & welcome", "text is stored as given"
    assert (views[0]["kind"], views[0]["author_id"]) == ("chat", str(a_id))
    assert (views[1]["kind"], views[2]["kind"]) == ("question", "announcement")

    history = await client.get(f"/api/sessions/{channel[8:]}/messages", headers=host.headers)
    assert history.json()["items"] == views, "events carry the REST view, in the same order"
    logged = await owner_conn.fetch("SELECT event, data FROM realtime.events WHERE channel = $1 ORDER BY seq",
                                    channel)
    assert [(r["event"], r["data"]["id"]) for r in logged] == [(e.event, e.data["id"]) for e in got]


async def test_question_votes_are_one_per_user_and_coalesced_counts_end_equal_to_the_stored_votes(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, members = await live_room(owner_conn, host, 8)
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    voters = [(await joined(hub_url, token, channel))[0] for _, token in members]
    asked = await publish(voters[0], channel, "question.ask", {"text": "Stop loss placement?"})
    question_id = asked["result"]["message"]["id"]

    replies = await asyncio.gather(*(publish(ws, channel, "question.vote", {"question_id": question_id})
                                     for ws in voters))
    assert all(r["ok"] and r["result"]["voted"] for r in replies), replies
    again = await publish(voters[3], channel, "question.vote", {"question_id": question_id})
    assert again["ok"] and again["result"] == {"question_id": question_id, "upvotes": 8, "voted": False}

    stored = await owner_conn.fetchval("SELECT count(*) FROM public.session_message_votes WHERE message_id = $1",
                                       UUID(question_id))
    counter = await owner_conn.fetchval("SELECT upvotes_count FROM public.session_messages WHERE id = $1",
                                        UUID(question_id))
    assert stored == counter == 8

    def last_count(ws: ProtocolClient) -> int | None:
        counts = [e["data"]["upvotes"] for e in ws.events[channel] if e["event"] == "question.votes"]
        return counts[-1] if counts else None

    for ws in (host_ws, *voters):
        await ws.until(lambda ws=ws: last_count(ws) == 8)
        await ws.settle(0.3)
        frames = [e for e in ws.events[channel] if e["event"] == "question.votes"]
        assert frames[-1]["data"] == {"question_id": question_id, "upvotes": 8} and frames[-1]["seq"] is None
        assert len(frames) < 8, "votes are coalesced, not one frame per vote"
    missing = await publish(voters[0], channel, "question.vote", {"question_id": str(uuid.uuid4())})
    assert error_code(missing) == "not_found"
    await close_all(host_ws, *voters)


async def test_only_the_host_answers_questions_and_posts_announcements(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(_, token)] = await live_room(owner_conn, host, 1)
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    ws, _ = await joined(hub_url, token, channel)
    question = (await publish(ws, channel, "question.ask", {"text": "Why?"}))["result"]["message"]

    assert error_code(await publish(ws, channel, "question.answer", {"question_id": question["id"]})) == "forbidden"
    assert error_code(await publish(ws, channel, "announcement", {"text": "I am the host now"})) == "forbidden"

    answered = await publish(host_ws, channel, "question.answer", {"question_id": question["id"]})
    assert answered["ok"] and answered["result"]["message"] == {**question, "is_answered": True}
    got = await ws.wait_events(channel, 2)
    assert (got[-1]["event"], got[-1]["data"]) == ("question.answered", {**question, "is_answered": True})
    twice = await publish(host_ws, channel, "question.answer", {"question_id": question["id"]})
    assert twice["ok"] and twice["result"]["seq"] is None, "answering again sends nothing new"
    assert await owner_conn.fetchval("SELECT is_answered FROM public.session_messages WHERE id = $1",
                                     UUID(question["id"]))
    await close_all(host_ws, ws)


async def test_publishing_to_a_session_that_is_not_live_is_session_not_live(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(_, token)] = await live_room(owner_conn, host, 1)
    ws, _ = await joined(hub_url, token, channel)
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    question = (await publish(ws, channel, "question.ask", {"text": "Before the end?"}))["result"]["message"]
    await owner_conn.execute("UPDATE public.live_sessions SET status = 'ended' WHERE id = $1", UUID(channel[8:]))
    before = await owner_conn.fetchval("SELECT count(*) FROM public.session_messages WHERE session_id = $1",
                                       UUID(channel[8:]))
    for sender, event, data in [
        (ws, "chat.message", {"text": "late"}),
        (ws, "question.ask", {"text": "late?"}),
        (ws, "question.vote", {"question_id": question["id"]}),
        (host_ws, "question.answer", {"question_id": question["id"]}),
        (host_ws, "announcement", {"text": "late"}),
    ]:
        assert error_code(await publish(sender, channel, event, data)) == "session_not_live", event
    after = await owner_conn.fetchval("SELECT count(*) FROM public.session_messages WHERE session_id = $1",
                                      UUID(channel[8:]))
    assert after == before
    scheduled, [(_, early)] = await live_room(owner_conn, host, 1, status="scheduled")
    early_ws, _ = await joined(hub_url, early, scheduled)
    assert error_code(await publish(early_ws, scheduled, "chat.message", {"text": "hi"})) == "session_not_live"
    await close_all(ws, host_ws, early_ws)


async def test_non_participants_can_neither_subscribe_nor_publish(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, _ = await live_room(owner_conn, host, 1)
    outsider = await signup(client)
    await owner_conn.execute(
        "INSERT INTO public.session_participants (session_id, user_id, attendance_status) "
        "VALUES ($1, $2, 'waitlisted')",
        UUID(channel[8:]), outsider.user_id)
    ws = await ProtocolClient.open(hub_url, outsider.access_token)
    assert error_code(await ws.subscribe(channel)) == "forbidden"
    for event, data in [("chat.message", {"text": "let me in"}), ("question.ask", {"text": "?"}),
                        ("hand.raise", {})]:
        assert error_code(await publish(ws, channel, event, data)) == "forbidden", event
    assert await owner_conn.fetchval("SELECT count(*) FROM public.session_messages WHERE session_id = $1",
                                     UUID(channel[8:])) == 0
    await ws.close()


async def test_chat_over_the_rate_limit_is_rate_limited_with_retry_after(
        start_hub: Any, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(_, token)] = await live_room(owner_conn, host, 1)
    # The suite's hub scales every budget out of the way; this one keeps them, and refills the publish bucket
    # (a burst of 10) so slowly that a busy machine, taking longer per publish, does not refill it mid-test.
    with start_hub(rate_limit_scale=1, ws_publish_rate=0.1) as url:
        ws, _ = await joined(url, token, channel)
        replies = [await publish(ws, channel, "chat.message", {"text": f"spam {i}"}) for i in range(15)]
        await ws.close()
    limited = [r for r in replies if error_code(r) == "rate_limited"]
    assert limited and limited[0]["error"]["details"]["retry_after"] > 0
    stored = await owner_conn.fetchval("SELECT count(*) FROM public.session_messages WHERE session_id = $1",
                                       UUID(channel[8:]))
    assert stored == len(replies) - len(limited)


# ---------------------------------------------------------------------------------------------- attendance


async def test_first_join_marks_attended_unlocks_the_achievement_and_the_last_tab_leaving_sets_left_at(
        start_hub: HubStarter, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    tag = secrets.token_hex(4)
    achievement = await owner_conn.fetchval(
        "INSERT INTO public.achievements (code, title, description, xp_reward, requirements) "
        "VALUES ($1, 'Live learner', 'd', 7, '{\"sessions_attended\": 1}'::jsonb) RETURNING id", f"{tag}-live")
    try:
        # A hub of its own: its connections are this test's, so their count is a signal (below).
        app = start_hub.app()
        with start_hub.serve(app) as hub_url:
            realtime = app.state.services.started.get(Realtime)
            host = await host_account(client, owner_conn)
            channel, [(user_id, token)] = await live_room(owner_conn, host, 1)
            row = await participant_row(owner_conn, channel, user_id)
            assert (row["attendance_status"], row["joined_at"]) == ("registered", None)

            tab1, _ = await joined(hub_url, token, channel)
            row = await participant_row(owner_conn, channel, user_id)
            assert row["attendance_status"] == "attended" and row["joined_at"] is not None
            first_join = row["joined_at"]
            unlocked = await owner_conn.fetch("SELECT achievement_id FROM public.user_achievements WHERE user_id = $1",
                                              user_id)
            assert [r["achievement_id"] for r in unlocked] == [achievement]
            assert await owner_conn.fetchval("SELECT total_xp FROM public.user_profiles WHERE id = $1", user_id) == 7
            events = await owner_conn.fetch("SELECT event FROM realtime.events WHERE channel = $1 ORDER BY seq",
                                            f"user:{user_id}")
            assert [e["event"] for e in events] == ["achievement.unlocked", "notification.created", "xp.awarded"]

            tab2, reply = await joined(hub_url, token, channel)
            assert list(reply["presence"][str(user_id)]["metas"]) and len(reply["presence"][str(user_id)]["metas"]) == 2
            await tab1.close()
            # Tab 1's handler leaves the hub's peers after its leave hook decided about left_at (its presence
            # leave is no signal: it is sent before that).
            await eventually(lambda: len(list(realtime.peers)) == 1, what="tab 1's connection to end")
            row = await participant_row(owner_conn, channel, user_id)
            assert row["left_at"] is None, "a second tab is still in the room"
            await tab2.close()

            async def left() -> bool:
                return (await participant_row(owner_conn, channel, user_id))["left_at"] is not None
            await eventually(left)

            back, _ = await joined(hub_url, token, channel)
            row = await participant_row(owner_conn, channel, user_id)
            assert (row["joined_at"], row["left_at"], row["attendance_status"]) == (first_join, None, "attended")
            assert await owner_conn.fetchval("SELECT count(*) FROM public.user_achievements WHERE user_id = $1",
                                             user_id) == 1
            await back.close()
    finally:
        await owner_conn.execute("UPDATE public.achievements SET is_active = false WHERE id = $1", achievement)


async def test_those_in_the_room_when_it_goes_live_attend_and_the_rest_are_missed_at_the_end(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host)
    channel = f"session:{session['id']}"
    users = await mint_users(owner_conn, 3)
    for _, headers in users:
        assert (await client.post(f"/api/sessions/{session['id']}/registration", headers=headers)).status_code == 201
    (early_id, early), (late_id, late), (absent_id, _) = [(u, h["Authorization"][7:]) for u, h in users]
    early_ws, _ = await joined(hub_url, early, channel)
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    assert (await participant_row(owner_conn, channel, early_id))["joined_at"] is None, "not live yet"

    assert (await client.post(f"/api/sessions/{session['id']}/start", headers=host.headers)).status_code == 200
    for ws in (early_ws, host_ws):
        updated = [e for e in await ws.wait_events(channel, 1) if e["event"] == "session.updated"]
        assert updated[-1]["data"]["status"] == "live"

    async def early_attended() -> bool:
        return (await participant_row(owner_conn, channel, early_id))["attendance_status"] == "attended"
    await eventually(early_attended)
    late_ws, _ = await joined(hub_url, late, channel)
    assert (await participant_row(owner_conn, channel, late_id))["attendance_status"] == "attended"
    host_row = await owner_conn.fetchval(
        "SELECT count(*) FROM public.session_participants WHERE session_id = $1 AND user_id = $2",
        UUID(session["id"]), host.user_id)
    assert host_row == 0, "the host is not a participant"

    assert (await client.post(f"/api/sessions/{session['id']}/end", headers=host.headers)).status_code == 200
    for ws in (early_ws, late_ws, host_ws):
        await ws.until(lambda ws=ws: [e["data"]["status"] for e in ws.events[channel]
                                      if e["event"] == "session.updated"][-1:] == ["ended"])
    statuses = {r["user_id"]: r["attendance_status"] for r in await owner_conn.fetch(
        "SELECT user_id, attendance_status FROM public.session_participants WHERE session_id = $1",
        UUID(session["id"]))}
    assert statuses == {early_id: "attended", late_id: "attended", absent_id: "missed"}
    await close_all(early_ws, late_ws, host_ws)


async def test_a_participant_who_reconnects_with_since_misses_no_chat_line_or_question(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(drop_id, dropper), (_, talker)] = await live_room(owner_conn, host, 2)
    drop_ws, _ = await joined(hub_url, dropper, channel)
    talk_ws, _ = await joined(hub_url, talker, channel)
    first = await publish(talk_ws, channel, "chat.message", {"text": "one"})
    await drop_ws.wait_events(channel, 1)
    last_seen = drop_ws.durable(channel)[-1]["seq"]
    await drop_ws.close()
    missed = [await publish(talk_ws, channel, event, {"text": text})
              for event, text in [("chat.message", "two"), ("question.ask", "three?"), ("chat.message", "four")]]
    back, reply = await joined(hub_url, dropper, channel, since=last_seen)
    got = await back.wait_events(channel, 3)
    assert_continuous(got, last_seen, reply["seq"])
    assert [e["data"]["id"] for e in got] == [m["result"]["message"]["id"] for m in missed]
    assert first["result"]["seq"] == last_seen
    row = await participant_row(owner_conn, channel, drop_id)
    assert (row["attendance_status"], row["left_at"]) == ("attended", None)
    await close_all(back, talk_ws)


# ---------------------------------------------------------------------------------------------- REST removal


async def test_the_host_removes_a_chat_line_and_the_room_gets_chat_deleted(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(_, token)] = await live_room(owner_conn, host, 1)
    sid = channel[8:]
    ws, _ = await joined(hub_url, token, channel)
    line = (await publish(ws, channel, "chat.message", {"text": "rude words"}))["result"]["message"]
    question = (await publish(ws, channel, "question.ask", {"text": "a question"}))["result"]["message"]
    participant = {"Authorization": f"Bearer {token}"}

    refused = await client.delete(f"/api/sessions/{sid}/messages/{line['id']}", headers=participant)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    not_chat = await client.delete(f"/api/sessions/{sid}/messages/{question['id']}", headers=host.headers)
    assert (not_chat.status_code, not_chat.json()["code"]) == (404, "not_found")
    assert (await client.delete(f"/api/sessions/{sid}/messages/{line['id']}", headers=host.headers)).status_code == 204
    got = await ws.wait_events(channel, 3)
    assert (got[-1]["event"], got[-1]["data"]) == ("chat.deleted", {"id": line["id"]})
    assert (await client.delete(f"/api/sessions/{sid}/messages/{line['id']}", headers=host.headers)).status_code == 204
    deletions = await owner_conn.fetchval(
        "SELECT count(*) FROM realtime.events WHERE channel = $1 AND event = 'chat.deleted'", channel)
    assert deletions == 1, "removing it again changes nothing"
    history = (await client.get(f"/api/sessions/{sid}/messages", headers=participant)).json()["items"]
    assert (history[0]["id"], history[0]["content"], history[0]["is_deleted"]) == (line["id"], None, True)
    # the text leaves the row participants can SELECT and is kept server-only, with who removed it
    assert await owner_conn.fetchval("SELECT content FROM public.session_messages WHERE id = $1",
                                     uuid.UUID(line["id"])) is None
    kept = await owner_conn.fetchrow(
        "SELECT content, deleted_by FROM private.deleted_content WHERE target_type = 'session_message' "
        "AND target_id = $1", uuid.UUID(line["id"]))
    assert (kept["content"], kept["deleted_by"]) == ("rude words", host.user_id)
    other_session, _ = await live_room(owner_conn, host, 0)
    wrong = await client.delete(f"/api/sessions/{other_session[8:]}/messages/{line['id']}", headers=host.headers)
    assert wrong.status_code == 404
    await ws.close()


async def test_a_nul_character_in_chat_is_a_bad_frame_and_nothing_is_stored(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(_, token)] = await live_room(owner_conn, host, 1)
    ws, _ = await joined(hub_url, token, channel)
    assert error_code(await publish(ws, channel, "chat.message", {"text": "a\u0000b"})) == "bad_frame"
    assert await owner_conn.fetchval("SELECT count(*) FROM public.session_messages WHERE session_id = $1",
                                     UUID(channel.partition(":")[2])) == 0
    await close_all(ws)


async def test_a_participant_who_cancels_loses_the_room_at_once(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    # Seat holders may wait in the room before it starts; once it is live their subscription is an
    # attendance, which cannot be cancelled (409 `already_attended`, tests/integration/test_registrations.py).
    channel, [(_, leaving), (_, staying)] = await live_room(owner_conn, host, 2, status="scheduled")
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    leaver, _ = await joined(hub_url, leaving, channel)
    stayer, _ = await joined(hub_url, staying, channel)
    session_id = channel.partition(":")[2]
    cancel = await client.delete(f"/api/sessions/{session_id}/registration",
                                 headers={"Authorization": f"Bearer {leaving}"})
    assert cancel.status_code == 204, cancel.text
    await leaver.until(lambda: any(e["error"]["code"] == "forbidden" for e in leaver.errors))
    assert leaver.errors[-1]["error"]["details"] == {"channel": channel}
    await owner_conn.execute("UPDATE public.live_sessions SET status = 'live' WHERE id = $1", UUID(session_id))

    await publish(host_ws, channel, "chat.message", {"text": "after the cancellation"})
    await stayer.until(lambda: any(e["event"] == "chat.message" for e in stayer.events[channel]))
    await leaver.settle()
    assert not [e for e in leaver.events[channel] if e["event"] == "chat.message"]
    refused = await publish(leaver, channel, "chat.message", {"text": "still here?"})
    assert error_code(refused) in ("not_subscribed", "forbidden")
    await close_all(host_ws, leaver, stayer)


async def test_a_participant_who_cancels_and_registers_again_can_resubscribe_on_the_same_socket(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, _ = await live_room(owner_conn, host, 0, status="scheduled")
    registrations = f"/api/sessions/{channel.partition(':')[2]}/registration"
    member, newcomer = await signup(client), await signup(client)
    assert (await client.post(registrations, headers=member.headers)).status_code == 201
    ws, _ = await joined(hub_url, member.access_token, channel)

    assert (await client.delete(registrations, headers=member.headers)).status_code == 204
    await ws.until(lambda: any(e["error"]["code"] == "forbidden" for e in ws.errors))
    assert ws.errors[-1]["error"]["details"] == {"channel": channel}

    assert (await client.post(registrations, headers=member.headers)).status_code == 201
    again = await ws.subscribe(channel)
    assert again["ok"], again
    assert (await client.post(registrations, headers=newcomer.headers)).status_code == 201
    await ws.until(lambda: any(e["event"] == "participant.registered" and e["data"]["user_id"] == str(newcomer.user_id)
                               for e in ws.events[channel]))
    await close_all(ws)


# ---------------------------------------------------------------------------------------------- presence


def presence_view(reply: Frame) -> dict[str, set[str]]:
    """user id → conn ids, from a subscribe reply's `presence`."""
    return {user: {m["conn_id"] for m in entry["metas"]} for user, entry in reply["presence"].items()}


def apply_presence(view: dict[str, set[str]], ws: ProtocolClient, channel: str) -> dict[str, set[str]]:
    """The view after every `presence` diff `ws` received on `channel` (joins merge, leaves remove)."""
    out = {user: set(conns) for user, conns in view.items()}
    for diff in ws.presence[channel]:
        for user, entry in diff["joins"].items():
            out.setdefault(user, set()).update(m["conn_id"] for m in entry["metas"])
        for user, entry in diff["leaves"].items():
            out.get(user, set()).difference_update(m["conn_id"] for m in entry["metas"])
    return {user: conns for user, conns in out.items() if conns}


async def test_a_tab_closing_in_the_window_its_other_tab_joined_in_reaches_that_tab_and_the_host(
        start_hub: Any, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(user_id, token)] = await live_room(owner_conn, host, 1)
    # A long window, so tab 1's join, tab 2's subscribe and tab 1's close fall in one window however busy
    # the machine is: tab 2's snapshot is taken mid-window and shows tab 1, whose join and leave cancel
    # out in the window's own diff.
    with start_hub(presence_batch_ms=1500) as url:
        host_ws, host_reply = await joined(url, host.access_token, channel)
        tab1, tab1_reply = await joined(url, token, channel)
        tab2, tab2_reply = await joined(url, token, channel)
        await tab1.close()
        [tab1_conn] = presence_view(tab1_reply)[str(user_id)]
        [tab2_conn] = presence_view(tab2_reply)[str(user_id)] - {tab1_conn}
        [host_conn] = presence_view(host_reply)[str(host.user_id)]
        expected = {str(host.user_id): {host_conn}, str(user_id): {tab2_conn}}

        for ws, reply in ((host_ws, host_reply), (tab2, tab2_reply)):
            await ws.until(lambda ws=ws, reply=reply: apply_presence(presence_view(reply), ws, channel) == expected)
        await close_all(host_ws, tab2)


async def test_a_subscribe_racing_its_own_cancellation_never_ends_subscribed(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """Each participant subscribes and cancels at the same moment. Whatever the interleaving, the client ends
    told it is out: the subscribe is refused, or its ok reply is followed by `forbidden` naming the channel,
    and no later event of the room reaches it."""
    host = await host_account(client, owner_conn)
    channel, members = await live_room(owner_conn, host, 12, status="scheduled")
    registration = f"/api/sessions/{channel.partition(':')[2]}/registration"
    host_ws, _ = await joined(hub_url, host.access_token, channel)
    sockets = await asyncio.gather(*(ProtocolClient.open(hub_url, token) for _, token in members))

    async def race(ws: ProtocolClient, token: str) -> Frame:
        subscribing = asyncio.create_task(ws.subscribe(channel))
        cancelled = await client.delete(registration, headers={"Authorization": f"Bearer {token}"})
        assert cancelled.status_code == 204, cancelled.text
        return await subscribing

    replies = await asyncio.gather(*(race(ws, token) for ws, (_, token) in zip(sockets, members, strict=True)))
    sentinel = await signup(client)
    assert (await client.post(registration, headers=sentinel.headers)).status_code == 201
    await host_ws.until(lambda: any(e["event"] == "participant.registered" for e in host_ws.events[channel]))
    for ws, reply in zip(sockets, replies, strict=True):
        if reply["ok"]:
            await ws.until(lambda ws=ws: any(e["error"]["details"] == {"channel": channel} for e in ws.errors))
        await ws.settle(0.2)
        assert not [e for e in ws.events[channel] if e["event"] == "participant.registered"]
        if reply["ok"]:
            position = {id(frame): at for at, frame in enumerate(ws.frames)}
            notice = next(e for e in ws.errors if e["error"]["details"] == {"channel": channel})
            assert position[id(reply)] < position[id(notice)], "the refusal came before the ok reply"
        else:
            assert reply["error"]["code"] == "forbidden"
    await close_all(host_ws, *sockets)
