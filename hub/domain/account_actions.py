"""What is done to an account's tokens: an admin's ban, unban and role change (or a moderator's ban from a
report), the user ending their own sessions (logout-all, a password change, a reset), and the account's
deletion.

Each is one step of the caller's transaction (run as `service_role`): the account's state, the revocation of
its older tokens (spread to every instance at commit, see `persistence.account_state`) and the audit row
commit together or not at all. Each takes the user's row lock before it moves the cutoff, the lock every
issuer of tokens waits on (`hub.domain.account_sessions`). `actor_id` None is the command line.

A route whose transaction may revoke runs it in `revoking(services)`: once it commits, this instance forgets
the cached cutoffs of the accounts it revoked, so its own next request sees the revocation without waiting
for the `hub_accounts` note to come back through the listener.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from uuid import UUID

import asyncpg

from hub.errors import Conflict, NotFound
from hub.services import Services
from persistence import account_data, account_state, audit
from persistence.account_state import RevocationKind
from persistence.identity import SERVICE

# The accounts revoked by the transaction of the innermost `revoking` block of this task. A context
# variable, not a parameter: the revocation may sit deep in a workflow (a report's resolution bans its
# content's author), and the route must not need to know whether it happened.
_REVOKED: ContextVar[set[UUID] | None] = ContextVar("revoked_accounts", default=None)


@asynccontextmanager
async def revoking(services: Services) -> AsyncIterator[asyncpg.Connection]:
    """A `service_role` transaction that may revoke accounts' tokens (see the module's docstring)."""
    revoked: set[UUID] = set()
    reset = _REVOKED.set(revoked)
    try:
        async with services.db.transaction(SERVICE) as conn:
            yield conn
    finally:
        _REVOKED.reset(reset)
    for user_id in revoked:
        services.cutoffs.forget(user_id)


def _revoked(user_id: UUID) -> None:
    revoked = _REVOKED.get()
    if revoked is not None:
        revoked.add(user_id)


async def end_sessions(conn: asyncpg.Connection, user_id: UUID) -> datetime:
    """Every refresh-token family of `user_id` ends and every access token issued until now stops counting
    (its sockets close with 4003). Returns the new cutoff."""
    cutoff = await account_state.end_sessions(conn, user_id)
    _revoked(user_id)
    return cutoff


async def erase(conn: asyncpg.Connection, user_id: UUID) -> bool:
    """Deletes the account (`persistence.account_data.erase`); False when it is already gone. Setting
    `deleted_at` revokes every access token (migration 0019's trigger, which takes the row lock of 0027)."""
    if not await account_data.erase(conn, user_id):
        return False
    _revoked(user_id)
    return True


async def ban(conn: asyncpg.Connection, *, actor_id: UUID | None, user_id: UUID, until: datetime,
              reason: str | None) -> None:
    """Bans until `until`: the user's sessions end as with `end_sessions` (migration 0027's trigger, which
    also ends them for a ban written in SQL), so no refresh token from before the ban works after it.

    An admin may not ban themselves (409 `conflict`), whether from the admin API or the report queue: it
    would lock the one acting out of the admin API mid-action, and could leave the hub without an admin."""
    if actor_id == user_id:
        raise Conflict("Admins cannot ban themselves")
    if not await account_state.set_ban(conn, user_id, until):
        raise NotFound("No such user")
    _revoked(user_id)
    await audit.record(conn, actor_id=actor_id, action="user.ban", target_type="user", target_id=str(user_id),
                       reason=reason, details={"until": until.isoformat()})


async def unban(conn: asyncpg.Connection, *, actor_id: UUID | None, user_id: UUID, reason: str | None) -> None:
    """Lifts a ban; the sessions ended by it stay ended (the user signs in again)."""
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
    _revoked(user_id)
    await audit.record(conn, actor_id=actor_id, action="user.role", target_type="user", target_id=str(user_id),
                       reason=reason, details={"role": role})
