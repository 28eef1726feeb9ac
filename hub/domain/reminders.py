"""Session reminders: a `session.reminders` job 15 minutes before a session starts mails every participant
holding a seat, once.

`schedule_reminder` is called in the transaction that creates a session or moves its start; the job's key
names the session and the start (`reminder:<session_id>:<start>`), so a reschedule queues a new job and
the old one, when it runs, finds the start changed and does nothing (as for a cancelled or already
started session). Each participant's mail has its own key, so a reminder job that runs twice (at least
once delivery, hub/jobs/registry.py) still queues one mail per participant.

`remind` is the hook for everything a reminder does: each seat holder's `session.reminder` notification
(in-app always), and the mail for those with that kind's email on (mailed at once, never in a digest).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from hub.domain.notifications import SessionNote, notify, wants_email
from hub.jobs.registry import register
from hub.mail.outgoing import paragraphs_html, public_link, queue_mail
from hub.services import Services
from persistence import reminders
from persistence.identity import SERVICE
from persistence.jobs import enqueue

KIND = "session.reminders"
REMIND_BEFORE = timedelta(minutes=15)
_TITLE_IN_SUBJECT = 150


def _instant(starts_at: datetime) -> str:
    return starts_at.astimezone(UTC).isoformat()


async def schedule_reminder(conn: asyncpg.Connection, session_id: UUID, starts_at: datetime) -> bool:
    """Queues the reminder of the session starting at `starts_at`, in the caller's transaction (which is
    left in service_role, as `enqueue` does); a no-op when that start already has one. A start less than
    15 minutes away is reminded of at once."""
    key = f"reminder:{session_id}:{_instant(starts_at)}"
    payload = {"session_id": str(session_id), "starts_at": _instant(starts_at)}
    return await enqueue(conn, KIND, payload, run_at=starts_at - REMIND_BEFORE, key=key)


@register(KIND)
async def send_reminders(services: Services, payload: dict[str, Any]) -> None:
    await remind(services, UUID(payload["session_id"]), datetime.fromisoformat(payload["starts_at"]))


async def remind(services: Services, session_id: UUID, starts_at: datetime) -> None:
    """Reminds the participants holding a seat in the session that starts at `starts_at`; nothing when the
    session is gone, no longer scheduled, or starts at another time now (its reschedule has its own job)."""
    async with services.db.transaction(SERVICE) as conn:
        session = await reminders.session_start(conn, session_id)
        if session is None or session["status"] != "scheduled" or session["scheduled_at"] != starts_at:
            return
        title = " ".join(session["title"].split())
        link = public_link(services, f"#/sessions/{session_id}")
        when = f"{starts_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        lines = [f"“{title}” starts at {when}, in about 15 minutes.", "Join the session here:"]
        for participant in await reminders.registered_addresses(conn, session_id):
            # In-app always; the mail only for those with the reminder's email on.
            mail = await wants_email(conn, participant["user_id"], "session.reminder")
            await notify(conn, participant["user_id"], "session.reminder",
                         SessionNote(session_id=session_id, title=title, scheduled_at=starts_at), mailed_now=mail)
            if not mail:
                continue
            await queue_mail(
                conn, to=participant["email"], subject=f"Starting soon: {title[:_TITLE_IN_SUBJECT]}",
                text="\n\n".join([*lines, link]) + "\n", html=paragraphs_html(lines, link),
                key=f"reminder-mail:{session_id}:{_instant(starts_at)}:{participant['user_id']}")
