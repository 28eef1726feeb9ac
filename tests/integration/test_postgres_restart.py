"""PostgreSQL crash-restarted under a hub that is writing and delivering.

The test owns the PostgreSQL server (a fresh cluster, never the shared one): writers post comments
continuously and a websocket client follows the thread while the postmaster is shut down the way a
crash does it and started again, so the hub meets every phase of the fault: backends ended mid-query,
connections refused, the server "starting up" while it replays its WAL, and the server back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from hub.embedded import APP_ROLE, with_database, with_user
from hub.settings import Settings
from persistence.migrate import apply_migrations
from tests.helpers.api import Account, signup
from tests.helpers.instances import Instance, start_instance
from tests.helpers.own_postgres import OwnPostgres
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import ProtocolClient, assert_continuous, insert_post

pytestmark = pytest.mark.slow

WRITERS = 4
WRITE_PAUSE_S = 0.05  # per writer: about 80 comments/s in all while the database is up
# The fault's length: how long the database stays down after the first refused write, which is how far a
# reconnect backoff grows (with today's bound it no longer matters; before it, 3 s outages left /readyz at 503
# for up to 3 s after the database was back).
OUTAGE_S = 3.0
# What the hub promises is 0.5 s; the test allows more for a busy machine and reports what it measured.
READY_WITHIN_S = 1.5


@dataclass
class Write:
    writer: int
    status: int
    retry_after: str | None
    comment_id: str | None
    done_at: float


@dataclass
class Run:
    writes: list[Write] = field(default_factory=list)
    readyz: list[tuple[float, int]] = field(default_factory=list)  # (answered at, status)
    arrivals: list[tuple[int, str, float]] = field(default_factory=list)  # (seq, comment id, arrived at)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def acked(self, writer: int | None = None, after: float = 0.0) -> list[Write]:
        return [w for w in self.writes if w.status == 201 and w.done_at > after
                and (writer is None or w.writer == writer)]


async def _write(http: httpx.AsyncClient, run: Run, writer: int, account: Account, post_id: str) -> None:
    n = 0
    while not run.stop.is_set():
        n += 1
        response = await http.post(f"/api/posts/{post_id}/comments", headers=account.headers,
                                   json={"content": f"writer {writer} comment {n}"})
        body = response.json() if response.status_code == 201 else {}
        run.writes.append(Write(writer, response.status_code, response.headers.get("retry-after"),
                                body.get("id"), time.monotonic()))
        await asyncio.sleep(WRITE_PAUSE_S)


async def _poll_ready(http: httpx.AsyncClient, run: Run) -> None:
    while not run.stop.is_set():
        with contextlib.suppress(httpx.HTTPError):
            status = (await http.get("/readyz")).status_code
            run.readyz.append((time.monotonic(), status))
        await asyncio.sleep(0.02)


async def _follow(ws: ProtocolClient, channel: str, run: Run) -> None:
    while True:
        frame = await ws.pump(1.0)
        if frame is not None and frame.get("op") == "event" and frame.get("channel") == channel:
            run.arrivals.append((frame["seq"], frame["data"]["id"], time.monotonic()))


async def _until(done: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _write_ballast(owner_dsn: str) -> None:
    """About 30 MB of WAL since the last checkpoint, for the restart to replay: while it does (a few hundred
    ms), the server is up but answers every connection "the database system is starting up"."""
    conn = await asyncpg.connect(owner_dsn)
    try:
        await conn.execute("CREATE TABLE ballast AS SELECT g, repeat('x', 100) AS pad "
                           "FROM generate_series(1, 200000) AS g")
    finally:
        await conn.close()


@pytest.fixture
async def own_postgres() -> AsyncIterator[OwnPostgres]:
    pg = OwnPostgres()
    await asyncio.to_thread(pg.initdb)
    try:
        await pg.start()
        yield pg
    finally:
        await pg.stop()


@pytest.fixture
async def hub_on_own_postgres(own_postgres: OwnPostgres, base_settings: Settings,
                              tmp_path: Path) -> AsyncIterator[tuple[Instance, str]]:
    conn = await asyncpg.connect(own_postgres.dsn)
    try:
        await conn.execute("CREATE DATABASE hub")
    finally:
        await conn.close()
    owner_dsn = with_database(own_postgres.dsn, "hub")
    await apply_migrations(owner_dsn, log=lambda _: None)
    database = DatabaseUnderTest(owner_dsn=owner_dsn, app_dsn=with_user(owner_dsn, APP_ROLE))
    # No Redis: the fault under test is PostgreSQL's. The suite's budget scale applies: the writers post fast.
    instance = await start_instance(database, base_settings, tmp_path, redis_url="")
    try:
        yield instance, owner_dsn
    finally:
        await instance.stop()


async def test_a_postgres_crash_restart_answers_503_with_retry_after_never_500_and_loses_no_comment(
    own_postgres: OwnPostgres, hub_on_own_postgres: tuple[Instance, str]
) -> None:
    instance, owner_dsn = hub_on_own_postgres
    run = Run()
    async with httpx.AsyncClient(base_url=instance.url, timeout=15) as http:
        accounts = [await signup(http) for _ in range(WRITERS)]
        owner = await asyncpg.connect(owner_dsn)
        try:
            post_id = await insert_post(owner, accounts[0].user_id)
        finally:
            await owner.close()
        channel = f"thread:{post_id}"
        ws = await ProtocolClient.open(instance.url, accounts[0].access_token)
        assert (await ws.subscribe(channel))["ok"]
        follower = asyncio.create_task(_follow(ws, channel, run))
        tasks = [asyncio.create_task(_write(http, run, i, account, post_id)) for i, account in enumerate(accounts)]
        tasks.append(asyncio.create_task(_poll_ready(http, run)))
        try:
            await _until(lambda: all(len(run.acked(i)) >= 3 for i in range(WRITERS)), 20, "writes before the crash")
            await _write_ballast(owner_dsn)
            await own_postgres.crash()
            await _until(lambda: any(w.status != 201 for w in run.writes), 10, "a refused write")
            await asyncio.sleep(OUTAGE_S)  # the fault's length (see OUTAGE_S), not a wait for something
            back_at = await own_postgres.start()
            await _until(lambda: any(t > back_at and s == 200 for t, s in run.readyz), 15, "/readyz 200")
            ready_s = min(t for t, s in run.readyz if t > back_at and s == 200) - back_at
            await _until(lambda: all(len(run.acked(i, after=back_at)) >= 3 for i in range(WRITERS)), 20,
                         "writes after the restart")
        finally:
            run.stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            task.result()  # a writer or the poller that failed (not with a status: with an exception) fails the test
        # One more comment, written after every other: once it is delivered, so is everything before it.
        last = await http.post(f"/api/posts/{post_id}/comments", headers=accounts[0].headers,
                               json={"content": "the last one"})
        assert last.status_code == 201, last.text
        last_id = last.json()["id"]
        try:
            await _until(lambda: any(cid == last_id for _, cid, _ in run.arrivals), 15, "the last comment")
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            await ws.close()

    statuses = sorted({w.status for w in run.writes})
    failed = [w for w in run.writes if w.status != 201]
    lateness = {cid: at for _, cid, at in run.arrivals}
    late_s = max(lateness[w.comment_id] - w.done_at for w in run.acked(after=back_at) if w.comment_id)
    print(f"\n/readyz 200 {ready_s:.3f} s after the database accepted connections; deliveries of comments "
          f"acknowledged after it at most {max(late_s, 0):.3f} s after their 201; writes: {len(run.writes)}, "
          f"refused: {len(failed)}, answered 500: {sum(w.status == 500 for w in run.writes)}")

    assert failed, "the fault did not refuse a single write"
    assert statuses == [201, 503], f"statuses {statuses}: {sum(w.status == 500 for w in run.writes)} answered 500"
    assert all(w.retry_after for w in failed), "a 503 without Retry-After"
    assert ready_s <= READY_WITHIN_S, f"/readyz took {ready_s:.3f} s after the database was back"
    assert late_s <= READY_WITHIN_S, f"a comment was delivered {late_s:.3f} s after its 201"
    # Every acknowledged comment arrived, once, in commit order (a refused write may have committed
    # anyway when its answer was lost; it arrives like any other).
    arrived = [cid for _, cid, _ in run.arrivals]
    assert len(arrived) == len(set(arrived)), "a comment arrived twice"
    assert_continuous([{"seq": seq} for seq, _, _ in run.arrivals], 0)
    position = {cid: i for i, cid in enumerate(arrived)}
    for i in range(WRITERS):
        mine = [w.comment_id for w in run.acked(i)]
        assert all(cid in position for cid in mine), "an acknowledged comment never arrived"
        assert [position[cid] for cid in mine] == sorted(position[cid] for cid in mine), "out of order"
