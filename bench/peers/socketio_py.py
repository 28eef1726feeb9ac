"""Peer: python-socketio with `AsyncRedisManager`, as an ASGI app on uvicorn.

`BENCH_REDIS_URL=redis://… BENCH_REDIS_CHANNEL=… uvicorn bench.peers.socketio_py:create --factory`.
Subscribers join room `feed` on connect and get a `hello` event; a client connecting with
`?role=pub` emits `publish` events, which the server emits to the room through Redis.
"""

from __future__ import annotations

import os
from typing import Any

import socketio  # type: ignore[import-untyped]

ROOM = "feed"


def create() -> Any:
    manager = socketio.AsyncRedisManager(os.environ["BENCH_REDIS_URL"],
                                         channel=os.environ.get("BENCH_REDIS_CHANNEL", "socketio"))
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, cors_allowed_origins=[],
                               transports=["websocket"], ping_interval=25, max_http_buffer_size=65_536)

    @sio.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any], _auth: Any = None) -> None:
        if "role=pub" not in environ.get("QUERY_STRING", ""):
            await sio.enter_room(sid, ROOM)
        await sio.emit("hello", {}, to=sid)

    @sio.event  # type: ignore[untyped-decorator]
    async def publish(_sid: str, data: Any) -> None:
        await sio.emit("event", data, room=ROOM)

    return socketio.ASGIApp(sio)
