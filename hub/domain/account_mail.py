"""The account mails: what each says, and the link it carries. Each is queued in the transaction of its
cause (`hub.mail.outgoing.queue_mail`), so a rolled-back change mails nothing.

Links point into the browser app (`PUBLIC_URL`) with the token in `?token=`: `#/verify`, `#/reset`,
`#/email/confirm`. The token is in the mail only; the database holds its SHA-256.
"""

from __future__ import annotations

import asyncpg

from hub.mail.outgoing import paragraphs_html, public_link, queue_mail
from hub.services import Services


def _hours(seconds: int) -> str:
    hours = seconds / 3600
    if hours >= 1 and hours == int(hours):
        return "1 hour" if hours == 1 else f"{int(hours)} hours"
    return f"{max(1, seconds // 60)} minutes"


async def _send(conn: asyncpg.Connection, to: str, subject: str, paragraphs: list[str],
                link: str | None = None) -> None:
    text = "\n\n".join(paragraphs + ([link] if link else [])) + "\n"
    await queue_mail(conn, to=to, subject=subject, text=text, html=paragraphs_html(paragraphs, link))


async def verification(services: Services, conn: asyncpg.Connection, to: str, token: str) -> None:
    await _send(conn, to, "Confirm your email address", [
        "Welcome to the hub. Open this link to confirm your email address; until then you can read "
        "but not post, comment, vote or register.",
        f"The link works once, for {_hours(services.settings.verification_ttl_s)}. If you did not sign up, "
        "ignore this mail.",
    ], public_link(services, f"#/verify?token={token}"))


async def recovery(services: Services, conn: asyncpg.Connection, to: str, token: str) -> None:
    await _send(conn, to, "Reset your password", [
        "Someone (hopefully you) asked to reset the password of your hub account. Open this link to "
        "choose a new one; every device signed in will be signed out.",
        f"The link works once, for {_hours(services.settings.recovery_ttl_s)}. If you did not ask, ignore "
        "this mail: your password stays as it is.",
    ], public_link(services, f"#/reset?token={token}"))


async def email_change(services: Services, conn: asyncpg.Connection, to: str, token: str) -> None:
    await _send(conn, to, "Confirm your new email address", [
        "Open this link to make this address the one your hub account signs in with.",
        f"The link works once, for {_hours(services.settings.email_change_ttl_s)}. If you did not ask for "
        "this, ignore this mail.",
    ], public_link(services, f"#/email/confirm?token={token}"))


async def email_change_asked(conn: asyncpg.Connection, to: str, new_email: str) -> None:
    """The notice to the current address when a change is asked: the password alone can start one, so the
    owner hears of it before the link is opened, and can void it by resetting the password."""
    await _send(conn, to, "A change of your email address was asked", [
        f"Someone signed in to your hub account asked to make {new_email} the address it signs in with. "
        "Nothing changes until the link mailed to that address is opened.",
        "If this was not you, reset your password (or sign out everywhere): the pending change stops working.",
    ])


async def email_changed(conn: asyncpg.Connection, to: str, new_email: str) -> None:
    """The notice to the old address once the change is confirmed."""
    await _send(conn, to, "Your email address was changed", [
        f"Your hub account now signs in with {new_email} instead of this address.",
        "If you did not make this change, reset your password from the new address's sign-in page or "
        "contact the hub's operators.",
    ])

