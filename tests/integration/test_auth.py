"""Accounts over a real server: the token lifecycle, failure answers, and Supabase compatibility."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt

from tests.conftest import TEST_SECRET
from tests.helpers.api import signup


def supabase_style_token(user_id: uuid.UUID, *, secret: str = TEST_SECRET, exp_in: int = 600,
                         issuer: str = "https://abcd.supabase.co/auth/v1", aud: str = "authenticated",
                         algorithm: str = "HS256") -> str:
    now = int(time.time())
    claims = {"iss": issuer, "sub": str(user_id), "aud": aud, "exp": now + exp_in, "iat": now,
              "email": "someone@example.com", "role": "authenticated", "aal": "aal1",
              "app_metadata": {"provider": "email"}, "user_metadata": {}, "session_id": str(uuid.uuid4())}
    return jwt.encode(claims, secret, algorithm=algorithm)


async def test_signup_login_refresh_reuse_revokes_family_then_logout(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    me = await client.get("/api/auth/me", headers=account.headers)
    assert me.status_code == 200
    assert me.json()["email"] == account.email

    login = await client.post("/api/auth/login", json={"email": account.email.upper(), "password": account.password})
    assert login.status_code == 200
    first_refresh = login.json()["refresh_token"]

    rotated = await client.post("/api/auth/refresh", json={"refresh_token": first_refresh})
    assert rotated.status_code == 200
    second_refresh = rotated.json()["refresh_token"]
    assert second_refresh != first_refresh
    third_refresh = (await client.post("/api/auth/refresh", json={"refresh_token": second_refresh})).json()[
        "refresh_token"]

    # Older than the token just replaced: no grace window applies (test_auth_hardening covers the window).
    reused = await client.post("/api/auth/refresh", json={"refresh_token": first_refresh})
    assert reused.status_code == 401
    assert reused.json()["code"] == "token_reused"
    # The reuse revoked the whole family, so the newest token is dead too.
    after = await client.post("/api/auth/refresh", json={"refresh_token": third_refresh})
    assert after.status_code == 401

    other = await client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    headers = {"Authorization": f"Bearer {other.json()['access_token']}"}
    out = await client.post("/api/auth/logout", json={"refresh_token": other.json()["refresh_token"]},
                            headers=headers)
    assert out.status_code == 204
    dead = await client.post("/api/auth/refresh", json={"refresh_token": other.json()["refresh_token"]})
    assert dead.status_code == 401


async def test_wrong_password_and_unknown_email_get_the_same_answer(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    wrong = await client.post("/api/auth/login", json={"email": account.email, "password": "not the password"})
    unknown = await client.post("/api/auth/login", json={"email": "nobody-here@example.com",
                                                          "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "invalid_credentials"


async def test_duplicate_email_is_a_conflict_case_insensitively(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    again = await client.post("/api/auth/signup", json={"email": account.email.upper(), "password": "another pass 1"})
    assert again.status_code == 409
    assert again.json()["code"] == "email_taken"


async def test_short_password_and_unknown_fields_are_validation_errors(client: httpx.AsyncClient) -> None:
    short = await client.post("/api/auth/signup", json={"email": "a@example.com", "password": "short"})
    assert short.status_code == 422
    assert short.json()["code"] == "validation_failed"
    extra = await client.post("/api/auth/signup", json={"email": "b@example.com", "password": "long enough 1",
                                                        "total_xp": 9999})
    assert extra.status_code == 422
    assert extra.headers["content-type"].startswith("application/problem+json")


async def test_expired_tampered_and_foreign_tokens(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    expired = supabase_style_token(account.user_id, exp_in=-120)
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"})).status_code == 401

    head, payload, signature = account.access_token.split(".")
    tampered = f"{head}.{payload}.{signature[:-4]}AAAA"
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {tampered}"})).status_code == 401

    other_secret = supabase_style_token(account.user_id, secret="another-secret-" + "x" * 40)
    assert (await client.get("/api/auth/me",
                             headers={"Authorization": f"Bearer {other_secret}"})).status_code == 401

    wrong_aud = supabase_style_token(account.user_id, aud="something-else")
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {wrong_aud}"})).status_code == 401

    unsigned = jwt.encode({"sub": str(account.user_id), "aud": "authenticated", "role": "authenticated",
                           "exp": int(time.time()) + 600}, key=None, algorithm="none")
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {unsigned}"})).status_code == 401


async def test_supabase_token_from_another_issuer_with_the_same_secret_is_accepted(
        client: httpx.AsyncClient) -> None:
    account = await signup(client)
    token = supabase_style_token(account.user_id)
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["id"] == str(account.user_id)


async def test_routes_without_a_token_answer_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/profiles/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_failed_logins_are_rate_limited_per_address(start_hub) -> None:  # type: ignore[no-untyped-def]
    with start_hub(login_attempts_per_minute=3, rate_limit_scale=1, redis_url=None) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            account = await signup(http)
            codes = [(await http.post("/api/auth/login", json={"email": account.email, "password": "nope nope"}))
                     for _ in range(4)]
    assert [r.status_code for r in codes] == [401, 401, 401, 429]
    assert codes[-1].json()["code"] == "rate_limited"
    assert int(codes[-1].headers["retry-after"]) >= 1
