"""The `notification.digest` job: one mail listing a user's notifications of the kinds they have mailed.

`hub.domain.notifications.notify` queues the job keyed by the user's oldest notification still waiting for
a mail (the anchor), so every notification until the digest goes out shares one job. The job runs twice: at
once, when it queues its own `due` run for `NOTIFY_DIGEST_WINDOW_S` after the anchor was created (a job's
time is decided here, where the settings are), and then, in one transaction, it takes every unread,
not yet mailed notification of the kinds the user has email on now, marks them mailed and queues the mail.
A repeat of either run is a no-op (the `due` run and the mail are keyed; taken rows are marked).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from hub.domain.notifications import DIGEST_JOB, describe, mailed_kinds
from hub.jobs.registry import register
from hub.mail.outgoing import paragraphs_html, public_link, queue_mail
from hub.services import Services
from persistence import accounts, notifications
from persistence.identity import SERVICE
from persistence.jobs import enqueue

# The notifications one mail lists; the rest are counted ("…and 12 more").
MAX_LISTED = 20


@register(DIGEST_JOB)
async def send_digest(services: Services, payload: dict[str, Any]) -> None:
    user_id, anchor_id = UUID(payload["user_id"]), UUID(payload["anchor_id"])
    now = datetime.fromtimestamp(services.clock(), UTC)
    async with services.db.transaction(SERVICE) as conn:
        if not payload.get("due"):
            anchor_at = await notifications.created_at(conn, anchor_id)
            due = anchor_at + timedelta(seconds=services.settings.notify_digest_window_s) if anchor_at else now
            if due > now:
                await enqueue(conn, DIGEST_JOB, payload | {"due": True}, run_at=due,
                              key=f"{DIGEST_JOB}:{user_id}:{anchor_id}:due")
                return
        user = await accounts.user_by_id(conn, user_id)
        if user is None:
            return
        kinds = mailed_kinds(await notifications.email_settings(conn, user_id))
        taken = await notifications.take_for_digest(conn, user_id, kinds)
        if not taken:
            return
        lines = [describe(row["kind"], row["data"]) for row in taken[:MAX_LISTED]]
        count = len(taken)
        paragraphs = [f"{count} new notification{'s' if count > 1 else ''} on the hub:",
                      *(f"- {line}" for line in lines)]
        if count > len(lines):
            paragraphs.append(f"…and {count - len(lines)} more.")
        paragraphs += [f"All notifications: {public_link(services, '#/notifications')}",
                       f"Choose which are emailed: {public_link(services, '#/settings/notifications')}"]
        # The subject names no user content: a reply's text belongs in the body.
        await queue_mail(conn, to=user["email"], subject=f"{count} new notification{'s' if count > 1 else ''}",
                         text="\n\n".join(paragraphs), html=paragraphs_html(paragraphs),
                         key=f"{DIGEST_JOB}:mail:{user_id}:{anchor_id}")
