"""Queueing a mail (`queue_mail`, in the cause's transaction) and the `mail.send` job that sends it.

A mail is never sent from a request: the request queues a `mail.send` job in the same transaction as its
cause, and the job runner sends it (hub/mail/transport.py), retried with backoff. The Message-ID is fixed at
queue time and travels in the payload, so every attempt of one job sends the same Message-ID and a
duplicate (the one window left: a crash between the server's 250 and the done-mark's commit) is
recognisable by the receiving side. Links in mails are built from `settings.public_url`.
"""

from __future__ import annotations

import html
import secrets
from typing import Any

import asyncpg

from hub.jobs.registry import register
from hub.mail.transport import build_message, deliver
from hub.services import Services
from persistence.jobs import enqueue

KIND = "mail.send"
MAX_ADDRESS = 254  # RFC 5321's longest path
MAX_SUBJECT = 200
MAX_BODY = 20_000


def _single_line(value: str, name: str, limit: int) -> str:
    if not value or len(value) > limit or "\r" in value or "\n" in value:
        raise ValueError(f"mail {name} must be one line of 1 to {limit} characters")
    return value


def message_id() -> str:
    """A unique Message-ID. Not `email.utils.make_msgid`: it draws from the `random` module's shared state,
    which this process's other users of `random` (hypothesis, in the tests) must not see move under them."""
    return f"<{secrets.token_hex(16)}@hub.invalid>"


async def queue_mail(conn: asyncpg.Connection, *, to: str, subject: str, text: str, html: str | None = None,
                     key: str | None = None) -> bool:
    """Queues one mail in the caller's transaction (switching it to service_role, as `enqueue` does);
    with `key`, a second mail with the same key is not queued. → whether it was queued. `html`, when
    given, is sent as the alternative to `text` and must be escaped by the caller (`paragraphs_html`)."""
    if len(text) > MAX_BODY or (html is not None and len(html) > MAX_BODY):
        raise ValueError(f"mail bodies are at most {MAX_BODY} characters")
    payload: dict[str, Any] = {
        "to": _single_line(to, "recipient", MAX_ADDRESS),
        "subject": _single_line(subject, "subject", MAX_SUBJECT),
        "text": text,
        "html": html,
        "message_id": message_id(),
    }
    return await enqueue(conn, KIND, payload, key=key)


def paragraphs_html(paragraphs: list[str], link: str | None = None) -> str:
    """A minimal HTML body: each paragraph and the link escaped (the text may hold user content)."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if link is not None:
        body += f'<p><a href="{html.escape(link, quote=True)}">{html.escape(link)}</a></p>'
    return f"<!doctype html><html><body>{body}</body></html>"


def public_link(services: Services, path: str) -> str:
    """An absolute link into the web app for a mail."""
    base = services.settings.public_url.rstrip("/")
    return f"{base}/{path.lstrip('/')}"


@register(KIND)
async def send_mail(services: Services, payload: dict[str, Any]) -> None:
    await deliver(services.settings, build_message(services.settings, payload))
