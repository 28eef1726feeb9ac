"""Small REST helpers for tests: sign up users and call the API as them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from persistence.account_state import set_role


@dataclass
class Account:
    user_id: UUID
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def signup(client: httpx.AsyncClient, *, email: str | None = None, password: str = "correct horse 1",
                 full_name: str | None = "Test User") -> Account:
    email = email or f"user-{secrets.token_hex(6)}@example.com"
    response = await client.post("/api/auth/signup",
                                 json={"email": email, "password": password, "full_name": full_name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return Account(UUID(body["user"]["id"]), email, password, body["access_token"], body["refresh_token"])


async def login(client: httpx.AsyncClient, account: Account) -> Account:
    response = await client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    assert response.status_code == 200, response.text
    body = response.json()
    account.access_token, account.refresh_token = body["access_token"], body["refresh_token"]
    return account


async def with_role(client: httpx.AsyncClient, owner_conn: asyncpg.Connection, account: Account,
                    role: str) -> Account:
    """Grants `admin` or `host` (without revoking the older tokens, which `hub grant` does) and logs in again to
    get it in the token."""
    assert await set_role(owner_conn, account.user_id, role)
    return await login(client, account)


async def admin(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> Account:
    return await with_role(client, owner_conn, await signup(client), "admin")
