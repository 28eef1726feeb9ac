"""Schema migrations: ordered plain-SQL files in `persistence/migrations/`, each applied once.

Each pending file runs in its own transaction together with its row in `private.schema_migrations`,
so a failed file leaves nothing behind. A session-level advisory lock serialises concurrent runners
(several hub processes starting at once). An applied file whose checksum changed is an error:
migrations are append-only, a change goes into a new file.

Usage: `python -m persistence.migrate [DSN]` (default: MIGRATION_DATABASE_URL, then DATABASE_URL).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Fixed advisory lock key ("hubmigr" in ASCII); any other code must not use it.
_LOCK_KEY = 0x6875626D696772

_CREATE_LEDGER = """
CREATE SCHEMA IF NOT EXISTS private;
CREATE TABLE IF NOT EXISTS private.schema_migrations (
    name text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """A migration could not be applied."""


class MigrationChecksumError(MigrationError):
    """A migration file changed after it was applied."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"migration {name} was already applied but its contents changed (checksum mismatch); "
            "applied migrations must not be edited, put the change in a new file")
        self.name = name


def migration_files(directory: Path | None = None) -> list[tuple[str, str, str]]:
    """(name, sha256 hex, sql) of every *.sql file, sorted by name."""
    folder = directory or MIGRATIONS_DIR
    out: list[tuple[str, str, str]] = []
    for path in sorted(folder.glob("*.sql"), key=lambda p: p.name):
        raw = path.read_bytes()
        out.append((path.name, hashlib.sha256(raw).hexdigest(), raw.decode("utf-8")))
    return out


async def _applied(conn: asyncpg.Connection) -> dict[str, str] | None:
    """name -> checksum of applied migrations, or None when the ledger does not exist yet."""
    exists = await conn.fetchval("SELECT to_regclass('private.schema_migrations') IS NOT NULL")
    if not exists:
        return None
    rows = await conn.fetch("SELECT name, checksum FROM private.schema_migrations")
    return {str(r["name"]): str(r["checksum"]) for r in rows}


async def pending_migrations(conn: asyncpg.Connection, directory: Path | None = None) -> list[str]:
    """Names of the files not applied yet. Raises MigrationChecksumError on an edited applied file."""
    applied = await _applied(conn) or {}
    pending: list[str] = []
    for name, checksum, _ in migration_files(directory):
        if name not in applied:
            pending.append(name)
        elif applied[name] != checksum:
            raise MigrationChecksumError(name)
    return pending


async def migrations_current(conn: asyncpg.Connection, directory: Path | None = None) -> bool:
    """True when every migration file is applied unchanged (for /readyz)."""
    try:
        return not await pending_migrations(conn, directory)
    except MigrationChecksumError:
        return False


async def apply_migrations(dsn: str, *, log: Callable[[str], None] = print,
                           directory: Path | None = None) -> list[str]:
    """Apply every pending migration, in name order; returns the names applied by this call."""
    files = migration_files(directory)
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    done: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(_CREATE_LEDGER)
            applied = await _applied(conn) or {}
            for name, checksum, sql in files:
                if name in applied:
                    if applied[name] != checksum:
                        raise MigrationChecksumError(name)
                    continue
                started = time.perf_counter()
                try:
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute(
                            "INSERT INTO private.schema_migrations (name, checksum) VALUES ($1, $2)",
                            name, checksum)
                except asyncpg.PostgresError as exc:
                    log(f"migrate: applying {name} ... FAILED")
                    raise MigrationError(f"migration {name} failed: {type(exc).__name__}: {exc}") from exc
                log(f"migrate: applying {name} ... done ({(time.perf_counter() - started) * 1000:.0f} ms)")
                done.append(name)
            pending = sum(1 for name, _, _ in files if name not in applied and name not in done)
            log(f"migrate: {len(done)} applied, {pending} pending")
        finally:
            if not conn.is_closed():
                await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
    return done


def main(argv: list[str]) -> int:
    env_dsn = os.environ.get("MIGRATION_DATABASE_URL") or os.environ.get("DATABASE_URL")
    dsn = argv[1] if len(argv) > 1 else env_dsn
    if not dsn:
        print("migrate: no DSN (argument, MIGRATION_DATABASE_URL or DATABASE_URL)", file=sys.stderr)
        return 2
    try:
        asyncio.run(apply_migrations(dsn))
    except MigrationError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
