"""Sending one built message: over SMTP (`SMTP_URL`) with aiosmtplib, or, with no SMTP configured (the
embedded default), into `outbox/` of the data folder as an `.eml` file, its subject and link logged so the
demo works on a fresh clone.

The SMTP password is only handed to aiosmtplib's login: it is in no log line and no exception text here.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

import aiosmtplib

from hub.mail.smtp_url import parse_smtp_url
from hub.settings import Settings

log = logging.getLogger("hub.mail")

SMTP_TIMEOUT_S = 30.0
_LINK = re.compile(r"https?://[^\s<>\"']+")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def build_message(settings: Settings, payload: dict[str, Any]) -> EmailMessage:
    """The message of a `mail.send` payload: plain text, plus HTML as multipart/alternative when given."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = payload["message_id"]
    message.set_content(payload["text"])
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html")
        # Chosen here: left unset, the generator draws the boundary from the `random` module's shared state.
        message.set_boundary(f"=_{secrets.token_hex(16)}")
    return message


def first_link(text: str) -> str | None:
    found = _LINK.search(text)
    return found.group(0) if found else None


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if isinstance(part, EmailMessage) else ""


async def deliver(settings: Settings, message: EmailMessage) -> None:
    """Sends `message`; raises when the server refuses it or cannot be reached (the job is retried)."""
    if settings.smtp_url is None:
        path = await asyncio.to_thread(_write_outbox, settings.data_path() / "outbox", message)
        log.info("mail to outbox (no SMTP_URL): %s, subject %r, link %s", path.name, message["Subject"],
                 first_link(_text_of(message)))
        return
    target = parse_smtp_url(settings.smtp_url)
    client = aiosmtplib.SMTP(
        hostname=target.host, port=target.port, username=target.username, password=target.password,
        use_tls=target.security == "tls", start_tls=target.security == "starttls", timeout=SMTP_TIMEOUT_S,
    )
    try:
        await client.connect()  # logs in when the URL has credentials
        await client.send_message(message)
    finally:
        # Closed without QUIT, on success too: after the server's 250 every round trip widens the window
        # before the done-mark, and a QUIT to a server that has not answered DATA would wait for its
        # timeout when a stopping runner cancels a send (aiosmtplib's own `send` does that QUIT).
        client.close()


def _write_outbox(folder: Path, message: EmailMessage) -> Path:
    """One file per Message-ID, so a retried job rewrites its file rather than adding a second."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (_UNSAFE_NAME.sub("_", str(message["Message-ID"]).strip("<>")) + ".eml")
    partial = path.with_suffix(".eml.part")
    partial.write_bytes(message.as_bytes())
    partial.replace(path)
    return path
