"""Anti-framing and the other security headers, on the browser app and on the API."""

from __future__ import annotations

import asyncio
import inspect
import json

import httpx
import pytest

from hub.app import STATIC_DIR
from hub.security_headers import API_POLICY, app_policy
from tests.conftest import HubStarter


def directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/", "/index.html", "/app.js", "/api/posts", "/api/auth/me", "/healthz",
                                  "/api/no-such-route", "/schema"])
async def test_every_response_forbids_framing_and_sniffing(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    policy = directives(response.headers["content-security-policy"])
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_the_app_shell_header_is_its_meta_policy_plus_no_framing(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    header = directives(response.headers["content-security-policy"])
    shell = directives(app_policy(STATIC_DIR / "index.html"))
    assert header == shell
    assert header["script-src"] == "script-src 'self'" and "connect-src" in header


async def test_json_responses_allow_nothing_to_load(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/posts")
    assert directives(response.headers["content-security-policy"])["default-src"] == "default-src 'none'"


async def test_a_websocket_upgrade_to_a_path_without_a_websocket_is_a_404_with_the_headers(hub_url: str) -> None:
    """uvicorn's own refusal (403 text/plain) carried none of them; the app answers it instead."""
    host, port = hub_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"GET /nope HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode("latin-1")
        status, *lines = head.strip().split("\r\n")
        headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)
    finally:
        writer.close()
    assert status.split()[1] == "404", head
    assert headers["content-type"] == "application/problem+json"
    assert directives(headers["content-security-policy"]) == directives(API_POLICY)
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert (json.loads(body)["status"], json.loads(body)["code"]) == (404, "not_found")


def test_the_headers_are_added_on_the_event_loop_not_in_a_worker_thread(start_hub: HubStarter) -> None:
    """Litestar runs a plain-function `before_send` hook in its thread pool: two thread hops per response."""
    hooks = start_hub.app().before_send
    assert hooks and all(inspect.iscoroutinefunction(hook) for hook in hooks)
