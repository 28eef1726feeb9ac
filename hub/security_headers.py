"""Security headers on every HTTP response: a Content-Security-Policy that forbids framing, no MIME sniffing,
no referrer.

The browser app's own policy stays in its shell (`static/index.html`, a `<meta>`, so it holds wherever the
files are served); a `<meta>` policy cannot carry `frame-ancestors`, so the header repeats it with
`frame-ancestors 'none'` added. Everything else (JSON, metrics) gets a policy that allows nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
from litestar.types import Message, Scope, Send

NO_FRAMING = "frame-ancestors 'none'"
API_POLICY = f"default-src 'none'; {NO_FRAMING}"
# The interactive API docs load Swagger UI from its CDN with an inline bootstrap script: framing is what
# they must not allow, and a script policy would break them.
DOCS_PATH = "/schema"
_META_POLICY = re.compile(r'http-equiv="Content-Security-Policy"\s+content="([^"]+)"')

_COMMON = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


def app_policy(shell: Path) -> str:
    """The shell's `<meta>` policy with `frame-ancestors 'none'`; no framing alone without a shell policy."""
    match = _META_POLICY.search(shell.read_text()) if shell.is_file() else None
    return f"{match.group(1).rstrip('; ')}; {NO_FRAMING}" if match else NO_FRAMING


def security_headers(shell: Path) -> Callable[[Message, Scope], Awaitable[None]]:
    """A `before_send` hook: Litestar runs it for every response, the router's own 404s and 405s included
    (which route middleware never sees). A coroutine function on purpose: Litestar runs a plain function hook
    in its thread pool, two thread hops per response (≈ 20 % of a thread page's CPU, docs/benchmarks.md)."""
    html_policy = app_policy(shell).encode()
    api_policy = API_POLICY.encode()
    docs_policy = NO_FRAMING.encode()

    def policy_for(path: str, content_type: bytes) -> bytes:
        if path == DOCS_PATH or path.startswith(DOCS_PATH + "/"):
            return docs_policy
        return html_policy if content_type.startswith(b"text/html") else api_policy

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = list(message.get("headers", []))
        content_type = next((bytes(v) for k, v in headers if bytes(k).lower() == b"content-type"), b"")
        headers += [(b"content-security-policy", policy_for(scope["path"], content_type)), *_COMMON]
        message["headers"] = headers

    return add_headers


async def refuse_websocket_upgrade(send: Send) -> None:
    """404 problem+json, with the headers above, for a websocket upgrade to a path that takes none. Sent with
    the ASGI `websocket.http.response` extension: otherwise the router's refusal is a `websocket.close`,
    which uvicorn turns into its own bare `403 text/plain`, and `before_send` never sees an HTTP response."""
    body = msgspec.json.encode({"type": "https://hub.example/problems/not_found", "title": "Not found",
                                "status": 404, "detail": "No websocket at this path", "code": "not_found"})
    await send({"type": "websocket.http.response.start", "status": 404,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-security-policy", API_POLICY.encode()), *_COMMON]})
    await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
