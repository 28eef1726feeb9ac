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

from persistence.identity import Identity

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()

# Role and claims in one round trip: `set_config('role', r, true)` is `SET LOCAL ROLE r` (the same setting,
# the same membership check) but, unlike SET, takes a parameter. The role name is always a `DbRole` value,
# never input.
_SET_IDENTITY = "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true)"


class DatabaseUnavailable(Exception):
    """The pool could not give a connection in time, or the server is unreachable."""


# SQLSTATEs that say the server takes no work right now but will again: it is shutting down (57P01
# admin_shutdown), restarting after a crashed backend (57P02 crash_shutdown), starting up or replaying
# WAL (57P03 cannot_connect_now), or out of connection slots (53300 too_many_connections). With class 08
# (connection exceptions) they are what a restart, failover or overload looks like to a client.
_RETRY_LATER_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


# A client role's post, comment or vote past its creation budget (migration 0016's trigger); DETAIL holds the
# whole seconds until the budget's window lets the writer create again.
BUDGET_EXCEEDED_SQLSTATE = "HB429"


def budget_retry_after(exc: asyncpg.PostgresError) -> float | None:
    """Seconds until the writer may create again when `exc` is the schema's creation budget refusing a
    write; None for any other error."""
    if exc.sqlstate != BUDGET_EXCEEDED_SQLSTATE:
        return None
    detail = exc.detail or ""
    return float(detail) if detail.isdigit() else 1.0


# A write with an access token its account no longer honours (migration 0029's private.require_live_token:
# revoked, banned or deleted); PostgREST answers this SQLSTATE 401, the hub 401 `token_revoked`.
TOKEN_REVOKED_SQLSTATE = "PT401"


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot serve now but may in a moment (the connection was refused or
    lost, the server is starting up or shutting down): such a failure answers 503 with Retry-After, never
    500. Anything else (a bug, bad SQL, a constraint) is not, even when it happens during an outage."""
    if isinstance(exc, OSError):  # refused, reset, unreachable, timed out (TimeoutError is an OSError)
        return True
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = exc.sqlstate or ""
        return sqlstate.startswith("08") or sqlstate in _RETRY_LATER_SQLSTATES
    # asyncpg's own check before using a connection it already knows is gone.
    return isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc)


def _json_text(value: Any) -> str:
    return _encoder.encode(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """Codecs shared by the pool and the listener: json/jsonb as Python values, via msgspec."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=_json_text, decoder=_decoder.decode, schema="pg_catalog")


async def set_identity(conn: asyncpg.Connection, identity: Identity) -> None:
    """Switch the current transaction to `identity` (may be called again mid-transaction)."""
    await conn.execute(_SET_IDENTITY, identity.role.value, identity.claims_json)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to do, which saves asyncpg's default reset statement (one more
    round trip per transaction). Everything `transaction()` sets is transaction-local and pool connections
    never take session state (no session SET, LISTEN, session advisory lock or WITH HOLD cursor); asyncpg
    still rolls back a transaction left open before calling this. asyncpg's RESET ALL would not have reset
    the role anyway."""


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
            reset=_keep_session,
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
            # Acquiring may open a connection (and run `init_connection` on it), so it fails like a query can.
            conn = await self._pool.acquire(timeout=self._acquire_timeout_s)
        except Exception as exc:
            if is_unavailable(exc):
                raise DatabaseUnavailable(str(exc) or type(exc).__name__) from None
            raise
        try:
            async with conn.transaction():
                await set_identity(conn, identity)
                yield conn
        except Exception as exc:
            if is_unavailable(exc):
                raise DatabaseUnavailable(str(exc) or type(exc).__name__) from None
            raise
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
