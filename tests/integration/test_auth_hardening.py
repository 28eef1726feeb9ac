"""Tokens under attack or races: mistyped claims, and two tabs refreshing with one refresh token."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import httpx
import jwt

from hub.tokens import hash_refresh_token
from tests.conftest import TEST_SECRET
from tests.helpers.api import signup
from tests.helpers.ws import ProtocolClient


def string_exp_token(user_id: uuid.UUID) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "aud": "authenticated", "role": "authenticated",
                       "exp": str(now + 600), "iat": now, "app_metadata": {}}, TEST_SECRET, algorithm="HS256")


async def test_a_signed_token_with_a_string_exp_is_401_on_every_rest_call(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    headers = {"Authorization": f"Bearer {string_exp_token(account.user_id)}"}
    for _ in range(3):
        response = await client.get("/api/auth/me", headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "unauthorized"


async def test_a_signed_token_with_a_string_exp_is_refused_by_websocket_auth(
        client: httpx.AsyncClient, hub_url: str) -> None:
    account = await signup(client)
    ws = await ProtocolClient.open(hub_url)
    try:
        reply = await ws.request({"op": "auth", "token": string_exp_token(account.user_id)})
        assert reply["ok"] is False and reply["error"]["code"] == "unauthorized", reply
    finally:
        await ws.close()


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": token})


async def test_two_parallel_refreshes_with_one_token_get_the_same_pair_and_revoke_nothing(
        client: httpx.AsyncClient) -> None:
    account = await signup(client)
    first, second = await asyncio.gather(refresh(client, account.refresh_token),
                                         refresh(client, account.refresh_token))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    pair = {key: first.json()[key] for key in ("access_token", "refresh_token", "expires_at")}
    assert {key: second.json()[key] for key in pair} == pair
    assert pair["refresh_token"] != account.refresh_token
    # Nothing was revoked: the pair works, and the family rotates on.
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == str(account.user_id)
    assert (await refresh(client, pair["refresh_token"])).status_code == 200


async def test_reuse_after_the_grace_window_revokes_the_family(client: httpx.AsyncClient,
                                                               owner_conn: asyncpg.Connection) -> None:
    account = await signup(client)
    rotated = await refresh(client, account.refresh_token)
    assert rotated.status_code == 200
    # The first refresh happened longer ago than the window (5 s by default).
    await owner_conn.execute(
        "UPDATE private.refresh_tokens SET used_at = used_at - interval '6 seconds' WHERE token_hash = $1",
        hash_refresh_token(account.refresh_token))
    reused = await refresh(client, account.refresh_token)
    assert reused.status_code == 401 and reused.json()["code"] == "token_reused"
    assert (await refresh(client, rotated.json()["refresh_token"])).status_code == 401


async def test_reuse_of_an_older_token_within_the_window_revokes_the_family(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    second = (await refresh(client, account.refresh_token)).json()["refresh_token"]
    third = (await refresh(client, second)).json()["refresh_token"]
    # Seconds old, but no longer the token just replaced: `second` was, and `third` is live.
    reused = await refresh(client, account.refresh_token)
    assert reused.status_code == 401 and reused.json()["code"] == "token_reused"
    assert (await refresh(client, third)).status_code == 401
    assert (await refresh(client, second)).status_code == 401
