"""Fixtures shared by the billing tests: a local Stripe stand-in and a hub configured to use it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from persistence.migrate import apply_migrations
from tests.helpers.services import DatabaseUnderTest, create_database, drop_database, run_tag
from tests.helpers.stripe_stub import StripeStub, billing_hub, stripe_stub


@pytest.fixture(scope="module")
def stub() -> Iterator[StripeStub]:
    with stripe_stub() as running:
        yield running


@pytest.fixture(scope="module")
def billing_url(start_hub: Any, stub: StripeStub) -> Iterator[str]:
    with billing_hub(start_hub, stub) as url:
        yield url


@pytest.fixture
async def http(billing_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=billing_url, timeout=30) as client:
        yield client


@pytest.fixture
async def empty_db(pg_server_dsn: str) -> AsyncIterator[DatabaseUnderTest]:
    """A database of its own with no migration applied, dropped afterwards."""
    name = f"hub_empty_{run_tag()}"
    database = await create_database(pg_server_dsn, name)
    yield database
    await drop_database(pg_server_dsn, name)


@pytest.fixture
async def lone_db(pg_server_dsn: str) -> AsyncIterator[DatabaseUnderTest]:
    """A migrated database of its own, dropped afterwards: only the hubs a test starts on it run its jobs
    (every hub on the run's shared database claims jobs queued there)."""
    name = f"hub_lone_{run_tag()}"
    database = await create_database(pg_server_dsn, name)
    await apply_migrations(database.owner_dsn, log=lambda _: None)
    yield database
    await drop_database(pg_server_dsn, name)


@pytest.fixture
def embedded_data_dir() -> Iterator[Path]:
    """A data folder for an embedded PostgreSQL, outside pytest's tmp_path: run as root, pgserver opens every
    parent folder to its `pgserver` user, and a pytest starting meanwhile on the machine (another checkout's
    run) sets /tmp/pytest-of-root back to 0700, so initdb failed with "Permission denied" mid-way."""
    folder = Path(tempfile.mkdtemp(prefix="hub-test-embedded-"))
    yield folder / "data"
    shutil.rmtree(folder, ignore_errors=True)
