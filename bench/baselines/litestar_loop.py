"""Baseline: the least Litestar app that fans out, a loop of `send_text` over its sockets, on uvicorn.

`python -m uvicorn bench.baselines.litestar_loop:app --host 127.0.0.1 --port P`
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

subscribers: set[WebSocket[Any, Any, Any]] = set()  # one app per process: this module is the whole server


@websocket("/ws")
async def subscribe(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    subscribers.add(socket)
    try:
        await socket.send_text('{"op":"hello"}')
        while True:
            await socket.receive_data(mode="text")
    except WebSocketDisconnect:
        pass
    finally:
        subscribers.discard(socket)


@websocket("/pub")
async def publish(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    try:
        while True:
            message = await socket.receive_text()
            for subscriber in list(subscribers):
                try:
                    await subscriber.send_text(message)
                except Exception:  # a subscriber gone mid-loop: drop it, keep serving the others
                    subscribers.discard(subscriber)
    except WebSocketDisconnect:
        pass


app = Litestar(route_handlers=[subscribe, publish], logging_config=None)
