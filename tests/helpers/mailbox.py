"""A real SMTP server on loopback (aiosmtpd) for the whole test run, and what it received, per recipient.

Every hub in the tests sends here (`SMTP_URL` in `base_settings` and tests/helpers/instances.py). Tests use
unique addresses, so parallel tests never see each other's mail. Besides collecting, the server can refuse a
recipient (`refuse`: 550 at RCPT, the retry tests) and hold a recipient's mail after its DATA arrived without
answering (`hold`: the crash tests kill the sender while the server holds its mail). It accepts AUTH PLAIN
and LOGIN with any credentials over plain SMTP and remembers them (`logins`), so a test can check what a
hub with `user:password@` in SMTP_URL sent.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.helpers.ports import free_port

_LINK = re.compile(r"https?://[^\s<>\"']+")


def link_in(message: EmailMessage) -> str:
    """The first link in the message's plain-text body."""
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage), "message has no plain-text body"
    found = _LINK.search(body.get_content())
    assert found, f"no link in {body.get_content()!r}"
    return found.group(0)


@dataclass
class Hold:
    """Mail to `to` waits after DATA until `release()`; `held` counts the DATA commands that waited, and
    `held_ids` their Message-IDs. A client that disconnects while its mail is held has it discarded, never
    delivered (as a real server does without its 250): `dropped` counts those."""

    to: str
    _mailbox: Mailbox
    held: int = 0
    dropped: int = 0
    held_ids: list[str] = field(default_factory=list)
    _released: asyncio.Event | None = None  # on the server's loop

    def release(self) -> None:
        self._mailbox.release(self)


@dataclass
class Mailbox:
    port: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)
    _messages: dict[str, list[EmailMessage]] = field(default_factory=lambda: defaultdict(list))
    _attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _refused: set[str] = field(default_factory=set)
    _holds: dict[str, Hold] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(default_factory=list)
    _server_loop: asyncio.AbstractEventLoop | None = None

    @property
    def smtp_url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    # --- what tests read -----------------------------------------------------------

    def messages_to(self, to: str) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages.get(to.lower(), []))

    def attempts_to(self, to: str) -> int:
        """RCPT commands naming `to`, refused ones included."""
        with self._lock:
            return self._attempts.get(to.lower(), 0)

    async def wait_for(self, to: str, within: float = 10.0, subject_contains: str | None = None) -> EmailMessage:
        """The first message to `to` (whose subject contains `subject_contains`), waiting up to `within` s."""

        def found() -> EmailMessage | None:
            for message in self.messages_to(to):
                if subject_contains is None or subject_contains in str(message["Subject"]):
                    return message
            return None

        message = await self.wait_until(found, within, f"no mail to {to} (subject ~ {subject_contains!r})")
        assert message is not None
        return message

    async def wait_until(self, check: Any, within: float, failure: str) -> Any:
        """Waits until `check()` is truthy, re-checking whenever the server receives something."""
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.append(entry)
        deadline = time.monotonic() + within
        try:
            while True:
                event.clear()
                result = check()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{failure} within {within} s")
                try:
                    await asyncio.wait_for(event.wait(), left)
                except TimeoutError:
                    pass
        finally:
            with self._lock:
                self._waiters.remove(entry)

    # --- steering the server ---------------------------------------------------------

    @contextmanager
    def refuse(self, to: str) -> Iterator[None]:
        """RCPT TO `to` answers 550 inside the block."""
        with self._lock:
            self._refused.add(to.lower())
        try:
            yield
        finally:
            with self._lock:
                self._refused.discard(to.lower())

    def hold(self, to: str) -> Hold:
        assert self._server_loop is not None
        hold = Hold(to.lower(), self)
        with self._lock:
            self._holds[hold.to] = hold
        return hold

    def release(self, hold: Hold) -> None:
        with self._lock:
            self._holds.pop(hold.to, None)
            released = hold._released
        if released is not None and self._server_loop is not None:
            self._server_loop.call_soon_threadsafe(released.set)

    # --- the server side (its own thread and loop) ------------------------------------

    def _changed(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        with self._lock:
            self._attempts[address.lower()] += 1
            refused = address.lower() in self._refused
        self._changed()
        if refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        message = email.message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(),
                                           policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        for to in envelope.rcpt_tos:
            with self._lock:
                hold = self._holds.get(to.lower())
                if hold is not None:
                    hold.held += 1
                    hold.held_ids.append(str(message["Message-ID"]))
                    if hold._released is None:
                        hold._released = asyncio.Event()
                    released = hold._released
            if hold is not None:
                self._changed()
                try:
                    await released.wait()
                except asyncio.CancelledError:  # aiosmtpd cancels the handler when the client goes away
                    with self._lock:
                        hold.dropped += 1
                    self._changed()
                    raise
        with self._lock:
            for to in envelope.rcpt_tos:
                self._messages[to.lower()].append(message)
        self._changed()
        return "250 Message accepted for delivery"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            with self._lock:
                self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """One aiosmtpd server on a free loopback port, for the whole run."""
    mailbox = Mailbox()
    mailbox.port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, authenticator=mailbox.authenticate,
                            auth_require_tls=False, auth_required=False)
    controller.start()
    try:
        mailbox._server_loop = controller.loop
        yield mailbox
    finally:
        controller.stop()
