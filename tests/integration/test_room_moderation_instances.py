"""Room moderation across two hub processes on one database: the state is PostgreSQL's, checked in the
transaction that stores each line, so what the host sets on one instance holds on the other at once, slow
mode spaces one participant's concurrent lines on both instances together, and a chat lock splits the lines
racing it on both instances into stored-before and refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from hub.settings import Settings
from tests.helpers.api import signup
from tests.helpers.eventually import eventually
from tests.helpers.instances import Instance, start_instance
from tests.helpers.services import DatabaseUnderTest
from tests.integration.test_live_room import close_all, error_code, joined, live_room, publish
from tests.integration.test_room_moderation import burst, events_of, until_refused
from tests.integration.test_sessions import host_account

pytestmark = pytest.mark.slow


@pytest.fixture
async def hubs(test_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path) -> AsyncIterator[list[str]]:
    instances: list[Instance] = list(await asyncio.gather(
        *(start_instance(test_db, base_settings, tmp_path, DB_POOL_MAX="10") for _ in range(2))))
    yield [instance.url for instance in instances]
    for instance in instances:
        await instance.stop()


async def test_slow_mode_accepts_exactly_one_of_many_concurrent_lines_across_two_instances(
        hubs: list[str], client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    one, two = hubs
    host = await host_account(client, owner_conn)
    channel, [(a_id, a_token)] = await live_room(owner_conn, host, 1)
    host_ws, _ = await joined(one, host.access_token, channel)
    assert (await publish(host_ws, channel, "room.slow_mode", {"seconds": 3600}))["ok"]
    tabs = [(await joined(url, a_token, channel))[0] for url in (one, two) for _ in range(4)]

    batches = await asyncio.gather(*(burst(ws, channel, [f"tab {n} line {i}" for i in range(5)])
                                     for n, ws in enumerate(tabs)))
    replies = [reply for batch in batches for reply in batch]
    accepted = [r for r in replies if r["ok"]]
    assert len(accepted) == 1, accepted
    refused = [r for r in replies if not r["ok"]]
    assert {error_code(r) for r in refused} == {"rate_limited"}
    assert all(3590 < r["error"]["details"]["retry_after"] <= 3600 for r in refused)
    assert await owner_conn.fetchval("SELECT count(*) FROM public.session_messages WHERE session_id = $1 "
                                     "AND author_id = $2", UUID(channel[8:]), a_id) == 1
    await close_all(host_ws, *tabs)


async def test_a_mute_and_a_kick_made_on_one_instance_hold_on_the_other_at_once(
        hubs: list[str], client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    one, two = hubs
    host = await host_account(client, owner_conn)
    channel, _ = await live_room(owner_conn, host, 0)
    member = await signup(client)
    registrations = f"/api/sessions/{channel[8:]}/registration"
    assert (await client.post(registrations, headers=member.headers)).status_code == 201
    host_ws, _ = await joined(one, host.access_token, channel)
    member_ws, _ = await joined(two, member.access_token, channel)

    muted = await publish(host_ws, channel, "participant.mute", {"user_id": str(member.user_id), "minutes": 15})
    refused = await publish(member_ws, channel, "chat.message", {"text": "straight after the mute"})
    assert error_code(refused) == "forbidden"
    assert refused["error"]["details"]["until"] == muted["result"]["until"]
    assert (await publish(host_ws, channel, "participant.unmute", {"user_id": str(member.user_id)}))["ok"]
    assert (await publish(member_ws, channel, "chat.message", {"text": "straight after the unmute"}))["ok"]

    assert (await publish(host_ws, channel, "participant.kick", {"user_id": str(member.user_id)}))["ok"]
    await member_ws.until(lambda: any(e["error"]["code"] == "forbidden" for e in member_ws.errors))
    assert member_ws.errors[-1]["error"]["details"] == {"channel": channel}
    assert events_of(member_ws, channel, "participant.kicked")[-1]["data"] == {"user_id": str(member.user_id)}
    async with httpx.AsyncClient(base_url=two) as other:
        again = await other.post(registrations, headers=member.headers)
    assert again.status_code == 403 and again.json()["code"] == "forbidden"
    assert error_code(await member_ws.subscribe(channel)) == "forbidden"
    await close_all(host_ws, member_ws)


async def test_a_participant_reconnecting_to_the_other_instance_replays_the_moderation_and_reads_the_state(
        hubs: list[str], client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    one, two = hubs
    host = await host_account(client, owner_conn)
    channel, [(a_id, a_token)] = await live_room(owner_conn, host, 1)
    away, start = await joined(two, a_token, channel)
    await away.close()
    host_ws, _ = await joined(one, host.access_token, channel)
    muted = await publish(host_ws, channel, "participant.mute", {"user_id": str(a_id), "minutes": 60})
    assert (await publish(host_ws, channel, "room.slow_mode", {"seconds": 15}))["ok"]
    assert (await publish(host_ws, channel, "room.lock_chat", {"locked": True}))["ok"]

    back, _ = await joined(one, a_token, channel, since=start["seq"])
    got = await back.wait_events(channel, 3)
    assert [(e["event"], e["data"]) for e in got] == [
        ("participant.muted", {"user_id": str(a_id), "until": muted["result"]["until"]}),
        ("room.slow_mode", {"seconds": 15}), ("room.chat_locked", {"locked": True})]
    states = []
    for url in hubs:
        async with httpx.AsyncClient(base_url=url) as http:
            response = await http.get(f"/api/sessions/{channel[8:]}/moderation",
                                      headers={"Authorization": f"Bearer {a_token}"})
        states.append(response.json())
    assert states[0] == states[1] == {
        "session_id": channel[8:], "slow_mode_seconds": 15, "chat_locked": True,
        "muted": [{"user_id": str(a_id), "until": muted["result"]["until"]}]}
    assert error_code(await publish(back, channel, "question.ask", {"text": "still muted?"})) == "forbidden"
    await close_all(host_ws, back)


async def test_a_chat_lock_racing_lines_on_both_instances_stores_each_line_before_it_or_refuses_it(
        hubs: list[str], client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """Participants on both instances publish until the lock refuses them, so lines are in flight on both
    sides of it: every stored line precedes the lock in the room's order, every later one is refused."""
    one, two = hubs
    host = await host_account(client, owner_conn)
    channel, members = await live_room(owner_conn, host, 4)
    session_id = UUID(channel[8:])
    host_ws, _ = await joined(one, host.access_token, channel)
    tabs = [(await joined(url, token, channel))[0] for url, (_, token) in zip((one, two, one, two), members,
                                                                              strict=True)]

    async def lock_once_lines_flow() -> dict[str, Any]:
        await eventually(lambda: owner_conn.fetchval(
            "SELECT count(DISTINCT author_id) = 4 FROM public.session_messages WHERE session_id = $1", session_id))
        return await publish(host_ws, channel, "room.lock_chat", {"locked": True})

    *batches, locked = await asyncio.gather(*(until_refused(ws, channel) for ws in tabs), lock_once_lines_flow())
    lock_seq = locked["result"]["seq"]
    replies = [reply for batch in batches for reply in batch]
    stored = [r["result"]["seq"] for r in replies if r["ok"]]
    assert stored and all(seq < lock_seq for seq in stored), (stored, lock_seq)
    refused = [r for r in replies if not r["ok"]]
    assert len(refused) == len(tabs)
    assert all(error_code(r) == "forbidden" and r["error"]["details"]["chat_locked"] for r in refused), refused
    assert await owner_conn.fetchval("SELECT count(*) FROM public.session_messages WHERE session_id = $1",
                                     session_id) == len(stored)

    assert (await publish(host_ws, channel, "room.lock_chat", {"locked": False}))["ok"]
    assert (await publish(tabs[1], channel, "chat.message", {"text": "open again"}))["ok"]
    await close_all(host_ws, *tabs)
