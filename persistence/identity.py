"""Who a database transaction runs as.

`Identity` is carried from the HTTP/websocket edge into `Database.transaction`, which turns it into
`SET LOCAL ROLE` plus `request.jwt.claims`, so the schema's RLS policies see the real caller.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec


class DbRole(enum.Enum):
    ANON = "anon"
    AUTHENTICATED = "authenticated"
    SERVICE = "service_role"


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller as the database sees it.

    The claims are kept as the JSON text handed to ``request.jwt.claims``, not as a dict: an authenticated
    websocket keeps its identity for the connection's life, and a parsed claims dict costs ≈ 2.3 KiB of it
    (docs/benchmarks.md). The one claim the hub itself reads, ``app_metadata.role``, is taken out up front.
    """

    role: DbRole
    user_id: UUID | None = None
    claims_json: str = "{}"
    app_role: str | None = None
    # When the token was issued, in microseconds since the epoch (`token_issued_us`): what revocation compares
    # to the account's cutoff.
    issued_us: int = 0
    # The token's `email_verified` claim; absent (a Supabase-issued token) counts as verified.
    email_verified: bool = True

    @property
    def is_admin(self) -> bool:
        return self.app_role == "admin"

    @property
    def is_host(self) -> bool:
        return self.app_role in ("host", "admin")

    def require_user_id(self) -> UUID:
        """The caller's id; only called behind routes that already demanded a user."""
        if self.user_id is None:
            raise LookupError("identity has no user")
        return self.user_id


def _app_role(claims: dict[str, Any]) -> str | None:
    meta = claims.get("app_metadata")
    role = meta.get("role") if isinstance(meta, dict) else None
    return role if isinstance(role, str) else None


def _identity(role: DbRole, user_id: UUID | None, claims: dict[str, Any], issued_us: int = 0) -> Identity:
    return Identity(role, user_id, msgspec.json.encode(claims).decode(), _app_role(claims), issued_us,
                    claims.get("email_verified") is not False)


def token_issued_us(claims: dict[str, Any]) -> int:
    """The token's issue time in microseconds: the hub's `iat_us` claim, else (a Supabase-issued token) the
    start of its `iat` second, the earliest moment it can have been issued, so a token from the second of a
    revocation counts as older than it (conservative: it may refuse a token issued just after, never
    accept one issued before)."""
    issued = claims.get("iat_us")
    if isinstance(issued, int):
        return issued
    return int(claims.get("iat", 0)) * 1_000_000


ANON = _identity(DbRole.ANON, None, {"role": "anon"})
SERVICE = _identity(DbRole.SERVICE, None, {"role": "service_role"})


def service_acting_for(user: Identity) -> Identity:
    """`service_role` that still names the user it acts for in `auth.uid()`, for a server-owned write the
    schema attributes to its actor (the `deleted_by` of a deleted chat line's kept text)."""
    return _identity(DbRole.SERVICE, user.user_id, {"role": "service_role", "sub": str(user.require_user_id())})


def user_identity(claims: dict[str, Any]) -> Identity:
    return _identity(DbRole.AUTHENTICATED, UUID(str(claims["sub"])), claims, token_issued_us(claims))


def with_app_role(identity: Identity, role: str | None, issued_us: int) -> Identity:
    """`identity` after its account's role became `role` (None: no role), as of `issued_us`: what a live
    websocket acts as once a role change reached it, without a new token."""
    claims = msgspec.json.decode(identity.claims_json)
    meta = claims.get("app_metadata")
    meta = dict(meta) if isinstance(meta, dict) else {}
    if role is None:
        meta.pop("role", None)
    else:
        meta["role"] = role
    claims["app_metadata"] = meta
    # The database checks the claims' issue time against the cutoff the role change set (migration 0029).
    claims["iat_us"] = issued_us
    return _identity(identity.role, identity.user_id, claims, issued_us)
