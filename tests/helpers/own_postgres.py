"""PostgreSQL clusters the tests create and own: the run's server when TEST_DATABASE_URL is unset, and the
servers a test may crash and restart (never the shared one).

The binaries are those of a PostgreSQL installed on the machine with its contrib modules (the tests load
`pg_trgm` and `auto_explain`), newest first; without one, pgserver's (installed with the test dependencies,
so they exist on a fresh machine, but without contrib: the tests needing it then fail with MISSING_CONTRIB).
PostgreSQL refuses to run as root; as root the cluster runs as pgserver's own system user, as pgserver does.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests.helpers.ports import free_port

CONTRIB = ("pg_trgm", "auto_explain")  # the contrib modules some tests load
MISSING_CONTRIB = (
    "is not available on this PostgreSQL server: install PostgreSQL with its contrib modules (on Debian, as "
    "root: apt-get install postgresql; the tests then run a throwaway cluster of their own with its binaries), "
    "or set TEST_DATABASE_URL to a server that has them")
SYSTEM_INSTALLS = Path("/usr/lib/postgresql")  # Debian's and Ubuntu's /usr/lib/postgresql/<major>/bin
RUN_AS = "pgserver"


@dataclass(frozen=True)
class Binaries:
    bin_dir: Path
    bundled: bool  # pgserver's, inside the virtualenv: other users may need read access opened to it


def _has_contrib(bin_dir: Path) -> bool:
    pg_config = bin_dir / "pg_config"
    if not all((bin_dir / name).is_file() for name in ("postgres", "initdb", "pg_config")):
        return False
    try:
        lib, share = subprocess.run([str(pg_config), "--pkglibdir", "--sharedir"], check=True, text=True,
                                    capture_output=True, timeout=10).stdout.split()
    except (OSError, ValueError, subprocess.SubprocessError):
        return False
    # pg_trgm is an extension (a control file besides its library), auto_explain a plain loadable module.
    return all((Path(lib) / f"{module}.so").is_file() for module in CONTRIB) \
        and (Path(share) / "extension" / "pg_trgm.control").is_file()


def _major(bin_dir: Path) -> int:
    match = re.fullmatch(r"\d+", bin_dir.parent.name)
    return int(match.group()) if match else 0


def _system_candidates() -> list[Path]:
    found = sorted(SYSTEM_INSTALLS.glob("*/bin"), key=_major, reverse=True)
    on_path = shutil.which("pg_config")
    if on_path is not None:
        try:
            found.append(Path(subprocess.run([on_path, "--bindir"], check=True, text=True, capture_output=True,
                                             timeout=10).stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    return found


@contextmanager
def _importing_pgserver() -> Iterator[None]:
    with warnings.catch_warnings():
        # Importing pgserver reads platformdirs' runtime folder, which warns when XDG_RUNTIME_DIR is unset.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        yield


@functools.cache
def binaries() -> Binaries:
    """The newest system PostgreSQL with the contrib modules, else pgserver's."""
    for bin_dir in _system_candidates():
        if _has_contrib(bin_dir):
            return Binaries(bin_dir, bundled=False)
    with _importing_pgserver():
        from pgserver._commands import POSTGRES_BIN_PATH  # type: ignore[import-untyped,unused-ignore]
    return Binaries(Path(POSTGRES_BIN_PATH), bundled=True)


class OwnPostgres:
    """`initdb()` then `start()` the postmaster; `crash()` stops it as a crash would; `start()` again runs
    crash recovery; `stop()` shuts it down and removes its files."""

    def __init__(self, max_connections: int = 40) -> None:
        self._binaries = binaries()
        self._bin = self._binaries.bin_dir
        self._max_connections = max_connections
        # Under /tmp rather than pytest's tmp_path: the cluster's user must be able to reach it.
        self.folder = Path(tempfile.mkdtemp(prefix="hub-test-own-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._user: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def initdb(self) -> None:
        if os.geteuid() == 0:
            self._user = RUN_AS
            self._allow_system_user()
        self.data.mkdir()
        if self._user is not None:
            shutil.chown(self.folder, self._user)
            shutil.chown(self.data, self._user)
        subprocess.run([str(self._bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "--encoding=utf8", "--no-sync"],
                       check=True, capture_output=True, user=self._user)

    def _allow_system_user(self) -> None:
        with _importing_pgserver():
            from pgserver.utils import (  # type: ignore[import-untyped,unused-ignore]
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        ensure_user_exists(RUN_AS)
        if self._binaries.bundled:  # a system installation is readable by every user already
            ensure_prefix_permissions(self._bin)
            readable = stat.S_IRGRP | stat.S_IROTH
            ensure_folder_permissions(self._bin, readable | stat.S_IXGRP | stat.S_IXOTH)
            ensure_folder_permissions(self._bin.parent / "lib", readable)

    async def start(self, within: float = 30.0) -> float:
        """Starts the postmaster on the cluster's port; returns the monotonic time the first connection
        was accepted (polled every 10 ms)."""
        process = self._spawn()
        deadline = time.monotonic() + within
        while True:
            try:
                conn = await asyncpg.connect(self.dsn, timeout=2)
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"PostgreSQL did not start ({exc!r}); log:\n{self.log()}") from None
                await asyncio.sleep(0.01)
                continue
            accepted = time.monotonic()
            await conn.close()
            return accepted

    def _spawn(self) -> subprocess.Popen[bytes]:
        # A plain child process rather than asyncio's: the run's server is started and stopped from event
        # loops of its own (`asyncio.run` in a synchronous session fixture), which an asyncio one outlives.
        with (self.folder / "postgres.log").open("ab") as log:
            self._process = subprocess.Popen(
                [str(self._bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
                 "-c", "unix_socket_directories=", "-c", "fsync=off",
                 "-c", f"max_connections={self._max_connections}"],
                stdout=log, stderr=subprocess.STDOUT, user=self._user)
        return self._process

    async def crash(self) -> None:
        """Immediate shutdown (SIGQUIT to the postmaster, as `pg_ctl stop -m immediate`): every backend is
        ended at once, nothing is checkpointed, and the next start replays the WAL."""
        assert self._process is not None
        self._process.send_signal(signal.SIGQUIT)
        await asyncio.to_thread(self._process.wait, 30)

    def log(self) -> str:
        path = self.folder / "postgres.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_blocking)

    def stop_blocking(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
