"""The durable job runner and outgoing mail, end to end: jobs queued in a transaction run (or not) with it,
start within 2 s of the commit, dedupe by key, retry with backoff and end `failed`; mail reaches a real SMTP
server (tests/helpers/mailbox.py) or, with no SMTP configured, the outbox folder."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx
import pytest

from hub.jobs.runner import retry_delay
from hub.logs import JsonFormatter
from hub.mail.outgoing import paragraphs_html, queue_mail
from hub.realtime.instance import Realtime
from hub.settings import Settings
from persistence.db import Database
from persistence.identity import SERVICE
from persistence.jobs import enqueue
from tests.conftest import METRICS_HEADERS, HubStarter
from tests.helpers.api import Account, signup
from tests.helpers.eventually import eventually
from tests.helpers.mailbox import Mailbox, link_in
from tests.helpers.services import DatabaseUnderTest
from tests.integration.test_sessions import create_session, host_account


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


# ---------------------------------------------------------------- session reminders

async def reminder_jobs(owner_conn: asyncpg.Connection, session_id: str) -> list[asyncpg.Record]:
    return await owner_conn.fetch(
        """SELECT id, key, status, run_at FROM private.jobs
           WHERE kind = 'session.reminders' AND payload->>'session_id' = $1 ORDER BY id""", session_id)


async def test_a_session_moved_to_start_soon_mails_each_seat_holder_once_and_its_old_start_nobody(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, mailbox: Mailbox,
        base_settings: Settings) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host, max_participants=2)
    sid = session["id"]
    [(_, first_start, _)] = [(r["key"], r["run_at"], r["status"]) for r in await reminder_jobs(owner_conn, sid)]
    assert first_start == datetime.fromisoformat(session["scheduled_at"]) - timedelta(minutes=15)
    seated, waiting = [await signup(client, email=address("seat")) for _ in range(2)], await signup(client)
    for account in [*seated, waiting]:
        assert (await client.post(f"/api/sessions/{sid}/registration", headers=account.headers)).is_success

    starts = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
    moved = await client.patch(f"/api/sessions/{sid}", json={"scheduled_at": starts.isoformat()},
                               headers=host.headers)
    assert moved.status_code == 200, moved.text
    for account in seated:
        message = await mailbox.wait_for(account.email, subject_contains=session["title"])
        assert link_in(message) == f"{base_settings.public_url}/#/sessions/{sid}"
        assert "15 minutes" in message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]

    old, new = await reminder_jobs(owner_conn, sid)
    assert new["key"] == f"reminder:{sid}:{starts.astimezone(UTC).isoformat()}"
    # The old start's job, when it runs, finds the session moved and queues nothing.
    await owner_conn.execute("UPDATE private.jobs SET run_at = now() WHERE id = $1", old["id"])

    async def both_done() -> bool:
        return {r["status"] for r in await reminder_jobs(owner_conn, sid)} == {"done"}

    await eventually(both_done, what="both reminder jobs done")
    mails = await owner_conn.fetch("SELECT payload->>'to' AS to, status FROM private.jobs WHERE key LIKE $1",
                                   f"reminder-mail:{sid}:%")
    assert sorted(r["to"] for r in mails) == sorted(a.email for a in seated)
    # (the move's `session.rescheduled` notification comes in a digest mail of its own)
    def reminders_to(account: Account) -> list[EmailMessage]:
        return [m for m in mailbox.messages_to(account.email) if "Starting soon" in str(m["Subject"])]

    await eventually(lambda: all(len(reminders_to(a)) == 1 for a in seated), what="one mail each")
    assert reminders_to(waiting) == []
    # Moving it back to the same start again queues nothing new: that start's reminder already exists.
    again = await client.patch(f"/api/sessions/{sid}", json={"scheduled_at": starts.isoformat()},
                               headers=host.headers)
    assert again.status_code == 200 and len(await reminder_jobs(owner_conn, sid)) == 2


# ---------------------------------------------------------------- retries, failure and the gauges

def job_gauges(text: str) -> dict[str, float]:
    found = re.findall(r'^hub_jobs\{status="(\w+)"\} (\S+)$', text, re.MULTILINE)
    return {status: float(value) for status, value in found}


async def test_a_refused_mail_is_retried_with_backoff_then_left_failed_and_the_gauges_count_it(
        lone_db: DatabaseUnderTest, base_settings: Settings, mailbox: Mailbox) -> None:
    starter = HubStarter(base_settings, lone_db.app_dsn, lone_db.owner_dsn)
    refused, held = address("refused"), address("held")
    db = Database(lone_db.app_dsn, min_size=0, max_size=1)
    await db.open()
    owner = await asyncpg.connect(lone_db.owner_dsn)
    try:
        with starter(job_retry_base_s=0.2, job_max_attempts=3) as url, mailbox.refuse(refused):
            async with httpx.AsyncClient(base_url=url, headers=METRICS_HEADERS) as http:
                async def settled() -> bool:  # the hub's first retention run has queued the next one
                    return await owner.fetchval(
                        "SELECT count(*) FILTER (WHERE status = 'done') = 1 AND count(*) = 2 FROM private.jobs "
                        "WHERE kind = 'retention.prune'")

                await eventually(settled, what="the first retention run done")
                before = job_gauges((await http.get("/metrics")).text)
                async with db.transaction(SERVICE) as conn:
                    await queue_mail(conn, to=refused, subject="refused", text="no", key=f"r:{refused}")

                async def failed() -> bool:
                    return await owner.fetchval("SELECT status FROM private.jobs WHERE key = $1",
                                                f"r:{refused}") == "failed"

                await eventually(failed, what="the refused mail's job failed")
                job = await owner.fetchrow("SELECT * FROM private.jobs WHERE key = $1", f"r:{refused}")
                assert job["attempts"] == 3 and mailbox.attempts_to(refused) == 3
                assert "550" in job["last_error"] and job["finished_at"] is not None
                # Backoff: 0.2 s then 0.4 s between the three attempts.
                assert job["finished_at"] - job["created_at"] >= timedelta(seconds=0.6)

                hold = mailbox.hold(held)
                async with db.transaction(SERVICE) as conn:
                    await queue_mail(conn, to=held, subject="held", text="wait")
                    await enqueue(conn, "mail.send", {}, run_at=datetime.now(UTC) + timedelta(hours=1))
                await mailbox.wait_until(lambda: hold.held == 1, 10.0, "the held mail's DATA")
                during = job_gauges((await http.get("/metrics")).text)
                hold.release()
                await mailbox.wait_for(held)
        assert during["failed"] - before["failed"] == 1
        assert during["running"] - before["running"] == 1
        assert during["queued"] - before["queued"] == 1
    finally:
        await owner.close()
        await db.close()


async def test_the_runner_listens_on_the_realtime_listeners_connection_and_wakes_at_once_after_it_is_cut(
        lone_db: DatabaseUnderTest, base_settings: Settings, mailbox: Mailbox) -> None:
    """PostgreSQL makes every listening backend of a database run a transaction for each NOTIFY there, whatever
    its channel (each vote's `hub_state` note): one more listening connection doubled the hub's transactions per
    vote. With polling all but off (JOB_POLL 600 s) only the shared connection's `hub_jobs` note wakes the
    runner, also once that connection was cut and reopened."""
    starter = HubStarter(base_settings, lone_db.app_dsn, lone_db.owner_dsn)
    app = starter.app(job_poll_s=600)
    first, second = address("first"), address("second")
    db = Database(lone_db.app_dsn, min_size=0, max_size=1)
    await db.open()
    owner = await asyncpg.connect(lone_db.owner_dsn)
    try:
        with starter.serve(app):
            listener = app.state.services.started.get(Realtime).listener
            await eventually(lambda: listener.connected, what="the listener connected")
            names = await owner.fetch("SELECT application_name FROM pg_stat_activity "
                                      "WHERE datname = current_database() AND application_name LIKE 'hub-%'")
            assert sorted(row["application_name"] for row in names) == ["hub-listener"]
            async with db.transaction(SERVICE) as conn:
                await queue_mail(conn, to=first, subject="first", text="woken")
            await mailbox.wait_for(first, within=2.0)

            cut = listener.backend_pid
            assert await owner.fetchval("SELECT pg_terminate_backend($1)", cut)
            await eventually(lambda: listener.connected and listener.backend_pid != cut,
                             what="the listener reconnected")
            async with db.transaction(SERVICE) as conn:
                await queue_mail(conn, to=second, subject="second", text="woken again")
            await mailbox.wait_for(second, within=2.0)
    finally:
        await owner.close()
        await db.close()


def test_the_retry_delay_doubles_from_the_base_up_to_an_hour() -> None:
    assert [retry_delay(10, n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert retry_delay(10, 50) == 3600


# ---------------------------------------------------------------- SMTP credentials

async def test_smtp_credentials_log_in_percent_decoded_and_never_reach_the_logs(
        lone_db: DatabaseUnderTest, base_settings: Settings, mailbox: Mailbox,
        caplog: pytest.LogCaptureFixture) -> None:
    password = f"p@ss:{secrets.token_hex(8)}/word"
    encoded = quote(password, safe="")
    user = f"mailer-{secrets.token_hex(4)}"
    starter = HubStarter(base_settings, lone_db.app_dsn, lone_db.owner_dsn)
    to, refused = address("auth"), address("auth-refused")
    caplog.set_level("DEBUG")
    db = Database(lone_db.app_dsn, min_size=0, max_size=1)
    await db.open()
    try:
        with starter(smtp_url=f"smtp://{user}:{encoded}@127.0.0.1:{mailbox.port}", job_retry_base_s=0.05,
                     job_max_attempts=2), mailbox.refuse(refused):
            async with db.transaction(SERVICE) as conn:
                await queue_mail(conn, to=to, subject="authenticated", text="hi")
                await queue_mail(conn, to=refused, subject="refused", text="no")
            await mailbox.wait_for(to)
            await mailbox.wait_until(lambda: mailbox.attempts_to(refused) == 2, 10.0, "two refused attempts")
    finally:
        await db.close()
    assert (user, password) in mailbox.logins
    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert "refused" in logged  # the failed attempts were logged …
    assert password not in logged and encoded not in logged and password.split(":")[1] not in logged  # … bare
