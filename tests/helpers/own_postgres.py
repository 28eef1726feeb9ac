"""A PostgreSQL cluster a test creates and owns, so it may crash and restart it (never the shared server).

The binaries are pgserver's (installed with the test dependencies, so they exist on a fresh machine).
PostgreSQL refuses to run as root; as root the cluster runs as pgserver's own system user, as pgserver does.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import asyncpg

from tests.helpers.instances import free_port


class OwnPostgres:
    """`start()` the postmaster; `crash()` stops it as a crash would; `start()` again runs crash recovery."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            # Importing pgserver reads platformdirs' runtime folder, which warns when XDG_RUNTIME_DIR is unset.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            from pgserver._commands import POSTGRES_BIN_PATH  # type: ignore[import-untyped,unused-ignore]

        self._bin = Path(POSTGRES_BIN_PATH)
        # Under /tmp rather than pytest's tmp_path: the cluster's user must be able to reach it.
        self.folder = Path(tempfile.mkdtemp(prefix="hub-test-own-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._user: str | None = None
        self._process: asyncio.subprocess.Process | None = None

    def initdb(self) -> None:
        if os.geteuid() == 0:
            self._user = "pgserver"
            self._allow_system_user()
        self.data.mkdir()
        if self._user is not None:
            shutil.chown(self.folder, self._user)
            shutil.chown(self.data, self._user)
        subprocess.run([str(self._bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "--encoding=utf8", "--no-sync"],
                       check=True, capture_output=True, user=self._user)

    def _allow_system_user(self) -> None:
        import stat

        from pgserver.utils import (  # type: ignore[import-untyped,unused-ignore]
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        assert self._user is not None
        ensure_user_exists(self._user)
        ensure_prefix_permissions(self._bin)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(self._bin, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(self._bin.parent / "lib", readable)

    async def start(self, within: float = 30.0) -> float:
        """Starts the postmaster on the cluster's port; returns the monotonic time the first connection
        was accepted (polled every 10 ms)."""
        log = (self.folder / "postgres.log").open("ab")
        self._process = await asyncio.create_subprocess_exec(
            str(self._bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
            "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "max_connections=40",
            stdout=log, stderr=subprocess.STDOUT, user=self._user,
        )
        log.close()
        deadline = time.monotonic() + within
        while True:
            try:
                conn = await asyncpg.connect(self.dsn, timeout=2)
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                if self._process.returncode is not None or time.monotonic() > deadline:
                    raise AssertionError(f"PostgreSQL did not start ({exc!r}); log:\n{self.log()}") from None
                await asyncio.sleep(0.01)
                continue
            accepted = time.monotonic()
            await conn.close()
            return accepted

    async def crash(self) -> None:
        """Immediate shutdown (SIGQUIT to the postmaster, as `pg_ctl stop -m immediate`): every backend is
        ended at once, nothing is checkpointed, and the next start replays the WAL."""
        assert self._process is not None
        self._process.send_signal(signal.SIGQUIT)
        await asyncio.wait_for(self._process.wait(), 30)

    def log(self) -> str:
        path = self.folder / "postgres.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                await asyncio.wait_for(self._process.wait(), 30)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
