"""Notifications: the one `notify` workflow every cause calls, the inbox, and the email preferences.

`notify` runs in the transaction of its cause (a reply, a promotion, a session change, an achievement, a
report's outcome): the inbox row and its `notification.created` event on `user:<id>` commit with the cause
or not at all, and the event's data is the inbox item itself. Like `append_event`, it leaves the
transaction as `service_role`, so causes call it after their own statements as the caller.

In-app notifications are always on; email is per kind, on or off (`EMAIL_DEFAULTS` for kinds the user
never set). A notification of a kind mailed to its user queues the user's digest job (`DIGEST_JOB`, run by
`hub.mail.digest`), keyed by the user's oldest notification still waiting for a mail: every notification
until that digest goes out joins the same job, so a busy thread sends one mail, not fifty.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

import asyncpg
import msgspec

from channels.names import ChannelName
from hub.errors import ValidationFailed
from hub.pagination import Aware as AwareKey
from hub.pagination import Page, cursor_key, page_of
from persistence import jobs, notifications
from persistence.db import set_identity
from persistence.events import append_event
from persistence.identity import SERVICE, Identity

Kind = Literal[
    "post.reply",  # a comment on your post
    "comment.reply",  # a reply to your comment
    "session.promoted",  # off a waitlist into a seat
    "session.reminder",  # a session you registered for starts in 15 minutes
    "session.rescheduled",
    "session.cancelled",
    "achievement.unlocked",
    "report.resolved",  # a report you filed was decided
]
KINDS: tuple[Kind, ...] = get_args(Kind)

# Email for kinds the user never switched: what others did to or for you, and your sessions, are mailed;
# your own progress and moderation outcomes are not (they are in the inbox and live on the progress page).
EMAIL_DEFAULTS: dict[Kind, bool] = {kind: kind not in ("achievement.unlocked", "report.resolved") for kind in KINDS}

# The ids one mark-read call takes.
MAX_IDS_PER_CALL = 100

DIGEST_JOB = "notification.digest"


class NotificationView(msgspec.Struct):
    """An inbox item: the REST item and the data of its `notification.created` event."""

    id: UUID
    kind: Kind
    data: dict[str, Any]
    read_at: datetime | None
    created_at: datetime


class ReplyNote(msgspec.Struct):
    """`post.reply` and `comment.reply`: who wrote what, where. `excerpt`: the reply's first characters, on
    one line."""

    post_id: UUID
    post_title: str
    comment_id: UUID
    parent_comment_id: UUID | None
    author_id: UUID
    author_name: str | None
    excerpt: str


class SessionNote(msgspec.Struct, omit_defaults=True):
    """The session kinds; `previous_scheduled_at` only for `session.rescheduled`."""

    session_id: UUID
    title: str
    scheduled_at: datetime
    previous_scheduled_at: datetime | None = None


class AchievementNote(msgspec.Struct):
    achievement_id: UUID
    code: str
    title: str
    xp_reward: int


class ReportNote(msgspec.Struct):
    """`report.resolved`: the reporter's report and what the moderator decided."""

    report_id: UUID
    target_type: str
    target_id: UUID
    outcome: str


Note = ReplyNote | SessionNote | AchievementNote | ReportNote

# The reply's first characters a notification keeps (the row's `data` is capped at 4 KiB).
EXCERPT_CHARS = 200


def excerpt(text: str) -> str:
    """The text on one line (an item in a list, a line of a mail), cut to `EXCERPT_CHARS`."""
    line = " ".join(text.split())
    return line if len(line) <= EXCERPT_CHARS else line[:EXCERPT_CHARS - 1] + "…"


def notification_view(row: asyncpg.Record) -> NotificationView:
    return NotificationView(id=row["id"], kind=row["kind"], data=row["data"], read_at=row["read_at"],
                            created_at=row["created_at"])


async def notify(conn: asyncpg.Connection, user_id: UUID, kind: Kind, data: Note, *,
                 mailed_now: bool = False) -> NotificationView:
    """Adds the inbox item and appends its `notification.created` on `user:<user_id>`, in the caller's
    transaction, which it leaves as `service_role`; queues the user's digest when the kind is mailed to
    them. `mailed_now`: the caller queues a mail of its own for this one (a reminder cannot wait for a
    digest), so it is stored as mailed and joins no digest."""
    await set_identity(conn, SERVICE)
    row = await notifications.insert(conn, user_id, kind, msgspec.to_builtins(data), emailed=mailed_now)
    view = notification_view(row)
    await append_event(conn, ChannelName.user(user_id), "notification.created", view)
    chosen = await notifications.email_settings(conn, user_id)
    if email_enabled(chosen, kind) and not mailed_now:
        anchor = await notifications.oldest_awaiting_mail(conn, user_id, mailed_kinds(chosen))
        await jobs.enqueue(conn, DIGEST_JOB, {"user_id": str(user_id), "anchor_id": str(anchor)},
                           key=f"{DIGEST_JOB}:{user_id}:{anchor}")
    return view


async def notify_session_audience(conn: asyncpg.Connection, session_id: UUID, kind: Kind, note: SessionNote) -> None:
    """Tells every registered and waitlisted user of the session: one row and one event each, so the
    transaction grows with the audience (bounded by the session's capacity and its waitlist)."""
    await set_identity(conn, SERVICE)
    for user_id in await notifications.session_audience(conn, session_id):
        await notify(conn, user_id, kind, note)


class MarkRead(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """`POST /api/notifications/read`: `{ids: [...]}` (at most 100) or `{all: true}`, not both."""

    ids: Annotated[list[UUID], msgspec.Meta(max_length=MAX_IDS_PER_CALL)] | msgspec.UnsetType = msgspec.UNSET
    all: bool = False


class MarkedRead(msgspec.Struct):
    marked: int  # how many were unread and are read now
    unread_notifications: int


class NotificationSettings(msgspec.Struct):
    """Email on or off for every kind (in-app is always on). PATCH takes any subset of the kinds."""

    email: dict[Kind, bool]


class NotificationSettingsPatch(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[dict[Kind, bool], msgspec.Meta(max_length=len(KINDS))]


async def inbox(conn: asyncpg.Connection, user: Identity, *, unread_only: bool, cursor: str | None,
                limit: int) -> Page[NotificationView]:
    """As the caller: newest first, keyset-paged on (created_at, id)."""
    after = cursor_key(cursor, tuple[AwareKey, UUID])
    rows = await notifications.page(conn, user.require_user_id(), unread_only=unread_only, after=after,
                                    limit=limit + 1)
    return page_of([notification_view(r) for r in rows], limit,
                   lambda item: [item.created_at.isoformat(), str(item.id)])


async def mark_read(conn: asyncpg.Connection, user: Identity, request: MarkRead) -> MarkedRead:
    """As the caller; 422 unless exactly one of `ids` and `all: true` is given. Unknown ids, other users'
    ids and ids read already are left alone."""
    has_ids = not isinstance(request.ids, msgspec.UnsetType)
    if has_ids == request.all:
        raise ValidationFailed({"ids": "give either ids or all: true"})
    user_id = user.require_user_id()
    ids = None if isinstance(request.ids, msgspec.UnsetType) else request.ids
    marked = await notifications.mark_read(conn, user_id, ids)
    return MarkedRead(marked=marked, unread_notifications=await notifications.unread_count(conn, user_id))


async def unread_count(conn: asyncpg.Connection, user_id: UUID) -> int:
    return await notifications.unread_count(conn, user_id)


def email_enabled(chosen: dict[str, bool], kind: Kind) -> bool:
    return chosen.get(kind, EMAIL_DEFAULTS[kind])


def mailed_kinds(chosen: dict[str, bool]) -> list[Kind]:
    return [kind for kind in KINDS if email_enabled(chosen, kind)]


async def wants_email(conn: asyncpg.Connection, user_id: UUID, kind: Kind) -> bool:
    """Whether the user has email on for `kind` (as `service_role`)."""
    await set_identity(conn, SERVICE)
    return email_enabled(await notifications.email_settings(conn, user_id), kind)


_OUTCOMES = {"dismiss": "no action was needed", "remove_content": "the content was removed",
             "ban_author": "the author was banned"}


def describe(kind: str, data: dict[str, Any]) -> str:
    """One line of plain text for a notification (the digest mail; the browser app has its own)."""
    who = data.get("author_name") or "Someone"
    outcome = _OUTCOMES.get(str(data.get("outcome")), "resolved")
    texts = {
        "post.reply": lambda: f'{who} commented on "{data.get("post_title")}": {data.get("excerpt")}',
        "comment.reply": lambda: f'{who} replied to your comment on "{data.get("post_title")}": {data.get("excerpt")}',
        "session.promoted": lambda: f'You got a seat in "{data.get("title")}"',
        "session.reminder": lambda: f'"{data.get("title")}" starts in 15 minutes',
        "session.rescheduled": lambda: f'"{data.get("title")}" moved to {data.get("scheduled_at")}',
        "session.cancelled": lambda: f'"{data.get("title")}" was cancelled',
        "achievement.unlocked": lambda: f'Achievement unlocked: {data.get("title")}',
        "report.resolved": lambda: f"A report you filed was reviewed: {outcome}",
    }
    text = texts.get(kind)
    return text() if text else "You have a new notification"


async def settings_of(conn: asyncpg.Connection, user_id: UUID) -> NotificationSettings:
    """Runs as `service_role` (the preferences are server-only)."""
    await set_identity(conn, SERVICE)
    chosen = await notifications.email_settings(conn, user_id)
    return NotificationSettings(email={kind: email_enabled(chosen, kind) for kind in KINDS})


async def change_settings(conn: asyncpg.Connection, user_id: UUID,
                          patch: NotificationSettingsPatch) -> NotificationSettings:
    await set_identity(conn, SERVICE)
    await notifications.set_email_settings(conn, user_id, {str(k): v for k, v in patch.email.items()})
    return await settings_of(conn, user_id)
