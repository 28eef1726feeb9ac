"""Mailed links: email verification, password recovery and reset, email change.

A link's token is 256 random bits (`secrets.token_urlsafe(32)`), mailed and never stored: the database keeps
its SHA-256 (`persistence.account_links`) and a token is looked up by that hash. Verification links work for
`VERIFICATION_TTL`, reset and email-change links for `RECOVERY_TTL`/`EMAIL_CHANGE_TTL`; each works once, and a
new link of a kind replaces the account's previous one. An unknown, spent or expired token is 400
`invalid_token`, one answer for all three, so a token tells nothing about the account it belonged to.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from hub.domain import account_actions, account_mail
from hub.domain.account_sessions import check_current_password, open_session
from hub.domain.accounts import TokenPair
from hub.errors import AlreadyDone, EmailTaken, InvalidToken, Unauthorized
from hub.jobs.registry import register
from hub.passwords import hash_password
from hub.services import Services
from hub.tokens import hash_refresh_token, new_refresh_token
from persistence import account_links, accounts
from persistence.identity import SERVICE
from persistence.jobs import enqueue

RECOVER_JOB = "account.recover"


class EmailChanged(msgspec.Struct):
    email: str


async def start_verification(services: Services, conn: asyncpg.Connection, user_id: UUID, email: str) -> None:
    """Mails a new verification link to `email`, in the caller's transaction (signup, a resend)."""
    token, token_hash = new_refresh_token()
    await account_links.set_confirmation(conn, user_id, token_hash)
    await account_mail.verification(services, conn, email, token)


async def resend_verification(services: Services, user_id: UUID) -> None:
    """A new verification link (the previous one stops working); 409 `already_done` once verified."""
    async with services.db.transaction(SERVICE) as conn:
        user = await accounts.user_by_id(conn, user_id)
        if user is None:
            raise Unauthorized("Account no longer exists")
        if user["email_confirmed_at"] is not None:
            raise AlreadyDone("This email address is already verified")
        await start_verification(services, conn, user_id, user["email"])


async def verify(services: Services, token: str) -> TokenPair:
    """Marks the account's email verified and answers a new pair whose token says so: a token issued before
    stays refused by the write gate until it is refreshed. The link proves the mailbox, so opening it signs in
    (as a reset link does). A banned account's link is refused with `banned` and stays unspent."""
    async with services.db.transaction(SERVICE) as conn:
        user_id = await account_links.confirm_email(conn, hash_refresh_token(token),
                                                    services.settings.verification_ttl_s)
        if user_id is None:
            raise InvalidToken()
        return await open_session(services, conn, user_id)


async def recover(services: Services, email: str) -> None:
    """Queues an `account.recover` job for `email`, whether or not it has an account: the request does the
    same work (one INSERT, one NOTIFY) both ways, so neither the answer (202) nor its timing tells whether
    the account exists. The job looks the account up (`send_recovery`)."""
    async with services.db.transaction(SERVICE) as conn:
        await enqueue(conn, RECOVER_JOB, {"email": email})


@register(RECOVER_JOB)
async def send_recovery(services: Services, payload: dict[str, Any]) -> None:
    """Stores a new reset token's hash and queues its mail when the address has an account; nothing
    otherwise. The token is made here, so the plain token is only ever in the mail, never in this job's
    payload. Run twice (the runner's at-least-once delivery), it mails a second link that replaces the first,
    as asking again does."""
    email: str = payload["email"]
    token, token_hash = new_refresh_token()
    async with services.db.transaction(SERVICE) as conn:
        if await account_links.set_recovery(conn, email, token_hash) is not None:
            await account_mail.recovery(services, conn, email, token)


async def reset(services: Services, token: str, password: str) -> TokenPair:
    """Sets the password of the link's account, ends every refresh family and every access token issued
    before (sockets close with 4003), and answers a new pair issued after that, as a password change does
    (`hub.domain.account_sessions.change_password`). A banned account's link is refused with `banned` and
    stays unspent."""
    password_hash = await hash_password(services.signup_hashes, password)
    async with account_actions.revoking(services) as conn:
        # Spending the link sets the password and takes the account's row lock, before its sessions end.
        user_id = await account_links.reset_password(conn, hash_refresh_token(token),
                                                     services.settings.recovery_ttl_s, password_hash)
        if user_id is None:
            raise InvalidToken()
        cutoff = await account_actions.end_sessions(conn, user_id)
        return await open_session(services, conn, user_id, after=cutoff)


async def request_email_change(services: Services, user_id: UUID, new_email: str, password: str) -> None:
    """Checks the password, then mails a confirmation link to `new_email` and a notice to the current
    address; the address changes only when that link comes back, and anything that ends the account's
    sessions (reset, password change, logout-all, ban: migration 0033) voids the link. 409 `email_taken`
    when an account has the address."""
    await check_current_password(services, user_id, password)
    token, token_hash = new_refresh_token()
    async with services.db.transaction(SERVICE) as conn:
        if await account_links.email_in_use(conn, new_email):
            raise EmailTaken()
        current = await account_links.set_email_change(conn, user_id, new_email, token_hash)
        if current is None:
            raise Unauthorized("Account no longer exists")
        await account_mail.email_change(services, conn, new_email, token)
        await account_mail.email_change_asked(conn, current, new_email)


async def confirm_email_change(services: Services, token: str) -> EmailChanged:
    """Switches the account to the new address and mails a notice to the old one. Tokens issued before keep
    their old `email` claim until refreshed; nothing else reads it."""
    try:
        async with services.db.transaction(SERVICE) as conn:
            changed = await account_links.confirm_email_change(conn, hash_refresh_token(token),
                                                               services.settings.email_change_ttl_s)
            if changed is None:
                raise InvalidToken()
            await account_mail.email_changed(conn, changed["old_email"], changed["email"])
    except asyncpg.UniqueViolationError:
        raise EmailTaken() from None
    return EmailChanged(email=changed["email"])
