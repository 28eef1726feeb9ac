"""A tiny in-test websocket server that speaks protocol v1, for testing `static/hub-client.js` on its own.

It keeps per-channel logs with sequences, answers `auth`, `subscribe` (with resume from `since`, and
`reset` when `since` is older than `trimmed`), `unsubscribe`, `publish` and `ping`, and lets a test
close every connection with a chosen code, refuse new ones, or go silent. Everything it received is
recorded, so a test asserts on the exact frames the browser sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

DURABLE_PREFIXES = ("feed", "thread:", "session:", "user:")


@dataclass
class FakeHub:
    url: str = ""
    origin: str = ""
    static_dir: Path | None = None
    pages: dict[str, str] = field(default_factory=dict)
    heartbeat_s: float = 25.0
    token_lifetime_s: float = 3600.0
    refuse_with: int | None = None  # close every new connection at once with this code
    silent: bool = False  # stop answering anything (a dead peer)
    logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    trimmed: dict[str, int] = field(default_factory=dict)
    presence: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    connect_times: list[float] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    connections: set[ServerConnection] = field(default_factory=set)
    subscribers: dict[str, set[ServerConnection]] = field(default_factory=dict)
    _conn_ids: itertools.count[int] = field(default_factory=itertools.count)

    def frames(self, op: str) -> list[dict[str, Any]]:
        return [f for f in self.received if f.get("op") == op]

    def head(self, channel: str) -> int:
        log = self.logs.get(channel, [])
        return log[-1]["seq"] if log else self.trimmed.get(channel, 0)

    def append(self, channel: str, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """Adds an event to the channel's log (durable channels) without sending it."""
        seq = self.head(channel) + 1 if channel.startswith(DURABLE_PREFIXES) else None
        frame = {"op": "event", "channel": channel, "seq": seq, "event": event, "data": data,
                 "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if seq is not None:
            self.logs.setdefault(channel, []).append(frame)
        return frame

    async def publish(self, channel: str, event: str, data: dict[str, Any]) -> dict[str, Any]:
        frame = self.append(channel, event, data)
        await self.broadcast(channel, frame)
        return frame

    async def broadcast(self, channel: str, frame: dict[str, Any]) -> None:
        for conn in list(self.subscribers.get(channel, ())):
            await _send(conn, frame)

    async def close_all(self, code: int, reason: str = "") -> None:
        for conn in list(self.connections):
            await conn.close(code, reason)

    def http(self, conn: ServerConnection, request: Request) -> Response | None:
        """Serves `pages` and static files to plain HTTP requests; websocket upgrades pass through."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        path = request.path.split("?")[0]
        if path in self.pages:
            return _response(200, "text/html", self.pages[path].encode())
        if self.static_dir is not None:
            file = (self.static_dir / path.lstrip("/")).resolve()
            if file.is_file() and self.static_dir.resolve() in file.parents:
                kind = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}.get(file.suffix)
                return _response(200, kind or "application/octet-stream", file.read_bytes())
        return _response(404, "text/plain", b"not found")

    async def handle(self, conn: ServerConnection) -> None:
        self.connect_times.append(time.monotonic())
        if self.refuse_with is not None:
            await conn.close(self.refuse_with, "refused")
            return
        self.connections.add(conn)
        try:
            async for raw in conn:
                frame = json.loads(raw)
                self.received.append(frame)
                if not self.silent:
                    await self._answer(conn, frame)
        except ConnectionClosed:
            pass
        finally:
            self.connections.discard(conn)
            for subs in self.subscribers.values():
                subs.discard(conn)

    async def _answer(self, conn: ServerConnection, frame: dict[str, Any]) -> None:
        op, frame_id = frame.get("op"), frame.get("id")
        if op == "auth":
            self.tokens.append(frame["token"])
            if frame["token"] == "bad":
                await _send(conn, _error(frame_id, "unauthorized"))
                return
            await _send(conn, _ok(frame_id, {"user_id": "u1", "connection_id": f"c{next(self._conn_ids)}",
                                             "expires_at": time.time() + self.token_lifetime_s,
                                             "heartbeat_s": self.heartbeat_s}))
        elif op == "subscribe":
            await self._subscribe(conn, frame)
        elif op == "unsubscribe":
            self.subscribers.get(frame["channel"], set()).discard(conn)
            await _send(conn, _ok(frame_id, {"channel": frame["channel"]}))
        elif op == "publish":
            await _send(conn, _ok(frame_id, {}))
            await self.publish(frame["channel"], frame["event"], frame["data"])
        elif op == "ping":
            await _send(conn, {"op": "pong", "id": frame_id})

    async def _subscribe(self, conn: ServerConnection, frame: dict[str, Any]) -> None:
        channel, since = frame["channel"], frame.get("since")
        head = self.head(channel)
        result: dict[str, Any] = {"channel": channel, "seq": head, "snapshot": None}
        if channel.startswith("votes:"):
            result["snapshot"] = {"items": [{"target_id": "p1", "score": 7}]}
        if channel in self.presence:
            result["presence"] = self.presence[channel]
        # Joined before the reply goes out: a test that publishes once the client saw the reply must reach it.
        self.subscribers.setdefault(channel, set()).add(conn)
        await _send(conn, _ok(frame.get("id"), result))
        if since is not None and channel.startswith(DURABLE_PREFIXES):
            if since < self.trimmed.get(channel, 0):
                await _send(conn, {"op": "reset", "channel": channel, "seq": head, "reason": "history_expired"})
            else:
                for event in self.logs.get(channel, []):
                    if event["seq"] > since:
                        await _send(conn, event)


def _response(status: int, content_type: str, body: bytes) -> Response:
    headers = Headers({"Content-Type": content_type, "Content-Length": str(len(body)), "Cache-Control": "no-store"})
    return Response(status, "OK" if status == 200 else "Not Found", headers, body)


def _ok(frame_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"op": "reply", "id": frame_id, "ok": True, "result": result}


def _error(frame_id: Any, code: str) -> dict[str, Any]:
    return {"op": "reply", "id": frame_id, "ok": False, "error": {"code": code, "message": code}}


async def _send(conn: ServerConnection, frame: dict[str, Any]) -> None:
    try:
        await conn.send(json.dumps(frame))
    except ConnectionClosed:
        pass


@asynccontextmanager
async def fake_hub(static_dir: Path | None = None, pages: dict[str, str] | None = None) -> AsyncIterator[FakeHub]:
    hub = FakeHub(static_dir=static_dir, pages=pages or {})
    async with serve(hub.handle, "127.0.0.1", 0, process_request=hub.http, close_timeout=0.5) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        hub.url = f"ws://127.0.0.1:{port}/ws"
        hub.origin = f"http://127.0.0.1:{port}"
        yield hub
        await asyncio.sleep(0)
