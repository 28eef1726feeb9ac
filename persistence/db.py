"""The asyncpg pool and the transactions that carry the caller's identity into RLS.

Every statement the hub runs for a request goes through `Database.transaction(identity)`: one
transaction, `SET LOCAL ROLE` to the caller's database role and `request.jwt.claims` set, so RLS
policies and column grants apply exactly as they would on Supabase.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec

from persistence.identity import DbRole, Identity

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()

# One literal statement per role: SET ROLE cannot take a parameter, and no role name ever comes from input.
_SET_ROLE = {
    DbRole.ANON: "SET LOCAL ROLE anon",
    DbRole.AUTHENTICATED: "SET LOCAL ROLE authenticated",
    DbRole.SERVICE: "SET LOCAL ROLE service_role",
}


class DatabaseUnavailable(Exception):
    """The pool could not give a connection in time, or the server is unreachable."""


def _json_text(value: Any) -> str:
    return _encoder.encode(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """Codecs shared by the pool and the listener: json/jsonb as Python values, via msgspec."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=_json_text, decoder=_decoder.decode, schema="pg_catalog")


async def set_identity(conn: asyncpg.Connection, identity: Identity) -> None:
    """Switch the current transaction to `identity` (may be called again mid-transaction)."""
    await conn.execute(_SET_ROLE[identity.role])
    await conn.execute("SELECT set_config('request.jwt.claims', $1, true)", _json_text(identity.claims))


class Database:
    """Owns the pool. `transaction()` is the only way request code reaches PostgreSQL."""

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 10,
                 statement_timeout_ms: int = 30_000, acquire_timeout_s: float = 5.0) -> None:
        self._dsn = dsn
        self._min = min_size
        self._max = max_size
        self._statement_timeout_ms = statement_timeout_ms
        self._acquire_timeout_s = acquire_timeout_s
        self._pool: asyncpg.Pool | None = None

    @property
    def dsn(self) -> str:
        return self._dsn

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=self._min,
            max_size=self._max,
            max_inactive_connection_lifetime=300,
            init=init_connection,
            server_settings={
                "statement_timeout": str(self._statement_timeout_ms),
                "idle_in_transaction_session_timeout": str(self._statement_timeout_ms * 2),
                "application_name": "hub",
            },
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def pool_stats(self) -> tuple[int, int]:
        """(connections in use, pool size)."""
        if self._pool is None:
            return (0, 0)
        size = self._pool.get_size()
        return (size - self._pool.get_idle_size(), size)

    @asynccontextmanager
    async def transaction(self, identity: Identity) -> AsyncIterator[asyncpg.Connection]:
        """One transaction as `identity`. Commits when the block ends normally, rolls back on any
        exception (which is re-raised). Raises `DatabaseUnavailable` when no connection can be had
        within the acquire timeout, so callers answer 503 instead of hanging."""
        if self._pool is None:
            raise DatabaseUnavailable("database pool is not open")
        try:
            conn = await self._pool.acquire(timeout=self._acquire_timeout_s)
        except (TimeoutError, OSError, asyncpg.PostgresConnectionError) as exc:
            raise DatabaseUnavailable(str(exc) or type(exc).__name__) from None
        try:
            async with conn.transaction():
                await set_identity(conn, identity)
                yield conn
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            if isinstance(exc, asyncpg.InterfaceError) and "connection" not in str(exc):
                raise
            raise DatabaseUnavailable(str(exc) or type(exc).__name__) from None
        finally:
            await self._pool.release(conn)

    async def ping(self) -> bool:
        if self._pool is None:
            return False
        try:
            async with asyncio.timeout(2):
                conn = await self._pool.acquire()
                try:
                    await conn.fetchval("SELECT 1")
                finally:
                    await self._pool.release(conn)
            return True
        except Exception:
            return False
