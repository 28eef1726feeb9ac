"""Anti-framing and the other security headers, on the browser app and on the API."""

from __future__ import annotations

import httpx
import pytest

from hub.app import STATIC_DIR
from hub.security_headers import app_policy


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
