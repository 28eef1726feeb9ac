"""Who a database transaction runs as.

`Identity` is carried from the HTTP/websocket edge into `Database.transaction`, which turns it into
`SET LOCAL ROLE` plus `request.jwt.claims`, so the schema's RLS policies see the real caller.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


class DbRole(enum.Enum):
    ANON = "anon"
    AUTHENTICATED = "authenticated"
    SERVICE = "service_role"


@dataclass(frozen=True, slots=True)
class Identity:
    role: DbRole
    user_id: UUID | None = None
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def app_role(self) -> str | None:
        meta = self.claims.get("app_metadata")
        role = meta.get("role") if isinstance(meta, dict) else None
        return role if isinstance(role, str) else None

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


ANON = Identity(DbRole.ANON, claims={"role": "anon"})
SERVICE = Identity(DbRole.SERVICE, claims={"role": "service_role"})


def user_identity(claims: dict[str, Any]) -> Identity:
    return Identity(DbRole.AUTHENTICATED, UUID(str(claims["sub"])), claims)
