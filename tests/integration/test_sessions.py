"""Live sessions over HTTP: creation by hosts, validation, listing, edits, the state machine and its events.

The helpers at the top are shared by the registration and message-history tests.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from hub.tokens import TokenService
from persistence import sessions
from persistence.db import Database
from persistence.identity import SERVICE
from tests.conftest import TEST_SECRET
from tests.helpers.api import Account, signup, with_role
from tests.helpers.own_postgres import MISSING_CONTRIB

TOKENS = TokenService(TEST_SECRET, "hub", 3600)


def as_event(rest_view: dict[str, Any]) -> dict[str, Any]:
    """What `session.updated` carries for a REST view: no meeting link, no per-viewer `my_status`."""
    return {k: v for k, v in rest_view.items() if k != "my_status"} | {"meeting_url": None}


async def host_account(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> Account:
    return await with_role(client, owner_conn, await signup(client, full_name="Host Person"), "host")


def session_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": f"Workshop {secrets.token_hex(4)}",
        "scheduled_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "duration": "PT1H30M",
        "meeting_url": "https://meet.example/room",
    }
    body.update(changes)
    return body


async def create_session(client: httpx.AsyncClient, host: Account, **changes: Any) -> dict[str, Any]:
    response = await client.post("/api/sessions", json=session_body(**changes), headers=host.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def mint_users(owner_conn: asyncpg.Connection, count: int) -> list[tuple[UUID, dict[str, str]]]:
    """`count` users inserted directly (signup hashes passwords, too slow for hundreds) with access
    tokens signed by the test server's secret: [(user id, auth headers)] in creation order."""
    tag = secrets.token_hex(4)
    rows = await owner_conn.fetch(
        """
        INSERT INTO auth.users (email, raw_user_meta_data)
        SELECT 'bulk-' || $1 || '-' || n || '@example.com', jsonb_build_object('full_name', 'Bulk ' || n)
        FROM generate_series(1, $2) AS n ORDER BY n
        RETURNING id, email
        """,
        tag, count,
    )
    users = []
    for row in rows:
        token, _ = TOKENS.issue_access(user_id=row["id"], email=row["email"], app_metadata={}, user_metadata={},
                                       session_id=uuid.uuid4())
        users.append((row["id"], {"Authorization": f"Bearer {token}"}))
    return users


async def events_on(owner_conn: asyncpg.Connection, channel: str) -> list[tuple[str, Any]]:
    rows = await owner_conn.fetch("SELECT event, data FROM realtime.events WHERE channel = $1 ORDER BY seq", channel)
    return [(row["event"], row["data"]) for row in rows]


async def set_status(owner_conn: asyncpg.Connection, session_id: str, status: str) -> None:
    await owner_conn.execute("UPDATE public.live_sessions SET status = $2 WHERE id = $1", UUID(session_id), status)


# ---------------------------------------------------------------------------------------------- tests


async def test_hosts_create_sessions_with_the_full_view_and_no_event(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    created = await create_session(client, host, max_participants=10, tags=["forex"], session_type="q&a",
                                   prerequisites={"min_level": 2})
    assert created["host_id"] == str(host.user_id)
    assert created["host"] == {"id": str(host.user_id), "full_name": "Host Person", "avatar_url": None}
    assert (created["status"], created["current_participants"], created["waitlist_count"]) == ("scheduled", 0, 0)
    assert created["duration"] == "PT5400S"
    assert created["meeting_url"] == "https://meet.example/room"
    assert created["prerequisites"] == {"min_level": 2}
    assert (created["session_type"], created["tags"], created["max_participants"]) == ("q&a", ["forex"], 10)
    assert await events_on(owner_conn, f"session:{created['id']}") == []
    fetched = await client.get(f"/api/sessions/{created['id']}", headers=host.headers)
    assert fetched.json() == created


async def test_only_hosts_and_admins_create_sessions(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    member = await signup(client)
    refused = await client.post("/api/sessions", json=session_body(), headers=member.headers)
    assert refused.status_code == 403
    admin = await with_role(client, owner_conn, await signup(client), "admin")
    assert (await client.post("/api/sessions", json=session_body(), headers=admin.headers)).status_code == 201
    anonymous = await client.post("/api/sessions", json=session_body())
    assert anonymous.status_code == 401
    assert await owner_conn.fetchval("SELECT count(*) FROM public.live_sessions WHERE host_id = $1",
                                     member.user_id) == 0


async def test_create_validates_every_field(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    bad_bodies = [
        {"title": ""}, {"title": "x" * 201}, {"description": "x" * 5001}, {"session_type": "lecture"},
        {"scheduled_at": past}, {"scheduled_at": "2999-01-01T10:00:00"}, {"duration": "PT0S"},
        {"duration": "PT25H"}, {"duration": "-PT1H"}, {"duration": "one hour"}, {"max_participants": 0},
        {"max_participants": 100_001}, {"prerequisites": {"min_level": 0}},
        {"prerequisites": {"required_lessons": ["not-a-uuid"]}}, {"prerequisites": {"level": 2}},
        {"status": "live"}, {"current_participants": 5}, {"host_id": str(uuid.uuid4())},
        {"meeting_url": "javascript:alert(1)"},
    ]
    for changes in bad_bodies:
        response = await client.post("/api/sessions", json=session_body(**changes), headers=host.headers)
        assert response.status_code == 422, (changes, response.text)
        assert response.json()["code"] == "validation_failed"
    assert await owner_conn.fetchval("SELECT count(*) FROM public.live_sessions WHERE host_id = $1",
                                     host.user_id) == 0
    limits = await create_session(client, host, duration="PT24H", max_participants=None,
                                  prerequisites={"min_level": 1, "required_lessons": [str(uuid.uuid4())]})
    assert (limits["duration"], limits["max_participants"]) == ("P1D", None)


async def test_create_with_an_idempotency_key_creates_once(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    headers = {**host.headers, "Idempotency-Key": secrets.token_hex(8)}
    body = session_body()
    first = await client.post("/api/sessions", json=body, headers=headers)
    again = await client.post("/api/sessions", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert await owner_conn.fetchval("SELECT count(*) FROM public.live_sessions WHERE host_id = $1",
                                     host.user_id) == 1


async def test_list_filters_and_pages_upcoming_first(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    base = datetime.now(UTC) + timedelta(days=30)
    made = [await create_session(client, host, scheduled_at=(base + timedelta(hours=hours)).isoformat(),
                                 session_type="presentation" if hours % 2 else "workshop")
            for hours in (5, 1, 3, 2, 4)]
    by_time = sorted(made, key=lambda session: session["scheduled_at"])
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"host_id": str(host.user_id), "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/sessions", params=params, headers=host.headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [session["id"] for session in by_time]
    window = await client.get("/api/sessions", headers=host.headers, params={
        "host_id": str(host.user_id), "session_type": "presentation", "status": "scheduled",
        "from": (base + timedelta(hours=1)).isoformat(), "to": (base + timedelta(hours=5)).isoformat()})
    assert [item["id"] for item in window.json()["items"]] == [made[1]["id"], made[2]["id"]]
    await client.post(f"/api/sessions/{made[1]['id']}/cancel", headers=host.headers)
    live = await client.get("/api/sessions", headers=host.headers,
                            params={"host_id": str(host.user_id), "status": "cancelled"})
    assert [item["id"] for item in live.json()["items"]] == [made[1]["id"]]
    for params in ({"status": "paused"}, {"cursor": "garbage"}, {"limit": 0}, {"from": "yesterday"}):
        assert (await client.get("/api/sessions", params=params, headers=host.headers)).status_code in (400, 422)


async def test_meeting_url_is_shown_to_host_and_seat_holders_only(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=1)
    seated, waiting, stranger = await signup(client), await signup(client), await signup(client)
    for account in (seated, waiting):
        assert (await client.post(f"/api/sessions/{session['id']}/registration",
                                  headers=account.headers)).status_code == 201
    urls = {}
    for name, account in (("host", host), ("seated", seated), ("waiting", waiting), ("stranger", stranger)):
        urls[name] = (await client.get(f"/api/sessions/{session['id']}", headers=account.headers)).json()["meeting_url"]
    assert urls == {"host": "https://meet.example/room", "seated": "https://meet.example/room",
                    "waiting": None, "stranger": None}
    listed = await client.get("/api/sessions", params={"host_id": str(host.user_id)}, headers=stranger.headers)
    assert listed.json()["items"][0]["meeting_url"] is None
    assert listed.json()["items"][0]["waitlist_count"] == 1


async def test_host_edits_while_scheduled_and_each_edit_is_announced(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host)
    url = f"/api/sessions/{session['id']}"
    later = datetime.now(UTC) + timedelta(days=2)
    edited = await client.patch(url, json={"title": "Renamed", "duration": "PT2H", "tags": ["a", "b"],
                                           "description": None, "scheduled_at": later.isoformat()},
                                headers=host.headers)
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["title"], body["duration"], body["tags"]) == ("Renamed", "PT7200S", ["a", "b"])
    assert datetime.fromisoformat(body["scheduled_at"]) == later
    assert (body["meeting_url"], body["session_type"], body["description"]) == (
        "https://meet.example/room", "workshop", None)
    [(event, data)] = await events_on(owner_conn, f"session:{session['id']}")
    assert event == "session.updated"
    assert data == as_event(body)
    for bad in ({"status": "live"}, {"current_participants": 3}, {"duration": "PT0S"},
                {"scheduled_at": "2001-01-01T00:00:00Z"}, {"title": None}):
        assert (await client.patch(url, json=bad, headers=host.headers)).status_code == 422, bad
    await client.post(f"{url}/start", headers=host.headers)
    too_late = await client.patch(url, json={"title": "Live now"}, headers=host.headers)
    assert (too_late.status_code, too_late.json()["code"]) == (409, "invalid_transition")
    assert await owner_conn.fetchval("SELECT title FROM public.live_sessions WHERE id = $1",
                                     UUID(session["id"])) == "Renamed"


async def test_non_hosts_get_403_on_every_host_route_and_nothing_changes(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    other_host = await host_account(client, owner_conn)
    member = await signup(client)
    session = await create_session(client, host)
    url = f"/api/sessions/{session['id']}"
    for account in (member, other_host):
        assert (await client.patch(url, json={"title": "Mine"}, headers=account.headers)).status_code == 403
        for action in ("start", "end", "cancel"):
            response = await client.post(f"{url}/{action}", headers=account.headers)
            assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    row = await owner_conn.fetchrow("SELECT title, status FROM public.live_sessions WHERE id = $1", UUID(session["id"]))
    assert (row["title"], row["status"]) == (session["title"], "scheduled")
    assert await events_on(owner_conn, f"session:{session['id']}") == []
    missing = await client.post(f"/api/sessions/{uuid.uuid4()}/start", headers=host.headers)
    assert missing.status_code == 404
    admin = await with_role(client, owner_conn, await signup(client), "admin")
    assert (await client.patch(url, json={"title": "By admin"}, headers=admin.headers)).status_code == 200


async def test_state_machine_over_http_with_409_for_every_wrong_step(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host)
    url = f"/api/sessions/{session['id']}"
    for action in ("end",):
        wrong = await client.post(f"{url}/{action}", headers=host.headers)
        assert (wrong.status_code, wrong.json()["code"]) == (409, "invalid_transition")
    started = await client.post(f"{url}/start", headers=host.headers)
    assert (started.status_code, started.json()["status"]) == (200, "live")
    for action in ("start", "cancel"):
        wrong = await client.post(f"{url}/{action}", headers=host.headers)
        assert (wrong.status_code, wrong.json()["code"]) == (409, "invalid_transition")
    ended = await client.post(f"{url}/end", headers=host.headers)
    assert (ended.status_code, ended.json()["status"]) == (200, "ended")
    for action in ("start", "end", "cancel"):
        assert (await client.post(f"{url}/{action}", headers=host.headers)).status_code == 409
    events = await events_on(owner_conn, f"session:{session['id']}")
    assert [(event, data["status"]) for event, data in events] == [
        ("session.updated", "live"), ("session.updated", "ended")]
    assert events[-1][1] == as_event(ended.json())

    cancelled = await create_session(client, host)
    assert (await client.post(f"/api/sessions/{cancelled['id']}/cancel",
                              headers=host.headers)).json()["status"] == "cancelled"
    for action in ("start", "end", "cancel"):
        assert (await client.post(f"/api/sessions/{cancelled['id']}/{action}",
                                  headers=host.headers)).status_code == 409
    assert len(await events_on(owner_conn, f"session:{cancelled['id']}")) == 1


async def test_end_marks_registered_participants_who_never_joined_as_missed(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=2)
    session_id = UUID(session["id"])
    (joiner, joiner_headers), (absent, absent_headers), (waiting, waiting_headers) = await mint_users(owner_conn, 3)
    for headers in (joiner_headers, absent_headers, waiting_headers):
        assert (await client.post(f"/api/sessions/{session_id}/registration", headers=headers)).status_code == 201
    await client.post(f"/api/sessions/{session_id}/start", headers=host.headers)
    async with app_db.transaction(SERVICE) as conn:
        assert await sessions.mark_joined(conn, session_id, joiner, datetime.now(UTC)) is not None
    ended = await client.post(f"/api/sessions/{session_id}/end", headers=host.headers)
    assert ended.json()["current_participants"] == 1
    statuses = dict(await owner_conn.fetch(
        "SELECT user_id, attendance_status FROM public.session_participants WHERE session_id = $1", session_id))
    assert statuses == {joiner: "attended", absent: "missed", waiting: "waitlisted"}


async def test_every_session_list_query_walks_an_index_in_order(owner_conn: asyncpg.Connection) -> None:
    """With sequential scans, bitmap scans and sorts priced out, a plan still containing one of them
    would mean no index serves the query's filter and keyset order."""
    try:
        await owner_conn.execute("LOAD 'auto_explain'")
    except asyncpg.PostgresError as exc:
        pytest.fail(f"auto_explain {MISSING_CONTRIB} ({exc})")
    plans: list[str] = []

    def collect(_conn: object, message: Any) -> None:
        plans.append(message.message)

    owner_conn.add_log_listener(collect)
    async with owner_conn.transaction():
        await owner_conn.execute(
            """
            SET LOCAL auto_explain.log_min_duration = 0; SET LOCAL auto_explain.log_level = notice;
            SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off
            """)
        some_id, now = uuid.uuid4(), datetime.now(UTC)
        for after in (None, (now, some_id)):
            await sessions.list_session_ids(owner_conn, status=None, session_type=None, scheduled_from=None,
                                            scheduled_to=None, host_id=None, after=after, limit=21)
            await sessions.messages_page(owner_conn, some_id, after, 21)
        await sessions.list_session_ids(owner_conn, status="live", session_type=None, scheduled_from=now,
                                        scheduled_to=None, host_id=None, after=None, limit=21)
        await sessions.list_session_ids(owner_conn, status=None, session_type=None, scheduled_from=None,
                                        scheduled_to=None, host_id=some_id, after=None, limit=21)
        await sessions.participants_page(owner_conn, some_id, None, 21)
        await sessions.participants_page(owner_conn, some_id, ("registered", now, some_id), 21)
    owner_conn.remove_log_listener(collect)
    assert len(plans) == 8
    for plan in plans:
        assert "Index" in plan and "Seq Scan" not in plan and "Sort" not in plan and "Bitmap" not in plan, plan
