"""Servers under test as real subprocesses on loopback ports: start, wait until they listen, read
their memory, stop. Each writes its output to a log file whose tail is shown when it fails."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.load import raise_fd_limit

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


class ServerFailed(RuntimeError):
    """A server did not start; the message carries the tail of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    port: int
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def ws_url(self, path: str = "/ws") -> str:
        return f"ws://{HOST}:{self.port}{path}"

    def rss_kib(self) -> int:
        """Resident memory of the server process, in KiB (from /proc)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"{self.name}: no VmRSS for pid {self.process.pid}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start(name: str, argv: Sequence[str], *, port: int, log_dir: Path, env: dict[str, str] | None = None,
                cwd: Path = ROOT, timeout_s: float = 60.0) -> Server:
    """Starts `argv` and returns once something accepts TCP connections on `port`."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, preexec_fn=raise_fd_limit)
    server = Server(name, port, process, log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise ServerFailed(f"{name} exited with {process.returncode}:\n{server.log_tail()}")
        try:
            _, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return server
    await server.stop()
    raise ServerFailed(f"{name} did not listen on {port} within {timeout_s:.0f} s:\n{server.log_tail()}")


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def uvicorn(target: str, port: int, *, factory: bool = False, compression: bool = False) -> list[str]:
    """The same uvicorn command line for the hub and for every uvicorn-hosted baseline or peer."""
    argv = python("-m", "uvicorn", target, "--host", HOST, "--port", str(port), "--ws-max-size", "65536",
                  "--log-level", "warning", "--no-access-log", "--ws-per-message-deflate", str(compression).lower())
    if factory:
        argv.append("--factory")
    return argv
