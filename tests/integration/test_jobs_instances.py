"""The job runner across two real hub processes on a database of their own: a reminder mails each seat
holder exactly once while both claim, and a mail in flight on an instance that is SIGKILLed is sent once,
by the other, after the lease, with the same Message-ID."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from hub.mail.outgoing import queue_mail
from hub.settings import Settings
from persistence.db import Database
from persistence.identity import SERVICE
from tests.helpers.api import signup, with_role
from tests.helpers.eventually import eventually
from tests.helpers.instances import Instance, start_instance
from tests.helpers.mailbox import Mailbox
from tests.helpers.services import DatabaseUnderTest

pytestmark = pytest.mark.slow

LEASE_S = 2.0


def address(label: str) -> str:
    return f"{label}-{secrets.token_hex(6)}@example.test"


@pytest.fixture
async def pair(lone_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path) -> AsyncIterator[list[Instance]]:
    namespace = f"{base_settings.namespace}:jobs:{secrets.token_hex(4)}"
    instances = list(await asyncio.gather(*(
        start_instance(lone_db, base_settings, tmp_path, HUB_NAMESPACE=namespace, JOB_LEASE=str(LEASE_S))
        for _ in range(2))))
    yield instances
    for instance in instances:
        await instance.stop()


@pytest.fixture
async def owner(lone_db: DatabaseUnderTest) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(lone_db.owner_dsn)
    yield conn
    await conn.close()


async def test_a_reminder_mails_each_seat_holder_exactly_once_with_two_instances_claiming(
        pair: list[Instance], owner: asyncpg.Connection, mailbox: Mailbox) -> None:
    first, second = pair
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as a, \
            httpx.AsyncClient(base_url=second.url, timeout=30) as b:
        host = await with_role(a, owner, await signup(a), "host")
        body = {"title": f"Twice {secrets.token_hex(3)}", "duration": "PT1H",
                "scheduled_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
        sid = (await a.post("/api/sessions", json=body, headers=host.headers)).json()["id"]
        seated = [await signup(b, email=address("twice")) for _ in range(6)]
        for index, account in enumerate(seated):
            client = a if index % 2 else b
            assert (await client.post(f"/api/sessions/{sid}/registration", headers=account.headers)).is_success
        soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        assert (await b.patch(f"/api/sessions/{sid}", json={"scheduled_at": soon},
                              headers=host.headers)).status_code == 200
        for account in seated:
            await mailbox.wait_for(account.email, subject_contains="Starting soon")

    async def settled() -> bool:  # nothing running or due: every mail that will be sent was sent
        return await owner.fetchval("SELECT count(*) = 0 FROM private.jobs "
                                    "WHERE status = 'running' OR (status = 'queued' AND run_at <= now())")

    await eventually(settled, what="no job running or due")
    # (the move's `session.rescheduled` notification is mailed apart, in a digest)
    reminders = [[m for m in mailbox.messages_to(account.email) if "Starting soon" in str(m["Subject"])]
                 for account in seated]
    assert [len(mails) for mails in reminders] == [1] * len(seated)
    assert await owner.fetchval("SELECT count(*) FROM private.jobs WHERE kind = 'mail.send' AND status = 'done' "
                                "AND payload->>'subject' LIKE 'Starting soon%'") == len(seated)


async def test_a_mail_in_flight_on_a_killed_instance_is_sent_once_by_the_other_after_the_lease(
        pair: list[Instance], lone_db: DatabaseUnderTest, owner: asyncpg.Connection, mailbox: Mailbox) -> None:
    to = address("crash")
    hold = mailbox.hold(to)
    db = Database(lone_db.app_dsn, min_size=0, max_size=1)
    await db.open()
    try:
        async with db.transaction(SERVICE) as conn:
            await queue_mail(conn, to=to, subject="in flight", text="once", key=f"crash:{to}")
    finally:
        await db.close()
    await mailbox.wait_until(lambda: hold.held == 1, 10.0, "the mail's DATA held by the server")
    job = await owner.fetchrow("SELECT id, locked_by, attempts, payload->>'message_id' AS message_id "
                               "FROM private.jobs WHERE key = $1", f"crash:{to}")
    assert job["attempts"] == 1
    pid = int(job["locked_by"].split(":")[1])
    [holder] = [i for i in pair if i.process.pid == pid]
    [survivor] = [i for i in pair if i is not holder]
    holder.sigkill()
    await holder.wait_exit()
    # The server saw its client go before answering DATA: that copy is discarded, as a real server does.
    await mailbox.wait_until(lambda: hold.dropped == 1, 10.0, "the killed sender's copy dropped")
    hold.release()
    killed_at = asyncio.get_running_loop().time()

    message = await mailbox.wait_for(to, within=LEASE_S + 10)
    assert asyncio.get_running_loop().time() - killed_at <= LEASE_S + 8
    assert message["Message-ID"] == job["message_id"] == hold.held_ids[0]

    async def done() -> bool:
        return await owner.fetchval("SELECT status FROM private.jobs WHERE id = $1", job["id"]) == "done"

    await eventually(done, what="the job done")
    retried = await owner.fetchrow("SELECT attempts, locked_by FROM private.jobs WHERE id = $1", job["id"])
    assert retried["attempts"] == 2 and int(retried["locked_by"].split(":")[1]) == survivor.process.pid
    assert len(mailbox.messages_to(to)) == 1


async def test_a_stopping_instance_hands_its_unfinished_job_back_at_once_for_the_other(
        lone_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path, owner: asyncpg.Connection,
        mailbox: Mailbox) -> None:
    """SIGTERM drains: the mail still in flight after DRAIN_TIMEOUT is cancelled (the server drops that copy)
    and released, so the other instance sends it well before the (long) lease would have run out."""
    namespace = f"{base_settings.namespace}:jobs:{secrets.token_hex(4)}"
    pair = list(await asyncio.gather(*(
        start_instance(lone_db, base_settings, tmp_path, HUB_NAMESPACE=namespace, JOB_LEASE="600",
                       DRAIN_TIMEOUT="0.5") for _ in range(2))))
    try:
        to = address("drain")
        hold = mailbox.hold(to)
        db = Database(lone_db.app_dsn, min_size=0, max_size=1)
        await db.open()
        try:
            async with db.transaction(SERVICE) as conn:
                await queue_mail(conn, to=to, subject="drained", text="once", key=f"drain:{to}")
        finally:
            await db.close()
        await mailbox.wait_until(lambda: hold.held == 1, 10.0, "the mail's DATA held by the server")
        locked_by = await owner.fetchval("SELECT locked_by FROM private.jobs WHERE key = $1", f"drain:{to}")
        [holder] = [i for i in pair if i.process.pid == int(locked_by.split(":")[1])]
        holder.sigterm()
        await mailbox.wait_until(lambda: hold.dropped == 1, 20.0, "the stopping sender's copy dropped")
        hold.release()
        await holder.wait_exit()
        message = await mailbox.wait_for(to, within=15.0)
        assert message["Message-ID"] == hold.held_ids[0]
        job = await owner.fetchrow("SELECT attempts, status FROM private.jobs WHERE key = $1", f"drain:{to}")
        assert job["attempts"] == 1  # the handed-back attempt does not count
        assert len(mailbox.messages_to(to)) == 1
    finally:
        for instance in pair:
            await instance.stop()
