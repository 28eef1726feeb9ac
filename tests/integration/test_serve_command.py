"""`python -m hub serve` on a fresh folder with no environment: embedded PostgreSQL, migrations, demo
data, and a ready hub on the port it was given."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from persistence.seed import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_serve_with_no_environment_starts_embedded_database_with_demo_data(tmp_path: Path,
                                                                          embedded_data_dir: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "MIGRATION_DATABASE_URL", "HUB_NAMESPACE")}
    env.update({"HUB_DATA_DIR": str(embedded_data_dir), "PORT": str(port)})
    ticket = secrets.token_hex(16)
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "hub", "serve"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        output = (tmp_path / "serve.log").read_text()
        assert ready is not None and ready.status_code == 200, output
        assert "seed: done" in output and "migrate:" in output, "migrations and seeding print progress"
        login = httpx.post(f"{base}/api/auth/login", json={"email": "alice@hub.local", "password": DEMO_PASSWORD})
        assert login.status_code == 200, login.text
        me = httpx.get(f"{base}/api/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert me.json()["profile"]["full_name"] == "Alice Learner"
        assert httpx.get(f"{base}/readyz", params={"ticket": ticket}).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    data_dir = str(embedded_data_dir)
    leftovers = subprocess.run(["pgrep", "-f", data_dir], capture_output=True, text=True).stdout.split()
    for pid in leftovers:  # do not leave a server behind even when the assertion below fails
        subprocess.run(["kill", pid], check=False)
    assert not leftovers, "SIGTERM must stop the embedded PostgreSQL too"
    # uvicorn's lines are the app's JSON (the progress lines before them are the command's own output).
    output = (tmp_path / "serve.log").read_text()
    assert ticket not in output, output
    assert not [line for line in output.splitlines() if line.startswith(("INFO:", "WARNING:", "ERROR:"))], output
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(line["logger"] == "uvicorn.access" and line["path"] == "/readyz?ticket=[redacted]"
               for line in logged), output
