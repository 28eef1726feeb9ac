"""What an admin (or a moderator resolving a report) does to an account: ban, unban, change its role.

Each is one step of the caller's transaction (run as `service_role`): the account's state, the revocation of
its older tokens (spread to every instance at commit, see `persistence.account_state`) and the audit row
commit together or not at all. `actor_id` None is the command line.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from hub.errors import NotFound
from persistence import account_state, audit
from persistence.account_state import RevocationKind


async def ban(conn: asyncpg.Connection, *, actor_id: UUID | None, user_id: UUID, until: datetime,
              reason: str | None) -> None:
    """Bans until `until`: the user's older tokens stop counting and their sockets close with 4003."""
    if not await account_state.set_ban(conn, user_id, until):
        raise NotFound("No such user")
    await account_state.revoke_tokens(conn, user_id, RevocationKind.REVOKED)
    await audit.record(conn, actor_id=actor_id, action="user.ban", target_type="user", target_id=str(user_id),
                       reason=reason, details={"until": until.isoformat()})


async def unban(conn: asyncpg.Connection, *, actor_id: UUID | None, user_id: UUID, reason: str | None) -> None:
    """Lifts a ban; the tokens revoked by it stay revoked (the user signs in again)."""
    if not await account_state.set_ban(conn, user_id, None):
        raise NotFound("No such user")
    await audit.record(conn, actor_id=actor_id, action="user.unban", target_type="user", target_id=str(user_id),
                       reason=reason)


async def change_role(conn: asyncpg.Connection, *, actor_id: UUID | None, user_id: UUID, role: str | None,
                      reason: str | None) -> None:
    """Sets the app role (`admin`, `host` or None). Older tokens carry the old role, so they stop counting;
    live sockets stay and lose only the subscriptions the new role does not allow."""
    if not await account_state.set_role(conn, user_id, role):
        raise NotFound("No such user")
    await account_state.revoke_tokens(conn, user_id, RevocationKind.ROLE)
    await audit.record(conn, actor_id=actor_id, action="user.role", target_type="user", target_id=str(user_id),
                       reason=reason, details={"role": role})
