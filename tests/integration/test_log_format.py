"""One log format: a hub started by the Procfile's own `web:` command writes every line, uvicorn's access
and server lines included, as one JSON object, and credentials in a query string never reach the log."""

from __future__ import annotations

import json
import secrets
import shlex
import sys
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from hub.settings import Settings
from tests.helpers.instances import ROOT, start_instance
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import ws_url


def procfile_web(port: int) -> list[str]:
    """The Procfile's `web:` line, run by a shell as a platform would, with this venv's uvicorn."""
    [line] = [entry for entry in (ROOT / "Procfile").read_text().splitlines() if entry.startswith("web:")]
    command = line.removeprefix("web:").strip()
    assert command.startswith("uvicorn "), command
    command = f"exec {shlex.quote(sys.executable)} -m {command}"
    return ["bash", "-c", command.replace("$PORT", str(port))]


@pytest.mark.slow
async def test_every_line_of_a_procfile_hub_is_json_and_query_credentials_are_redacted(
    test_db: DatabaseUnderTest, base_settings: Settings, tmp_path: Path,
) -> None:
    ticket, token, access_token = (secrets.token_hex(16) for _ in range(3))
    instance = await start_instance(test_db, base_settings, tmp_path, argv=procfile_web, LOG_LEVEL="info")
    try:
        async with httpx.AsyncClient(base_url=instance.url, timeout=30) as http:
            assert (await http.get("/readyz", params={"ticket": ticket, "view": "full"})).status_code == 200
            assert (await http.get("/api/auth/me", params={"access_token": access_token})).status_code == 401
        async with connect(f"{ws_url(instance.url)}?token={token}", compression=None, open_timeout=10):
            pass
        instance.sigterm()
        await instance.wait_exit()  # its shutdown lines are in the log too
    finally:
        await instance.stop()
    text = instance.log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # raises on any other line
    assert all({"ts", "level", "logger", "msg"} <= line.keys() for line in lines), text
    for credential in (ticket, token, access_token):
        assert credential not in text, text
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert {"method": "GET", "path": "/readyz?ticket=[redacted]&view=full", "status": 200}.items() <= next(
        line for line in access if line["path"].startswith("/readyz?ticket")).items(), access
    assert any(line["path"] == "/api/auth/me?access_token=[redacted]" and line["status"] == 401
               for line in access), access
    assert any(line["logger"] == "uvicorn.error" and "startup complete" in line["msg"] for line in lines), text
