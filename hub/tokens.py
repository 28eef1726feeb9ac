"""Supabase-shaped HS256 access tokens and opaque refresh tokens.

Access tokens carry the claims Supabase puts in its own (`sub`, `email`, `role`, `aud`, `app_metadata`,
`user_metadata`, `session_id`, `iat`, `exp`), so a Supabase project's tokens validate here when the
secret is shared, whatever their `iss`. The hub's own add `iat_us`, the issue time in whole microseconds
since the epoch: revocation (`hub.rules.revocation`) compares it to the account's cutoff, finer than `iat`,
and `email_verified`, whether the account's email was verified when the token was issued (the write gate of
`REQUIRE_EMAIL_VERIFICATION` reads it; a token without it, as Supabase issues, counts as verified).
Refresh tokens and the tokens of mailed links are random strings; only their SHA-256 is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import jwt

from hub.errors import AccessTokenExpired, Unauthorized
from persistence.identity import Identity, user_identity

AUDIENCE = "authenticated"


# Verified access tokens kept per process, as the `Identity` they give. A REST request spends ≈ 60 µs (12–15 %
# of a feed page's CPU) decoding and checking its token's HMAC, and ≈ 5 µs more turning its claims into an
# `Identity` (the claims' JSON text); the same token comes back on every request of a session. Expiry is
# checked on every hit; the key is the whole token string, so a changed token is verified afresh. Revocation
# is not the cache's business: every request still checks the identity's issue time against its account's
# cutoff (`hub.revocation`). ≈ 1.5 KiB an entry, its token string included.
VERIFIED_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class TokenService:
    secret: str
    issuer: str
    access_ttl_s: int
    _verified: OrderedDict[str, tuple[float, Identity]] = field(default_factory=OrderedDict, compare=False,
                                                                repr=False)

    def issue_access(self, *, user_id: UUID, email: str, app_metadata: dict[str, Any],
                     user_metadata: dict[str, Any], session_id: UUID, now: float | None = None,
                     email_verified: bool = True) -> tuple[str, int]:
        """Returns (token, exp)."""
        iat_us = time.time_ns() // 1000 if now is None else round(now * 1_000_000)
        iat = iat_us // 1_000_000
        exp = iat + self.access_ttl_s
        claims = {
            "iss": self.issuer,
            "sub": str(user_id),
            "aud": AUDIENCE,
            "exp": exp,
            "iat": iat,
            "iat_us": iat_us,
            "email": email,
            "phone": "",
            "role": "authenticated",
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": iat}],
            "session_id": str(session_id),
            "is_anonymous": False,
            "app_metadata": app_metadata,
            "user_metadata": user_metadata,
            "email_verified": email_verified,
        }
        return jwt.encode(claims, self.secret, algorithm="HS256"), exp

    def rotated_refresh_token(self, parent: str) -> str:
        """The refresh token that replaces `parent` at a refresh.

        Derived, not random: a reuse of `parent` within the grace window (two tabs racing) must get back
        the very token the first refresh issued, and deriving it again means the database keeps hashes
        only, as for every refresh token, instead of a copy of the token (plain or encrypted under a key
        that would then live next to the data). HMAC under a key of its own, derived from the signing
        secret: a token, or the stored hashes, tell nothing of a successor without that secret, which
        already signs every access token."""
        key = hashlib.sha256(b"hub refresh-token rotation\0" + self.secret.encode()).digest()
        digest = hmac.new(key, parent.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def identity(self, token: str) -> Identity:
        """Who the token is about, or `Unauthorized` for anything not a valid, unexpired, HS256,
        `aud=authenticated` token about a UUID subject with role `authenticated` (`AccessTokenExpired`, a
        subclass, for a token valid but past its `exp`).

        For REST, where a session sends the same token with every request: verified tokens are kept."""
        cached = self._verified.get(token)
        if cached is not None and time.time() < cached[0]:  # pyjwt's own rule: expired once now >= exp
            self._verified.move_to_end(token)
            return cached[1]
        if cached is not None:
            del self._verified[token]
        claims = self.verify_once(token)
        identity = user_identity(claims)
        self._verified[token] = (claims["exp"], identity)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return identity

    def verify_once(self, token: str) -> dict[str, Any]:
        """The checks of :meth:`identity`, giving the claims, without keeping the token: a websocket sends its
        token once per connection (or refresh), and a cache filled by a connection storm would cost ≈ 1.5 KiB
        per connection until evicted."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AccessTokenExpired() from None
        except jwt.PyJWTError:
            raise Unauthorized("Invalid token") from None
        if claims.get("role") != "authenticated":
            raise Unauthorized("Token role must be authenticated")
        check_claim_types(claims)
        return claims


# pyjwt checks that time claims convert to an int, so "9999999999" (a string) passes it; the hub then
# compares and converts `exp` as a number (the cache, a websocket's expiry timer). Only JSON numbers
# within JavaScript's exact range are time claims here.
_MAX_TIME_CLAIM = 2**53


def check_claim_types(claims: dict[str, Any]) -> None:
    """`Unauthorized` unless every claim the hub or the database's policies read has its JSON type:
    `exp` (required), `iat`, `nbf` numbers; `iat_us` an integer; `sub` a UUID string; the metadata objects;
    `email` a string."""
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name, 0)
        if type(value) not in (int, float) or not 0 <= value < _MAX_TIME_CLAIM:  # bool is an int: refused
            raise Unauthorized(f"Token claim {name} is not a time")
    issued_us = claims.get("iat_us", 0)
    if type(issued_us) is not int or not 0 <= issued_us < _MAX_TIME_CLAIM:
        raise Unauthorized("Token claim iat_us is not a time")
    subject = claims["sub"]
    try:
        if not isinstance(subject, str):
            raise ValueError(subject)
        UUID(subject)
    except ValueError:
        raise Unauthorized("Token subject is not a user id") from None
    for name in ("app_metadata", "user_metadata"):
        if not isinstance(claims.get(name, {}), dict):
            raise Unauthorized(f"Token claim {name} is not an object")
    if not isinstance(claims.get("email", ""), str):
        raise Unauthorized("Token claim email is not a string")
    if not isinstance(claims.get("email_verified", True), bool):
        raise Unauthorized("Token claim email_verified is not a boolean")


def new_refresh_token() -> tuple[str, str]:
    """(token for the client, hash to store); also the token of a mailed link (256 random bits)."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
