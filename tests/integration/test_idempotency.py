"""`Idempotency-Key` on every creating route family: the same body replays, another body is refused.

`shared/spec/api.md`: a retry with the same key and the same body returns the first result; the same key
with a different body → 422 `idempotency_key_reused`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.helpers.api import Account, admin, signup
from tests.integration.test_sessions import host_account, session_body

# Each family: (who creates, path, body, the same request with one field changed).
Family = Callable[[httpx.AsyncClient, asyncpg.Connection], Awaitable[tuple[Account, str, dict[str, Any],
                                                                          dict[str, Any]]]]


async def post_family(client: httpx.AsyncClient, _: asyncpg.Connection) -> tuple[Account, str, dict[str, Any],
                                                                                 dict[str, Any]]:
    return await signup(client), "/api/posts", {"title": "first"}, {"title": "second"}


async def comment_family(client: httpx.AsyncClient, _: asyncpg.Connection) -> tuple[Account, str, dict[str, Any],
                                                                                    dict[str, Any]]:
    author = await signup(client)
    post = (await client.post("/api/posts", json={"title": "thread"}, headers=author.headers)).json()
    return author, f"/api/posts/{post['id']}/comments", {"content": "first"}, {"content": "second"}


async def session_family(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> tuple[
        Account, str, dict[str, Any], dict[str, Any]]:
    body = session_body()
    return await host_account(client, owner_conn), "/api/sessions", body, body | {"title": body["title"] + "!"}


async def plan_family(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> tuple[
        Account, str, dict[str, Any], dict[str, Any]]:
    name = f"Plan {secrets.token_hex(4)}"
    return await admin(client, owner_conn), "/api/plans", {"name": name, "price": "3.00"}, \
        {"name": name, "price": "4.00"}


FAMILIES: dict[str, Family] = {"posts": post_family, "comments": comment_family, "sessions": session_family,
                               "plans": plan_family}


@pytest.mark.parametrize("family", sorted(FAMILIES))
async def test_the_same_key_with_another_body_is_422_and_creates_nothing(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, family: str) -> None:
    account, path, body, changed = await FAMILIES[family](client, owner_conn)
    headers = {**account.headers, "Idempotency-Key": secrets.token_hex(8)}
    first = await client.post(path, json=body, headers=headers)
    assert first.status_code == 201, first.text
    # The same request serialised differently (key order, spacing) is still a retry.
    respelled = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = await client.post(path, content=respelled, headers=headers | {"content-type": "application/json"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"

    reused = await client.post(path, json=changed, headers=headers)
    assert reused.status_code == 422, reused.text
    assert reused.json()["code"] == "idempotency_key_reused"
    # Nothing was created for it: the key still answers the first request.
    replay = await client.post(path, json=body, headers=headers)
    assert replay.status_code == 201 and replay.json() == first.json()
