"""Bans, role changes and the audit log at the SQL level: each action's state, revocation note and audit row
commit together, and a rolled-back action leaves none of them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from hub.domain import account_actions
from hub.errors import NotFound
from persistence import account_state, audit
from persistence.account_state import ACCOUNTS_CHANNEL
from persistence.db import Database
from persistence.identity import SERVICE
from tests.helpers.services import DatabaseUnderTest


async def new_user(conn: asyncpg.Connection, email: str) -> UUID:
    user_id: UUID = await conn.fetchval(
        "INSERT INTO auth.users (email, encrypted_password) VALUES ($1, 'x') RETURNING id", email)
    return user_id


async def notes_on(test_db: DatabaseUnderTest) -> tuple[asyncpg.Connection, asyncio.Queue[dict[str, object]]]:
    listener = await asyncpg.connect(test_db.owner_dsn)
    notes: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    await listener.add_listener(ACCOUNTS_CHANNEL, lambda *args: notes.put_nowait(json.loads(args[3])))
    return listener, notes


async def test_a_ban_sets_the_state_moves_the_cutoff_notifies_and_is_audited(
        app_db: Database, owner_conn: asyncpg.Connection, test_db: DatabaseUnderTest) -> None:
    target = await new_user(owner_conn, "ban-target@example.com")
    actor = await new_user(owner_conn, "ban-actor@example.com")
    listener, notes = await notes_on(test_db)
    until = datetime.now(UTC) + timedelta(days=1)
    try:
        async with app_db.transaction(SERVICE) as conn:
            await account_actions.ban(conn, actor_id=actor, user_id=target, until=until, reason="spam")
            cutoff = (await account_state.cutoffs_us(conn, [target]))[target]
        note = await asyncio.wait_for(notes.get(), 10)
    finally:
        await listener.close()
    assert note == {"u": str(target), "k": "revoked", "a": cutoff}
    assert await owner_conn.fetchval("SELECT banned_until FROM auth.users WHERE id = $1", target) == until
    async with app_db.transaction(SERVICE) as conn:
        rows = await audit.newest(conn, before_id=None, limit=10)
    assert [(r["action"], r["actor_id"], r["target_id"], r["reason"]) for r in rows][:1] == [
        ("user.ban", actor, str(target), "spam")]


async def test_a_rolled_back_role_change_leaves_no_state_note_or_audit_row(
        app_db: Database, owner_conn: asyncpg.Connection, test_db: DatabaseUnderTest) -> None:
    target = await new_user(owner_conn, "role-rollback@example.com")
    audited = await owner_conn.fetchval("SELECT count(*) FROM private.admin_audit")
    listener, notes = await notes_on(test_db)
    try:
        with pytest.raises(RuntimeError):
            async with app_db.transaction(SERVICE) as conn:
                await account_actions.change_role(conn, actor_id=None, user_id=target, role="host", reason=None)
                raise RuntimeError("abort")
        # A later committed note proves the listener is live, and that nothing came before it.
        async with app_db.transaction(SERVICE) as conn:
            await account_state.revoke_tokens(conn, target, account_state.RevocationKind.REVOKED)
        note = await asyncio.wait_for(notes.get(), 10)
    finally:
        await listener.close()
    assert note["k"] == "revoked"
    assert await owner_conn.fetchval("SELECT coalesce(raw_app_meta_data, '{}') ? 'role' FROM auth.users WHERE id = $1",
                                     target) is False
    assert await owner_conn.fetchval("SELECT count(*) FROM private.admin_audit") == audited


async def test_a_cutoff_never_moves_back(app_db: Database, owner_conn: asyncpg.Connection) -> None:
    target = await new_user(owner_conn, "cutoff-monotonic@example.com")
    async with app_db.transaction(SERVICE) as conn:
        first = await account_state.revoke_tokens(conn, target, account_state.RevocationKind.REVOKED)
    await owner_conn.execute("UPDATE private.token_cutoffs SET valid_after = valid_after + interval '1 hour' "
                             "WHERE user_id = $1", target)
    async with app_db.transaction(SERVICE) as conn:
        second = await account_state.revoke_tokens(conn, target, account_state.RevocationKind.ROLE)
    assert second == first + timedelta(hours=1)


async def test_actions_on_an_unknown_user_are_not_found(app_db: Database) -> None:
    with pytest.raises(NotFound):
        async with app_db.transaction(SERVICE) as conn:
            await account_actions.ban(conn, actor_id=None, user_id=UUID(int=7), reason=None,
                                      until=datetime.now(UTC) + timedelta(hours=1))
