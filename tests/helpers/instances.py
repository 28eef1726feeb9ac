"""Hub instances as real uvicorn processes (`python -m uvicorn hub.asgi:create --factory`), on free ports.

For multi-instance and fault tests: each one is a separate process with its own pool, listener and
broker connection, on the test run's database, Redis and namespace.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from hub.realtime.ws_protocol import UVICORN_WS
from hub.settings import Settings
from tests.helpers.ports import free_port
from tests.helpers.services import DatabaseUnderTest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Instance:
    process: asyncio.subprocess.Process
    url: str
    log_path: Path

    def sigterm(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def sigkill(self) -> None:
        self.process.kill()

    async def wait_exit(self, within: float = 20.0) -> int:
        try:
            return await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            raise AssertionError(f"instance {self.url} did not exit; log:\n{self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.wait_exit()


async def wait_ready(url: str, within: float = 30.0, process: asyncio.subprocess.Process | None = None) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if process is not None and process.returncode is not None:
                raise AssertionError(f"instance exited with {process.returncode}")
            try:
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} not ready within {within} s")


async def start_instance(test_db: DatabaseUnderTest, settings: Settings, log_dir: Path, *,
                         redis_url: str | None = None, argv: Callable[[int], Sequence[str]] | None = None,
                         **env: str) -> Instance:
    """Starts one instance with the test run's secret, database, Redis and namespace; waits for /readyz.
    `argv(port)`, when given, is the command instead of the suite's own uvicorn command line."""
    port = free_port()
    environ = {
        **os.environ,
        "DATABASE_URL": test_db.app_dsn,
        "MIGRATION_DATABASE_URL": test_db.owner_dsn,
        "JWT_SECRET": settings.jwt_secret or "",
        "METRICS_TOKEN": settings.metrics_token or "",
        "HUB_NAMESPACE": settings.namespace or "",
        "HUB_DATA_DIR": settings.data_dir,
        "LOG_LEVEL": "warning",
        "LOGIN_RATE_PER_MINUTE": "10000",
        "RATE_LIMIT_SCALE": str(settings.rate_limit_scale),  # the suite's: budgets out of the way
        "LOGIN_BACKOFF_AFTER": str(settings.login_backoff_after),  # not scaled: the suite sets it itself
        "LOGIN_KNOWN_ADDRESS_TTL": str(settings.login_known_address_s),
        "DB_POOL_MAX": "4",
        "SMTP_URL": settings.smtp_url or "",
        "REQUIRE_EMAIL_VERIFICATION": str(settings.require_email_verification).lower(),
        **env,
    }
    redis = redis_url if redis_url is not None else settings.redis_url
    if redis:
        environ["REDIS_URL"] = redis
    log_path = log_dir / f"hub-{port}.log"
    with log_path.open("wb") as log_file:
        command = argv(port) if argv is not None else (
            sys.executable, "-m", "uvicorn", "hub.asgi:create", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--ws-max-size", str(settings.ws_max_frame_bytes),
            "--ws-per-message-deflate", str(settings.ws_compression).lower(),
            "--timeout-graceful-shutdown", "5", "--log-level", "warning", "--ws", UVICORN_WS,
        )
        process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=environ, stdout=log_file,
                                                       stderr=subprocess.STDOUT)
    instance = Instance(process, f"http://127.0.0.1:{port}", log_path)
    try:
        await wait_ready(instance.url, process=process)
    except AssertionError as exc:
        await instance.stop()
        raise AssertionError(f"{exc}; log:\n{instance.log()}") from None
    return instance
