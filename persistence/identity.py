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


def _identity(role: DbRole, user_id: UUID | None, claims: dict[str, Any]) -> Identity:
    return Identity(role, user_id, msgspec.json.encode(claims).decode(), _app_role(claims))


ANON = _identity(DbRole.ANON, None, {"role": "anon"})
SERVICE = _identity(DbRole.SERVICE, None, {"role": "service_role"})


def service_acting_for(user: Identity) -> Identity:
    """`service_role` that still names the user it acts for in `auth.uid()`, for a server-owned write the
    schema attributes to its actor (the `deleted_by` of a deleted chat line's kept text)."""
    return _identity(DbRole.SERVICE, user.user_id, {"role": "service_role", "sub": str(user.require_user_id())})


def user_identity(claims: dict[str, Any]) -> Identity:
    return _identity(DbRole.AUTHENTICATED, UUID(str(claims["sub"])), claims)
