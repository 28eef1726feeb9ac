"""Reports of posts, comments, chat lines and users, and what a moderator decides about them.

Filing a report checks, as the reporter, that the target exists and is visible to them (else 404, so a
report cannot probe for hidden rows), then stores it as `service_role` and hides the content once
`REPORT_HIDE_THRESHOLD` users hold open reports on it. Resolving decides for every open report of the
target at once, in one transaction: the reports, the removal or ban, the audit row and each reporter's
notification (`report.resolved`, with its `notification.created`) commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

from hub.domain import account_actions
from hub.domain.comments import remove_comment
from hub.domain.messages import remove_chat_line
from hub.domain.notifications import ReportNote, notify
from hub.domain.posts import remove_post
from hub.errors import AlreadyReported, InvalidTransition, NotFound, ValidationFailed
from hub.pagination import Page, page_of
from persistence import audit, reports
from persistence.db import set_identity
from persistence.identity import SERVICE, Identity

TargetType = Literal["post", "comment", "session_message", "user"]
Reason = Literal["spam", "abuse", "off_topic", "other"]
Action = Literal["dismiss", "remove_content", "ban_author"]

# The reports a queue entry shows in full; `report_count` still counts them all.
REPORTS_PER_TARGET = 20


class ReportView(msgspec.Struct):
    """A report as its reporter gets it back."""

    id: UUID
    target_type: TargetType
    target_id: UUID
    reason: Reason
    status: Literal["open", "resolved"]
    created_at: datetime


class QueuedReport(msgspec.Struct):
    id: UUID
    reporter_id: UUID
    reason: Reason
    details: str | None
    created_at: datetime
    outcome: Action | None
    note: str | None
    resolved_at: datetime | None


class ReportedContent(msgspec.Struct):
    """The target as it is now. `removed`: gone or deleted (then `body` is null); `hidden`: hidden pending
    review. For a user target `author_*` is the user; `title` is the post's (a comment's post's)."""

    removed: bool
    hidden: bool
    title: str | None
    body: str | None
    post_id: UUID | None
    session_id: UUID | None
    author_id: UUID | None
    author_name: str | None
    author_email: str | None


class ReportGroup(msgspec.Struct):
    """The reports of one target in the queue, its newest `REPORTS_PER_TARGET` in `reports`."""

    target_type: TargetType
    target_id: UUID
    report_count: int
    reasons: list[Reason]
    newest_at: datetime
    content: ReportedContent
    reports: list[QueuedReport]


class Resolution(msgspec.Struct):
    """What `POST /api/admin/reports/{id}/resolve` answers."""

    target_type: TargetType
    target_id: UUID
    outcome: Action
    resolved: list[UUID]  # the ids of the reports this resolved


async def file_report(conn: asyncpg.Connection, reporter: Identity, target_type: TargetType, target_id: UUID,
                      reason: Reason, details: str | None, *, hide_threshold: int) -> ReportView:
    """404 when the reporter cannot see the target (or it is deleted), 422 for the reporter's own account or
    content, 409 `already_reported` for a second report of the same target by the same user."""
    reporter_id = reporter.require_user_id()
    facts = await reports.target_facts(conn, target_type, target_id)
    if facts is None or facts["removed"]:
        raise NotFound("Nothing to report there")
    if facts["author_id"] == reporter_id:
        raise ValidationFailed({"target_id": "is you or your own content"})
    await set_identity(conn, SERVICE)
    row = await reports.insert(conn, reporter_id, target_type, target_id, reason, details)
    if row is None:
        raise AlreadyReported("You already reported this")
    if target_type != "user":
        await reports.hide_when_reported(conn, target_type, target_id, hide_threshold)
    return msgspec.convert(dict(row), ReportView)


async def queue(conn: asyncpg.Connection, status: Literal["open", "resolved"], after: tuple[datetime, UUID] | None,
                size: int) -> Page[ReportGroup]:
    """One page of the queue (as `service_role`): grouped by target, the target with the newest report
    first; the cursor is (newest report, target)."""
    rows = await reports.queue_page(conn, status, after, size + 1, REPORTS_PER_TARGET)
    page = page_of(rows, size, lambda row: [row["newest_at"].isoformat(), str(row["target_id"])])
    return Page(items=[_report_group(row) for row in page.items], next_cursor=page.next_cursor)


def _report_group(row: asyncpg.Record) -> ReportGroup:
    return ReportGroup(
        target_type=row["target_type"],
        target_id=row["target_id"],
        report_count=row["report_count"],
        reasons=list(row["reasons"]),
        newest_at=row["newest_at"],
        content=ReportedContent(
            removed=row["removed"], hidden=row["hidden"], title=row["title"], body=row["body"],
            post_id=row["post_id"], session_id=row["session_id"], author_id=row["author_id"],
            author_name=row["author_name"], author_email=row["author_email"]),
        reports=msgspec.convert(row["reports"], list[QueuedReport]),
    )


async def _remove(conn: asyncpg.Connection, moderator: Identity, target_type: str, target_id: UUID,
                  facts: asyncpg.Record | None) -> None:
    """Removes the content the way a moderator's delete does, as the moderator; content already gone
    needs nothing."""
    if facts is None or facts["removed"]:
        return
    await set_identity(conn, moderator)
    if target_type == "post":
        await remove_post(conn, target_id)
    elif target_type == "comment":
        await remove_comment(conn, target_id)
    else:
        await remove_chat_line(conn, moderator, facts["session_id"], target_id, ("chat", "question"))
    await set_identity(conn, SERVICE)


async def resolve(conn: asyncpg.Connection, moderator: Identity, report_id: UUID, action: Action,
                  note: str | None, *, now: datetime, ban_days: int) -> Resolution:
    """Resolves every open report on the target of `report_id` (the transaction runs as `service_role`).
    404 for an unknown report; 409 `invalid_transition` when its target has no open report left; 422 for
    `remove_content` on a user; `ban_author` also removes the content, and is 404 when the content is gone
    with its author unknown (a deleted post)."""
    moderator_id = moderator.require_user_id()
    target = await reports.target_of(conn, report_id)
    if target is None:
        raise NotFound("Report not found")
    target_type, target_id = target["target_type"], target["target_id"]
    if action == "remove_content" and target_type == "user":
        raise ValidationFailed({"action": "a user is not content: dismiss or ban_author"})
    resolved = await reports.resolve_open(conn, target_type, target_id, resolved_by=moderator_id, outcome=action,
                                          note=note)
    if not resolved:
        raise InvalidTransition("Every report on this target is resolved already")
    facts = await reports.target_facts(conn, target_type, target_id)
    if action == "dismiss":
        if target_type != "user":
            await reports.unhide(conn, target_type, target_id)
    else:
        if action == "ban_author":
            if facts is None:
                raise NotFound("The reported content is gone and its author with it")
            await account_actions.ban(conn, actor_id=moderator_id, user_id=facts["author_id"],
                                      until=now + timedelta(days=ban_days), reason=note)
        if target_type != "user":
            await _remove(conn, moderator, target_type, target_id, facts)
    await audit.record(conn, actor_id=moderator_id, action="report.resolve", target_type=target_type,
                       target_id=str(target_id), reason=note,
                       details={"action": action, "reports": [str(r["id"]) for r in resolved]})
    for report in resolved:
        await notify(conn, report["reporter_id"], "report.resolved", ReportNote(
            report_id=report["id"], target_type=target_type, target_id=target_id, outcome=action))
    return Resolution(target_type=target_type, target_id=target_id, outcome=action,
                      resolved=[r["id"] for r in resolved])
