"""The message history of a session room: who may read it, its order and pages, and its one shape."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from tests.helpers.api import signup, with_role
from tests.integration.test_sessions import create_session, host_account, mint_users


async def add_message(owner_conn: asyncpg.Connection, session_id: str, author: UUID, kind: str, content: str,
                      at: datetime, *, parent: UUID | None = None, deleted: bool = False,
                      answered: bool = False) -> UUID:
    message_id: UUID = await owner_conn.fetchval(
        """INSERT INTO public.session_messages (session_id, author_id, kind, content, parent_id, is_deleted,
                                                is_answered, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
        UUID(session_id), author, kind, content, parent, deleted, answered, at)
    return message_id


async def read_all(client: httpx.AsyncClient, session_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/api/sessions/{session_id}/messages", params=params, headers=headers)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


async def test_history_is_in_order_paginated_and_hides_deleted_content(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host)
    sid = session["id"]
    (asker, asker_headers), (voter, _) = await mint_users(owner_conn, 2)
    await client.post(f"/api/sessions/{sid}/registration", headers=asker_headers)
    start = datetime.now(UTC) - timedelta(minutes=10)
    question = await add_message(owner_conn, sid, asker, "question", "Why?", start + timedelta(seconds=2),
                                 answered=True)
    await owner_conn.execute("INSERT INTO public.session_message_votes (message_id, user_id) VALUES ($1, $2), ($1, $3)",
                             question, voter, host.user_id)
    chat = await add_message(owner_conn, sid, asker, "chat", "hello", start + timedelta(seconds=1))
    deleted = await add_message(owner_conn, sid, asker, "chat", "oops", start + timedelta(seconds=3), deleted=True)
    answer = await add_message(owner_conn, sid, host.user_id, "answer", "Because.", start + timedelta(seconds=4),
                               parent=question)
    note = await add_message(owner_conn, sid, host.user_id, "announcement", "Break", start + timedelta(seconds=5))

    items = await read_all(client, sid, asker_headers)
    assert [item["id"] for item in items] == [str(m) for m in (chat, question, deleted, answer, note)]
    by_id = {item["id"]: item for item in items}
    assert by_id[str(question)] == {
        "id": str(question), "session_id": sid, "author_id": str(asker),
        "author": {"id": str(asker), "full_name": "Bulk 1"}, "kind": "question", "content": "Why?",
        "parent_id": None, "upvotes_count": 2, "is_answered": True, "is_deleted": False,
        "redacted": False,
        "created_at": by_id[str(question)]["created_at"],
    }
    assert (by_id[str(deleted)]["content"], by_id[str(deleted)]["is_deleted"], by_id[str(deleted)]["redacted"]) == (
        None, True, True)
    assert by_id[str(answer)]["parent_id"] == str(question)
    assert await read_all(client, sid, host.headers) == items
    other = await create_session(client, host)
    assert await read_all(client, other["id"], host.headers) == []
    bad = await client.get(f"/api/sessions/{sid}/messages", params={"cursor": "nope"}, headers=host.headers)
    assert bad.status_code == 422


async def test_only_the_host_admins_and_seat_holders_may_read_the_history(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=1)
    sid = session["id"]
    (seated, seated_headers), (_, waiting_headers) = await mint_users(owner_conn, 2)
    await client.post(f"/api/sessions/{sid}/registration", headers=seated_headers)
    await client.post(f"/api/sessions/{sid}/registration", headers=waiting_headers)
    await add_message(owner_conn, sid, seated, "chat", "hi", datetime.now(UTC))
    admin = await with_role(client, owner_conn, await signup(client), "admin")
    stranger = await signup(client)
    for headers in (host.headers, admin.headers, seated_headers):
        response = await client.get(f"/api/sessions/{sid}/messages", headers=headers)
        assert (response.status_code, len(response.json()["items"])) == (200, 1)
    for headers in (waiting_headers, stranger.headers):
        response = await client.get(f"/api/sessions/{sid}/messages", headers=headers)
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert (await client.get(f"/api/sessions/{uuid.uuid4()}/messages", headers=host.headers)).status_code == 404
    assert (await client.get(f"/api/sessions/{sid}/messages")).status_code == 401
