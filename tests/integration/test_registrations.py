"""Registrations over HTTP: seats under concurrency, FIFO waitlist and promotions, closed sessions,
prerequisites and plans, attendance, the participant list and feedback, with their events."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from persistence import sessions
from persistence.db import Database
from persistence.identity import SERVICE
from tests.helpers.api import signup
from tests.helpers.lessons import unique_level
from tests.integration.test_sessions import create_session, events_on, host_account, mint_users, set_status


async def register(client: httpx.AsyncClient, session_id: str, headers: dict[str, str]) -> httpx.Response:
    return await client.post(f"/api/sessions/{session_id}/registration", headers=headers)


async def statuses(owner_conn: asyncpg.Connection, session_id: str) -> dict[UUID, str]:
    rows = await owner_conn.fetch(
        "SELECT user_id, attendance_status FROM public.session_participants WHERE session_id = $1", UUID(session_id))
    return {row["user_id"]: row["attendance_status"] for row in rows}


async def waitlist_in_fifo_order(owner_conn: asyncpg.Connection, session_id: str) -> list[UUID]:
    rows = await owner_conn.fetch(
        """SELECT user_id FROM public.session_participants WHERE session_id = $1 AND attendance_status = 'waitlisted'
           ORDER BY created_at, id""", UUID(session_id))
    return [row["user_id"] for row in rows]


async def test_two_hundred_concurrent_registrations_fill_fifty_seats_and_a_fifo_waitlist(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, start_hub: Any) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=50)
    sid = session["id"]
    users = await mint_users(owner_conn, 200)
    # Requests queue for the 5-connection pool; a slow machine must not turn that wait into 503s here.
    with start_hub(db_acquire_timeout_s=60.0) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as burst:
            started = time.perf_counter()
            responses = await asyncio.gather(*(register(burst, sid, headers) for _, headers in users))
            elapsed = time.perf_counter() - started
    print(f"200 concurrent registrations: {elapsed:.2f} s")
    assert all(response.status_code == 201 for response in responses), {r.status_code for r in responses}
    bodies = [response.json() for response in responses]
    assert sum(body["attendance_status"] == "registered" for body in bodies) == 50
    waitlisted = [body for body in bodies if body["attendance_status"] == "waitlisted"]
    assert sorted(body["waitlist_position"] for body in waitlisted) == list(range(1, 151))
    # Arrival order is the rows' (created_at, id) order: the position each answer gave is its place there.
    fifo = await waitlist_in_fifo_order(owner_conn, sid)
    assert [UUID(body["user_id"]) for body in sorted(waitlisted, key=lambda b: b["waitlist_position"])] == fifo
    assert list((await statuses(owner_conn, sid)).values()).count("registered") == 50
    assert await owner_conn.fetchval("SELECT current_participants FROM public.live_sessions WHERE id = $1",
                                     UUID(sid)) == 50
    events = await events_on(owner_conn, f"session:{sid}")
    assert [event for event, _ in events] == ["participant.registered"] * 50 + ["participant.waitlisted"] * 150
    assert [data["waitlist_position"] for _, data in events[50:]] == list(range(1, 151))
    assert {data["user_id"]: data for _, data in events} == {body["user_id"]: body for body in bodies}

    # Ten seat holders cancel at once: each frees one seat for the next in line, FIFO.
    seated = [headers for user_id, headers in users
              if (await statuses(owner_conn, sid))[user_id] == "registered"][:10]
    cancels = await asyncio.gather(*(client.delete(f"/api/sessions/{sid}/registration", headers=headers)
                                     for headers in seated))
    assert [response.status_code for response in cancels] == [204] * 10
    events = (await events_on(owner_conn, f"session:{sid}"))[200:]
    promoted = [UUID(data["user_id"]) for event, data in events if event == "participant.promoted"]
    assert [event for event, _ in events].count("participant.cancelled") == 10
    assert promoted == fifo[:10]
    assert [event for event, _ in events] == ["participant.cancelled", "participant.promoted"] * 10
    for user_id in promoted:
        [(event, data), (note_event, note)] = await events_on(owner_conn, f"user:{user_id}")
        assert (event, note_event, note["kind"]) == ("session.promoted", "notification.created", "session.promoted")
        assert data["participant"]["attendance_status"] == "registered"
        assert data["session"]["id"] == sid and data["session"]["meeting_url"] == "https://meet.example/room"
    assert await waitlist_in_fifo_order(owner_conn, sid) == fifo[10:]
    view = (await client.get(f"/api/sessions/{sid}", headers=host.headers)).json()
    assert (view["current_participants"], view["waitlist_count"]) == (50, 140)
    next_in_line = next(headers for user_id, headers in users if user_id == fifo[10])
    again = await register(client, sid, next_in_line)
    assert (again.status_code, again.json()["waitlist_position"]) == (200, 1)


async def test_registering_twice_answers_the_same_row_with_200_and_one_event(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host)
    member = await signup(client, full_name="Member One")
    first = await register(client, session["id"], member.headers)
    again = await register(client, session["id"], member.headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    body = first.json()
    assert body["user"] == {"id": str(member.user_id), "full_name": "Member One"}
    assert (body["session_id"], body["attendance_status"], body["waitlist_position"]) == (
        session["id"], "registered", None)
    assert await events_on(owner_conn, f"session:{session['id']}") == [("participant.registered", body)]
    assert (await register(client, str(uuid.uuid4()), member.headers)).status_code == 404


async def test_only_scheduled_and_live_sessions_accept_registrations(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    member = await signup(client)
    for status, expected in (("live", 201), ("ended", 409), ("cancelled", 409)):
        session = await create_session(client, host)
        await set_status(owner_conn, session["id"], status)
        response = await register(client, session["id"], member.headers)
        assert response.status_code == expected, status
        if expected == 409:
            assert response.json()["code"] == "session_closed"
            assert await events_on(owner_conn, f"session:{session['id']}") == []
            assert await statuses(owner_conn, session["id"]) == {}


async def test_plan_is_checked_first_then_level_and_lessons_with_what_is_missing(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    lesson = await owner_conn.fetchval(
        """INSERT INTO public.lessons (level_id, gate_id, title, content_data)
           VALUES ($1, 1, 'needed', '{}') RETURNING id""", unique_level())
    session = await create_session(client, host, prerequisites={"min_level": 3, "required_lessons": [str(lesson)]})
    member = await signup(client)

    on_free_tier = await register(client, session["id"], member.headers)
    assert (on_free_tier.status_code, on_free_tier.json()["code"]) == (402, "plan_required")

    plan = await owner_conn.fetchval(
        """INSERT INTO public.subscription_plans (name, price, features, level_access_limit)
           VALUES ('pro', 10, '{}', 5) RETURNING id""")
    await owner_conn.execute(
        "INSERT INTO public.user_subscriptions (user_id, plan_id, status) VALUES ($1, $2, 'active')",
        member.user_id, plan)
    unmet = await register(client, session["id"], member.headers)
    assert (unmet.status_code, unmet.json()["code"]) == (409, "prerequisites_not_met")
    assert unmet.json()["missing"] == {"min_level": 3, "required_lessons": [str(lesson)]}

    await owner_conn.execute("UPDATE public.user_profiles SET total_xp = 3000 WHERE id = $1", member.user_id)
    lessons_only = await register(client, session["id"], member.headers)
    assert lessons_only.json()["missing"] == {"required_lessons": [str(lesson)]}
    await owner_conn.execute(
        """INSERT INTO public.user_progress (user_id, level_id, gate_id, lesson_id, completed)
           VALUES ($1, 3, 1, $2, true)""", member.user_id, lesson)
    assert (await register(client, session["id"], member.headers)).status_code == 201
    events = await events_on(owner_conn, f"session:{session['id']}")
    assert [event for event, _ in events] == ["participant.registered"]


async def test_cancelling_promotes_the_first_waitlisted_and_tells_them_on_their_channel(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=1)
    sid = session["id"]
    (first, first_headers), (second, second_headers), (_, third_headers) = await mint_users(owner_conn, 3)
    for headers in (first_headers, second_headers, third_headers):
        await register(client, sid, headers)

    waiting_cancel = await client.delete(f"/api/sessions/{sid}/registration", headers=third_headers)
    assert waiting_cancel.status_code == 204
    assert await statuses(owner_conn, sid) == {first: "registered", second: "waitlisted"}
    assert [event for event, _ in (await events_on(owner_conn, f"session:{sid}"))[3:]] == ["participant.cancelled"]

    assert (await client.delete(f"/api/sessions/{sid}/registration", headers=first_headers)).status_code == 204
    assert await statuses(owner_conn, sid) == {second: "registered"}
    cancelled, promoted = (await events_on(owner_conn, f"session:{sid}"))[4:]
    assert cancelled[0] == "participant.cancelled" and cancelled[1]["user_id"] == str(first)
    assert promoted[0] == "participant.promoted"
    assert (promoted[1]["user_id"], promoted[1]["attendance_status"]) == (str(second), "registered")
    [(event, data), (note_event, note)] = await events_on(owner_conn, f"user:{second}")
    assert (event, note_event) == ("session.promoted", "notification.created")
    assert (note["kind"], note["data"]["session_id"]) == ("session.promoted", sid)
    assert data["participant"] == promoted[1]
    assert (data["session"]["current_participants"], data["session"]["waitlist_count"]) == (1, 0)
    own_view = (await client.get(f"/api/sessions/{sid}", headers=second_headers)).json()
    assert own_view.pop("my_status") == "registered"
    assert data["session"] == own_view

    not_registered = await client.delete(f"/api/sessions/{sid}/registration", headers=first_headers)
    assert not_registered.status_code == 404
    assert len(await events_on(owner_conn, f"session:{sid}")) == 6


async def test_capacity_cannot_drop_below_seat_holders_and_raising_it_promotes(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=2)
    sid = session["id"]
    users = await mint_users(owner_conn, 4)
    for _, headers in users:
        await register(client, sid, headers)
    lowered = await client.patch(f"/api/sessions/{sid}", json={"max_participants": 1}, headers=host.headers)
    assert (lowered.status_code, lowered.json()["code"]) == (409, "capacity_below_registered")
    raised = await client.patch(f"/api/sessions/{sid}", json={"max_participants": 3}, headers=host.headers)
    assert raised.status_code == 200
    assert (raised.json()["current_participants"], raised.json()["waitlist_count"]) == (3, 1)
    events = (await events_on(owner_conn, f"session:{sid}"))[4:]
    assert [event for event, _ in events] == ["participant.promoted", "session.updated"]
    assert events[0][1]["user_id"] == str(users[2][0])
    unlimited = await client.patch(f"/api/sessions/{sid}", json={"max_participants": None}, headers=host.headers)
    assert (unlimited.json()["current_participants"], unlimited.json()["waitlist_count"]) == (4, 0)


async def test_participants_list_is_full_for_the_host_and_counts_for_others(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=2)
    sid = session["id"]
    users = await mint_users(owner_conn, 5)
    for _, headers in users:
        await register(client, sid, headers)
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/api/sessions/{sid}/participants", params=params, headers=host.headers)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        assert page["counts"] == {"registered": 2, "waitlisted": 3, "attended": 0, "missed": 0}
        if cursor is None:
            break
    assert [item["user_id"] for item in items] == [str(user_id) for user_id, _ in users]
    assert [(item["attendance_status"], item["waitlist_position"]) for item in items] == [
        ("registered", None), ("registered", None), ("waitlisted", 1), ("waitlisted", 2), ("waitlisted", 3)]
    assert {"joined_at", "left_at", "created_at", "user"} <= set(items[0])
    for _, headers in (users[0], users[4]):
        counts = await client.get(f"/api/sessions/{sid}/participants", headers=headers)
        assert counts.json() == {"registered": 2, "waitlisted": 3, "attended": 0, "missed": 0}
    stranger = await signup(client)
    assert (await client.get(f"/api/sessions/{sid}/participants", headers=stranger.headers)).json()["waitlisted"] == 3
    assert (await client.get(f"/api/sessions/{uuid.uuid4()}/participants", headers=host.headers)).status_code == 404


async def test_joining_marks_attendance_once_and_leaving_sets_left_at(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=1)
    sid = UUID(session["id"])
    (seated, seated_headers), (waiting, waiting_headers), (stranger, _) = await mint_users(owner_conn, 3)
    await register(client, str(sid), seated_headers)
    await register(client, str(sid), waiting_headers)
    first, later = datetime.now(UTC), datetime.now(UTC) + timedelta(minutes=5)
    async with app_db.transaction(SERVICE) as conn:
        facts = await sessions.channel_facts(conn, sid, seated)
        assert facts is not None
        assert (facts["host_id"], facts["status"], facts["attendance_status"]) == (host.user_id, "scheduled",
                                                                                   "registered")
        joined = await sessions.mark_joined(conn, sid, seated, first)
        assert joined is not None and joined["attendance_status"] == "attended"
        left = await sessions.mark_left(conn, sid, seated, later)
        assert left is not None and left["left_at"] == later
        rejoined = await sessions.mark_joined(conn, sid, seated, later)
        assert rejoined is not None
        assert (rejoined["joined_at"], rejoined["left_at"]) == (first, None)
        assert await sessions.mark_joined(conn, sid, waiting, first) is None
        assert await sessions.mark_left(conn, sid, stranger, later) is None
        no_row = await sessions.channel_facts(conn, sid, stranger)
        assert no_row is not None and no_row["attendance_status"] is None
        assert await sessions.channel_facts(conn, uuid.uuid4(), stranger) is None
    row = await owner_conn.fetchrow(
        "SELECT attendance_status, joined_at FROM public.session_participants WHERE session_id = $1 AND user_id = $2",
        sid, seated)
    assert (row["attendance_status"], row["joined_at"]) == ("attended", first)
    view = (await client.get(f"/api/sessions/{sid}", headers=host.headers)).json()
    assert view["current_participants"] == 1


async def test_feedback_once_by_an_attendee_after_the_end(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host)
    sid = session["id"]
    (attendee, attendee_headers), (_, absent_headers), (_, stranger_headers) = await mint_users(owner_conn, 3)
    await register(client, sid, attendee_headers)
    await register(client, sid, absent_headers)
    await client.post(f"/api/sessions/{sid}/start", headers=host.headers)
    async with app_db.transaction(SERVICE) as conn:
        await sessions.mark_joined(conn, UUID(sid), attendee, datetime.now(UTC))
    url = f"/api/sessions/{sid}/feedback"
    early = await client.post(url, json={"rating": 5}, headers=attendee_headers)
    assert (early.status_code, early.json()["code"]) == (409, "feedback_not_allowed")
    await client.post(f"/api/sessions/{sid}/end", headers=host.headers)
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": 3, "text": "x" * 2001}, {"rating": 3, "extra": 1}, {}):
        assert (await client.post(url, json=bad, headers=attendee_headers)).status_code == 422, bad
    for headers in (absent_headers, stranger_headers):
        refused = await client.post(url, json={"rating": 4}, headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    given = await client.post(url, json={"rating": 4, "text": "Useful"}, headers=attendee_headers)
    assert given.status_code == 201
    assert given.json() == {"session_id": sid, "user_id": str(attendee), "rating": 4, "text": "Useful"}
    twice = await client.post(url, json={"rating": 1}, headers=attendee_headers)
    assert (twice.status_code, twice.json()["code"]) == (409, "already_done")
    stored = await owner_conn.fetchrow(
        "SELECT feedback_rating, feedback_text FROM public.session_participants WHERE session_id = $1 AND user_id = $2",
        UUID(sid), attendee)
    assert (stored["feedback_rating"], stored["feedback_text"]) == (4, "Useful")


async def test_one_users_racing_registers_and_cancels_never_answer_500_and_leave_consistent_state(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, start_hub: Any) -> None:
    """Register and cancel of one user interleave freely; each request decides under the session lock from
    what it finds there, so every answer is one the contract lists and the seats add up afterwards."""
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=2)
    sid = session["id"]
    (_, seated_headers), (_, waiting_headers), (racer, racer_headers) = await mint_users(owner_conn, 3)
    for headers in (seated_headers, waiting_headers):
        assert (await register(client, sid, headers)).status_code == 201
    with start_hub(db_acquire_timeout_s=60.0) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as burst:
            requests = [register(burst, sid, racer_headers) if n % 2 == 0
                        else burst.delete(f"/api/sessions/{sid}/registration", headers=racer_headers)
                        for n in range(240)]
            responses = await asyncio.gather(*requests)
    codes = [response.status_code for response in responses]
    assert set(codes) <= {200, 201, 204, 404}, {code: codes.count(code) for code in set(codes)}
    # Every 201 and every 204 is one event, in the order the lock admitted them: they alternate.
    racer_events = [event for event, data in await events_on(owner_conn, f"session:{sid}")
                    if data["user_id"] == str(racer) and event != "participant.promoted"]
    assert len(racer_events) == codes.count(201) + codes.count(204)
    assert all((event == "participant.cancelled") == (n % 2 == 1) for n, event in enumerate(racer_events))
    final = await statuses(owner_conn, sid)
    assert (racer in final) == (len(racer_events) % 2 == 1)
    seat_holders = sum(status in ("registered", "attended") for status in final.values())
    assert await owner_conn.fetchval("SELECT current_participants FROM public.live_sessions WHERE id = $1",
                                     UUID(sid)) == seat_holders == 2
    view = (await client.get(f"/api/sessions/{sid}/participants", headers=host.headers)).json()
    positions = [item["waitlist_position"] for item in view["items"] if item["attendance_status"] == "waitlisted"]
    assert positions == list(range(1, len(positions) + 1))
    assert [UUID(item["user_id"]) for item in view["items"] if item["attendance_status"] == "waitlisted"] == (
        await waitlist_in_fifo_order(owner_conn, sid))


async def test_cancelling_after_attending_a_live_session_is_refused_and_keeps_the_attendance(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    """An `attended` row is history (achievements count it): cancelling it is 409 `already_attended`."""
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=1)
    sid = session["id"]
    (attendee, attendee_headers), (_, waiting_headers) = await mint_users(owner_conn, 2)
    await register(client, sid, attendee_headers)
    await register(client, sid, waiting_headers)
    await set_status(owner_conn, sid, "live")
    async with app_db.transaction(SERVICE) as conn:
        assert await sessions.mark_joined(conn, UUID(sid), attendee, datetime.now(UTC)) is not None
    events_before = await events_on(owner_conn, f"session:{sid}")
    response = await client.delete(f"/api/sessions/{sid}/registration", headers=attendee_headers)
    assert (response.status_code, response.json()["code"]) == (409, "already_attended")
    assert (await statuses(owner_conn, sid))[attendee] == "attended"
    assert await events_on(owner_conn, f"session:{sid}") == events_before
    assert await owner_conn.fetchval("SELECT current_participants FROM public.live_sessions WHERE id = $1",
                                     UUID(sid)) == 1
