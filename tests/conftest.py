"""Shared fixtures: a fresh database and Redis namespace per run, and a real uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from litestar import Litestar

from hub.app import create_app, schema_settings
from hub.realtime.ws_protocol import UVICORN_WS
from hub.settings import Settings
from persistence import hub_settings
from persistence.db import Database, init_connection
from persistence.migrate import apply_migrations
from tests.helpers.mailbox import Mailbox, smtp_server
from tests.helpers.server import serve_in_thread
from tests.helpers.services import (
    DatabaseUnderTest,
    create_database,
    drop_database,
    postgres_server,
    redis_server,
    run_tag,
)

TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
TEST_METRICS_TOKEN = "test-metrics-token-long-enough-0123456789"
METRICS_HEADERS = {"Authorization": f"Bearer {TEST_METRICS_TOKEN}"}


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    with postgres_server() as dsn:
        yield dsn


@pytest.fixture(scope="session")
async def test_db(pg_server_dsn: str) -> AsyncIterator[DatabaseUnderTest]:
    name = f"hub_test_{run_tag()}"
    database = await create_database(pg_server_dsn, name)
    await apply_migrations(database.owner_dsn, log=lambda _: None)
    yield database
    await drop_database(pg_server_dsn, name)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def smtp_mailbox() -> Iterator[Mailbox]:
    """The run's one SMTP server: every hub in the tests sends its mail here."""
    with smtp_server() as mailbox:
        yield mailbox


@pytest.fixture
def mailbox(smtp_mailbox: Mailbox) -> Mailbox:
    """What the SMTP server received, per recipient (tests use unique addresses)."""
    return smtp_mailbox


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str,
                  smtp_mailbox: Mailbox) -> Iterator[Settings]:
    """The suite's settings; at the end of the run every Redis key under its namespace is removed (tests
    that start hubs with a namespace of their own take it from `start_hub.new_namespace`, under this one)."""
    settings = Settings(
        jwt_secret=TEST_SECRET,
        data_dir=str(tmp_path_factory.mktemp("data")),
        namespace=f"hubtest:{run_tag()}",
        redis_url=redis_url,
        login_attempts_per_minute=100_000,
        rate_limit_scale=10_000,  # budgets out of the way; tests of a budget start a hub with rate_limit_scale=1
        login_backoff_after=1000,  # never scaled: the suite's many wrong passwords must not back an account off
        login_known_address_s=0,  # remembered addresses would outlive the run; the tests of them set it
        db_pool_max=5,
        metrics_token=TEST_METRICS_TOKEN,
        smtp_url=smtp_mailbox.smtp_url,
        # The suite's users post right after signup; the gate's own tests start a hub with it on.
        require_email_verification=False,
        # Every hub's job runner may run any digest job of the shared database: they share the window, longer
        # than any burst a digest test sends on a busy machine; the tests end a window when they have sent.
        notify_digest_window_s=120.0,
    )
    yield settings
    _remove_keys(redis_url, f"{settings.namespace}:*")


def _remove_keys(redis_url: str, pattern: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) == 500:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    finally:
        client.close()


@pytest.fixture(scope="session")
def hub_url(test_db: DatabaseUnderTest, base_settings: Settings) -> Iterator[str]:
    app = create_app(base_settings, test_db.app_dsn)
    with serve_in_thread(app, ws_max_size=base_settings.ws_max_frame_bytes, ws=UVICORN_WS,
                         ws_per_message_deflate=base_settings.ws_compression) as url:
        yield url


@dataclass(frozen=True)
class HubStarter:
    """Starts a further in-thread hub with changed settings and optionally an injected wall clock:
    `with start_hub(login_attempts_per_minute=3) as url:` or `start_hub(clock=fake.now)`."""

    base: Settings
    dsn: str
    owner_dsn: str

    def __call__(self, clock: Callable[[], float] | None = None, **changes: Any) -> AbstractContextManager[str]:
        return self.serve(self.app(clock, **changes))

    def app(self, clock: Callable[[], float] | None = None, **changes: Any) -> Litestar:
        """The app alone, for a test that looks at its services while it serves (`start_hub.serve(app)`)."""
        return create_app(replace(self.base, **changes), self.dsn, clock=clock)

    @contextlib.contextmanager
    def serve(self, app: Litestar) -> Iterator[str]:
        settings: Settings = app.state.services.settings
        try:
            with serve_in_thread(app, ws_max_size=settings.ws_max_frame_bytes, ws=UVICORN_WS,
                                 ws_per_message_deflate=settings.ws_compression,
                                 forwarded_allow_ips=settings.forwarded_allow_ips) as url:
                yield url
        finally:
            # Each hub copies its budgets and reply depth into the shared database's `private.hub_settings`
            # at startup: put the suite's back, so this hub's small budgets do not reach later tests. The
            # caller's event loop is busy in this `with`, so a thread of its own does the write.
            writer = threading.Thread(target=asyncio.run, args=(self._restore_schema_settings(),))
            writer.start()
            writer.join()

    async def _restore_schema_settings(self) -> None:
        conn = await asyncpg.connect(self.owner_dsn)
        try:
            await hub_settings.store(conn, schema_settings(self.base))
        finally:
            await conn.close()

    def new_namespace(self, label: str) -> str:
        """A Redis namespace of its own (fresh counters), under the run's: removed with the run's keys."""
        return f"{self.base.namespace}:{label}:{secrets.token_hex(6)}"


@pytest.fixture(scope="session")
def start_hub(test_db: DatabaseUnderTest, base_settings: Settings) -> HubStarter:
    return HubStarter(base_settings, test_db.app_dsn, test_db.owner_dsn)


@pytest.fixture
async def client(hub_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub_url, timeout=30) as http:
        yield http


@pytest.fixture
async def owner_conn(test_db: DatabaseUnderTest) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(test_db.owner_dsn)
    await init_connection(conn)
    yield conn
    await conn.close()


@pytest.fixture(scope="session")
async def app_db(test_db: DatabaseUnderTest) -> AsyncIterator[Database]:
    """The app's own transaction helper on the app's own (non-owner) role."""
    database = Database(test_db.app_dsn, min_size=0, max_size=4)
    await database.open()
    yield database
    await database.close()


def migrations_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "persistence" / "migrations"
