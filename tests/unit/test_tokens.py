"""Access-token verification, including the per-process cache of verified tokens (as their identities)."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from hub.errors import AccessTokenExpired, Unauthorized
from hub.tokens import VERIFIED_CACHE_SIZE, TokenService
from persistence.identity import DbRole, user_identity

SECRET = "s" * 32


def issue(service: TokenService, *, expires_in: float | None = None) -> str:
    token, _ = service.issue_access(user_id=uuid.uuid4(), email="a@hub.test", app_metadata={}, user_metadata={},
                                    session_id=uuid.uuid4(),
                                    now=time.time() - service.access_ttl_s + (expires_in or service.access_ttl_s))
    return token


def test_a_verified_token_is_refused_once_it_expires_even_when_cached() -> None:
    service = TokenService(SECRET, "hub", 60)
    token = issue(service, expires_in=1.2)
    assert service.identity(token).role is DbRole.AUTHENTICATED
    assert token in service._verified
    assert service.identity(token).role is DbRole.AUTHENTICATED  # a cache hit
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    # Lets the expiry pass (what the test is about); a slow machine only lets more time pass.
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    with pytest.raises(Unauthorized, match="expired"):
        service.identity(token)
    assert token not in service._verified


def test_an_expired_token_raises_the_typed_error_and_no_other_refusal_does() -> None:
    service = TokenService(SECRET, "hub", 60)
    expired = issue(service, expires_in=-10)
    for verify in (service.identity, service.verify_once):
        with pytest.raises(AccessTokenExpired):
            verify(expired)
    refused = [
        "not-a-token",
        jwt.encode({"sub": str(uuid.uuid4()), "aud": "authenticated", "role": "authenticated",
                    "exp": int(time.time()) + 60}, "t" * 32, algorithm="HS256"),
        jwt.encode({"sub": "expired", "aud": "authenticated", "role": "authenticated",
                    "exp": int(time.time()) + 60}, SECRET, algorithm="HS256"),
    ]
    for token in refused:
        with pytest.raises(Unauthorized) as caught:
            service.verify_once(token)
        assert not isinstance(caught.value, AccessTokenExpired)


def test_a_changed_token_is_verified_afresh_not_served_from_the_cache() -> None:
    service = TokenService(SECRET, "hub", 60)
    token = issue(service)
    service.identity(token)
    header, payload, signature = token.split(".")
    tampered = ".".join((header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")))
    with pytest.raises(Unauthorized):
        service.identity(tampered)
    other_secret = TokenService("t" * 32, "hub", 60)
    with pytest.raises(Unauthorized):
        other_secret.identity(token)  # the cache is per service (per secret)


def test_the_cache_keeps_at_most_its_size_and_drops_the_least_recently_used() -> None:
    service = TokenService(SECRET, "hub", 60)
    first = issue(service)
    service.identity(first)
    for _ in range(VERIFIED_CACHE_SIZE):
        service.identity(issue(service))
    assert len(service._verified) == VERIFIED_CACHE_SIZE
    assert first not in service._verified


def test_verify_once_checks_like_identity_but_keeps_nothing() -> None:
    service = TokenService(SECRET, "hub", 60)
    token = issue(service)
    assert user_identity(service.verify_once(token)) == service.identity(token)
    other = issue(service)
    service.verify_once(other)
    assert other not in service._verified
    with pytest.raises(Unauthorized):
        service.verify_once(token[:-3] + "abc")


def signed(**changes: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": str(uuid.uuid4()), "aud": "authenticated", "role": "authenticated",
                                 "exp": now + 600, "iat": now, "email": "a@hub.test", "app_metadata": {}}
    claims.update(changes)
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.mark.parametrize("changes", [
    {"exp": str(int(time.time()) + 600)},  # pyjwt accepts it: int("…") succeeds
    {"exp": True},
    {"exp": 1e300},
    {"iat": str(int(time.time()))},
    {"nbf": "0"},
    {"sub": 12345},
    {"sub": "not-a-uuid"},
    {"app_metadata": ["role", "admin"]},
    {"email": {"address": "a@hub.test"}},
], ids=lambda changes: "-".join(f"{k}={type(v).__name__}" for k, v in changes.items()))
def test_signed_tokens_with_mistyped_claims_are_refused_every_time(changes: dict[str, object]) -> None:
    """A claim of the wrong JSON type is a 401 on the first use and on every later one (the cache once
    compared a string `exp` with the clock and answered 500)."""
    service = TokenService(SECRET, "hub", 60)
    token = signed(**changes)
    for _ in range(2):
        with pytest.raises(Unauthorized):
            service.identity(token)
    with pytest.raises(Unauthorized):
        service.verify_once(token)


def test_well_typed_claims_pass_including_a_fractional_exp() -> None:
    service = TokenService(SECRET, "hub", 60)
    assert service.identity(signed(exp=time.time() + 600.5, nbf=0)).role is DbRole.AUTHENTICATED
