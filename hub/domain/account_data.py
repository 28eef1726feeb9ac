"""The account's own data: its export (`GET /api/me/export`) and its deletion (`DELETE /api/me`).

Deletion, in this order:
1. the password is checked (`hub.domain.account_sessions.check_current_password`);
2. every subscription Stripe may still bill is cancelled at once, outside any transaction (as the webhook
   code calls Stripe). A Stripe failure refuses the deletion (502 `stripe_unavailable`, nothing deleted, the
   caller may retry): a deleted account must never go on paying, and cancelling first needs no durable
   retry for the opposite order's "deleted but still billed". The `customer.subscription.deleted` webhook
   that follows updates the kept subscription row as usual;
3. one transaction removes the personal data (`persistence.account_data.erase`): email to a
   `deleted-<id>@deleted.invalid` placeholder (the address is free to sign up again), password hash,
   metadata and role, pending link tokens, the profile's name, avatar, bio and goals (the profile is renamed
   "deleted user", which every author view shows), refresh tokens, blocks both ways, the activity log, the
   notifications and their email settings,
   stored idempotent replies. Posts, comments, chat lines, votes, reports filed, registrations, progress and
   subscription rows stay, attributed to the deleted user. Setting `deleted_at` revokes every access token
   (migration 0019's trigger, through `hub.domain.account_actions.erase`): REST answers 401 and live sockets
   close with 4003 on every instance.
There is no undo: the password hash and email are gone, so nothing can sign in as the account again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from hub.billing.stripe_gateway import gateway_of
from hub.domain import account_actions
from hub.domain.account_sessions import check_current_password
from hub.errors import Unauthorized
from hub.services import Services
from persistence import account_data
from persistence.identity import SERVICE


class ExportSection(msgspec.Struct):
    """A section's rows, newest first, as stored (column names are the schema's)."""

    rows: list[dict[str, Any]]
    truncated: bool  # more rows exist than EXPORT_SECTION_ROWS; the oldest were left out


class AccountExport(msgspec.Struct):
    """Everything stored about the caller. Each list section holds at most `rows_per_section` rows."""

    exported_at: datetime
    rows_per_section: int
    account: dict[str, Any]
    profile: dict[str, Any] | None
    streak: dict[str, Any] | None
    progress: ExportSection
    achievements: ExportSection
    leaderboard: ExportSection
    activity: ExportSection
    posts: ExportSection
    comments: ExportSection
    votes: ExportSection
    registrations: ExportSection
    session_messages: ExportSection
    subscriptions: ExportSection
    reports: ExportSection
    blocks: ExportSection
    notifications: ExportSection
    notification_settings: ExportSection


_SECTIONS = ("progress", "achievements", "leaderboard", "activity", "posts", "comments", "votes", "registrations",
             "session_messages", "subscriptions", "reports", "blocks", "notifications", "notification_settings")


async def export(services: Services, user_id: UUID) -> AccountExport:
    limit = services.settings.export_section_rows
    async with services.db.transaction(SERVICE) as conn:
        document = await account_data.export(conn, user_id, limit)
    if document["account"] is None:
        raise Unauthorized("Account no longer exists")
    sections = {name: ExportSection(rows=document[name][:limit], truncated=len(document[name]) > limit)
                for name in _SECTIONS}
    return AccountExport(exported_at=datetime.now(UTC), rows_per_section=limit, account=document["account"],
                         profile=document["profile"], streak=document["streak"], **sections)


async def delete_account(services: Services, user_id: UUID, password: str) -> None:
    await check_current_password(services, user_id, password)
    async with services.db.transaction(SERVICE) as conn:
        subscriptions = await account_data.live_stripe_subscriptions(conn, user_id)
    if subscriptions:
        gateway = gateway_of(services)
        for subscription_id in subscriptions:
            await gateway.cancel_subscription(subscription_id)
    async with account_actions.revoking(services) as conn:
        if not await account_actions.erase(conn, user_id):
            raise Unauthorized("Account no longer exists")
