"""The durable job runner and outgoing mail, end to end: jobs queued in a transaction run (or not) with it,
start within 2 s of the commit, dedupe by key, retry with backoff and end `failed`; mail reaches a real SMTP
server (tests/helpers/mailbox.py) or, with no SMTP configured, the outbox folder."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import asyncpg
import pytest

from hub.mail.outgoing import paragraphs_html, queue_mail
from hub.settings import Settings
from persistence.db import Database
from persistence.identity import SERVICE
from tests.conftest import HubStarter
from tests.helpers.eventually import eventually
from tests.helpers.mailbox import Mailbox, link_in
from tests.helpers.services import DatabaseUnderTest


def address(label: str) -> str:
    return f"{label}-{secrets.token_hex(6)}@example.test"


class Rollback(Exception):
    pass


async def test_a_mail_queued_in_a_rolled_back_transaction_is_never_sent_and_a_committed_one_within_2_s(
        hub_url: str, app_db: Database, owner_conn: asyncpg.Connection, mailbox: Mailbox) -> None:
    dropped, sent = address("dropped"), address("sent")
    with pytest.raises(Rollback):
        async with app_db.transaction(SERVICE) as conn:
            assert await queue_mail(conn, to=dropped, subject="never", text="never sent", key=f"k:{dropped}")
            raise Rollback
    async with app_db.transaction(SERVICE) as conn:
        await queue_mail(conn, to=sent, subject="Hello there", text="See https://hub.example/x and more")
    committed = time.monotonic()
    message = await mailbox.wait_for(sent, within=2.0)
    assert time.monotonic() - committed < 2.0
    assert message["Subject"] == "Hello there" and link_in(message) == "https://hub.example/x"
    assert await owner_conn.fetchval("SELECT count(*) FROM private.jobs WHERE key = $1", f"k:{dropped}") == 0
    assert mailbox.messages_to(dropped) == [] and mailbox.attempts_to(dropped) == 0


async def test_a_second_mail_with_the_same_key_is_not_queued_and_one_is_sent(
        hub_url: str, app_db: Database, owner_conn: asyncpg.Connection, mailbox: Mailbox) -> None:
    to = address("dedupe")
    async with app_db.transaction(SERVICE) as conn:
        assert await queue_mail(conn, to=to, subject="once", text="first", key=f"once:{to}")
        assert not await queue_mail(conn, to=to, subject="once", text="second", key=f"once:{to}")
    await mailbox.wait_for(to)

    async def done() -> bool:
        return await owner_conn.fetchval("SELECT status FROM private.jobs WHERE key = $1", f"once:{to}") == "done"

    await eventually(done, what="the mail job done")
    # Its key stays taken after it ran: queueing it again is a no-op too.
    async with app_db.transaction(SERVICE) as conn:
        assert not await queue_mail(conn, to=to, subject="once", text="third", key=f"once:{to}")
    later = address("later")
    async with app_db.transaction(SERVICE) as conn:
        await queue_mail(conn, to=later, subject="after", text="after")
    await mailbox.wait_for(later)
    assert [m.get_body(preferencelist=("plain",)).get_content().strip()  # type: ignore[union-attr]
            for m in mailbox.messages_to(to)] == ["first"]


async def test_a_mail_has_a_text_and_an_escaped_html_alternative(
        hub_url: str, app_db: Database, mailbox: Mailbox) -> None:
    to = address("html")
    async with app_db.transaction(SERVICE) as conn:
        await queue_mail(conn, to=to, subject="Markup", text="<b>not bold</b> https://hub.example/a?x=1&y=2",
                         html=paragraphs_html(["<b>not bold</b> & more"], "https://hub.example/a?x=1&y=2"))
    message = await mailbox.wait_for(to)
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    content = html.get_content()  # type: ignore[attr-defined]
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; more" in content and "<b>" not in content
    assert 'href="https://hub.example/a?x=1&amp;y=2"' in content
    assert message["Message-ID"]


async def test_without_smtp_a_mail_is_written_to_the_outbox_and_its_subject_logged(
        lone_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    starter = HubStarter(base_settings, lone_db.app_dsn, lone_db.owner_dsn)
    to = address("outbox")
    caplog.set_level("INFO", logger="hub.mail")
    with starter(smtp_url=None, data_dir=str(tmp_path)):
        db = Database(lone_db.app_dsn, min_size=0, max_size=1)
        await db.open()
        try:
            async with db.transaction(SERVICE) as conn:
                await queue_mail(conn, to=to, subject="Outbox subject", text="Open https://hub.example/o please")
        finally:
            await db.close()
        outbox = tmp_path / "outbox"
        await eventually(lambda: any(outbox.glob("*.eml")), within=5.0, what="an .eml in the outbox")
    [eml] = list(outbox.glob("*.eml"))
    assert f"To: {to}" in eml.read_text()
    logged = [r.getMessage() for r in caplog.records if r.name == "hub.mail"]
    assert any("Outbox subject" in line and "https://hub.example/o" in line for line in logged), logged
