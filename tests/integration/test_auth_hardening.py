"""Tokens under attack or races: mistyped claims, and two tabs refreshing with one refresh token."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt

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
