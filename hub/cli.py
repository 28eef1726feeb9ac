"""`python -m hub serve|migrate|seed|grant|settings` (also installed as the `hub` command)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator

import asyncpg

from hub.domain import account_actions
from hub.embedded import APP_ROLE, start_postgres, with_user
from hub.logs import UVICORN_LOG_CONFIG, configure_logging
from hub.settings import Settings, SettingsError, describe
from persistence import accounts, seed
from persistence.db import init_connection
from persistence.migrate import MigrationError, apply_migrations


def say(message: str) -> None:
    print(message, flush=True)


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[tuple[str, str, bool]]:
    """(owner DSN, app DSN, embedded?) — starting the embedded server when DATABASE_URL is unset."""
    if settings.database_url:
        yield settings.migration_database_url or settings.database_url, settings.database_url, False
        return
    data = settings.data_path()
    say(f"hub: no DATABASE_URL, starting embedded PostgreSQL in {data / 'pg'}")
    owner_dsn, server = start_postgres(data)
    try:
        yield owner_dsn, with_user(owner_dsn, APP_ROLE), True
    finally:
        server.cleanup()


async def _grant(owner_dsn: str, email: str, role: str | None) -> bool:
    """As an admin's role change: the user's older tokens stop counting and the audit log records it (no
    actor: the command line)."""
    conn = await asyncpg.connect(owner_dsn)
    try:
        await init_connection(conn)
        async with conn.transaction():
            user = await accounts.user_by_email(conn, email)
            if user is None:
                return False
            await account_actions.change_role(conn, actor_id=None, user_id=user["id"], role=role,
                                              reason="hub grant")
            return True
    finally:
        await conn.close()


def cmd_migrate(settings: Settings) -> int:
    with database(settings) as (owner_dsn, _, _):
        asyncio.run(apply_migrations(owner_dsn, log=say))
    return 0


def cmd_seed(settings: Settings, force: bool) -> int:
    with database(settings) as (owner_dsn, _, _):
        asyncio.run(apply_migrations(owner_dsn, log=say))
        asyncio.run(seed.seed_demo(owner_dsn, log=say, only_if_empty=not force))
    return 0


def cmd_grant(settings: Settings, email: str, role: str, revoke: bool) -> int:
    with database(settings) as (owner_dsn, _, _):
        found = asyncio.run(_grant(owner_dsn, email, None if revoke else role))
    if not found:
        say(f"hub: no user with email {email}")
        return 1
    say(f"hub: {'revoked' if revoke else 'granted'} {role} {'from' if revoke else 'to'} {email}; "
        "their older tokens stop counting; they sign in or refresh to carry the new role")
    return 0


def _exit_after_shutdown(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def cmd_serve(settings: Settings) -> int:
    import uvicorn

    from hub.realtime.ws_protocol import UVICORN_WS

    with database(settings) as (owner_dsn, app_dsn, embedded):
        asyncio.run(apply_migrations(owner_dsn, log=say))
        if embedded:
            asyncio.run(seed.seed_demo(owner_dsn, log=say, only_if_empty=True))
        # Workers build their app from the environment (hub.asgi), so pass the resolved URLs on.
        os.environ["DATABASE_URL"] = app_dsn
        os.environ.setdefault("MIGRATION_DATABASE_URL", owner_dsn)
        say(f"hub: serving on http://{settings.host}:{settings.port}/")
        # uvicorn re-raises SIGTERM/SIGINT after its own graceful shutdown; with the default handler that
        # would kill the process before the embedded PostgreSQL is stopped below. Exiting instead lets
        # the `database` block's cleanup run.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _exit_after_shutdown)
        uvicorn.run(
            "hub.asgi:create",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.web_concurrency,
            log_level=settings.log_level,
            log_config=str(UVICORN_LOG_CONFIG),
            ws_max_size=settings.ws_max_frame_bytes,
            ws_per_message_deflate=settings.ws_compression,
            ws_ping_interval=settings.ws_heartbeat_s,
            ws_ping_timeout=settings.ws_heartbeat_s * 2,
            timeout_graceful_shutdown=int(settings.drain_timeout_s) or None,
            # The client address that per-address budgets count comes from X-Forwarded-For, believed only
            # from these proxies (uvicorn would read the variable itself; passed so `hub settings` lists it).
            proxy_headers=True,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            ws=UVICORN_WS,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hub", description="the hub: realtime community server")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="migrate, seed an empty embedded database, serve")
    commands.add_parser("migrate", help="apply pending migrations")
    seed_parser = commands.add_parser("seed", help="load demo data")
    seed_parser.add_argument("--force", action="store_true", help="seed even if the database has users")
    grant = commands.add_parser("grant", help="give a user the admin or host role")
    grant.add_argument("email")
    grant.add_argument("role", choices=["admin", "host"])
    grant.add_argument("--revoke", action="store_true", help="remove the role instead")
    commands.add_parser("settings", help="list every environment variable the hub reads")
    args = parser.parse_args(argv)
    if args.command == "settings":
        for name, default, doc in describe():
            say(f"{name:<28} {default:<24} {doc}")
        return 0
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"hub: invalid setting: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        if args.command == "serve":
            return cmd_serve(settings)
        if args.command == "migrate":
            return cmd_migrate(settings)
        if args.command == "seed":
            return cmd_seed(settings, args.force)
        return cmd_grant(settings, args.email, args.role, args.revoke)
    except MigrationError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 3
