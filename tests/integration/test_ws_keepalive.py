"""uvicorn's keepalive on the hub's websocket protocol, whose next ping waits on one timer per event loop
(`hub.realtime.ws_protocol`) instead of a loop timer per connection: pings still go out every interval, an
answered ping keeps the connection, an unanswered one closes it."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from typing import Any
from urllib.parse import urlsplit

from hub.realtime.ws_protocol import UVICORN_WS
from tests.helpers.server import serve_in_thread

PING, PONG, CLOSE = 0x9, 0xA, 0x8
INTERVAL_S = 0.2


async def idle_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await receive()
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def open_raw(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return reader, writer


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    return head[0] & 0x0F, await reader.readexactly(length)


def masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def test_pings_keep_coming_while_answered_and_an_unanswered_one_closes_the_connection() -> None:
    with serve_in_thread(idle_app, ws=UVICORN_WS, ws_ping_interval=INTERVAL_S, ws_ping_timeout=INTERVAL_S) as url:
        answering, answering_writer = await open_raw(url)
        silent, silent_writer = await open_raw(url)
        try:
            async with asyncio.timeout(30):
                for _ in range(3):  # each answered ping schedules the next one
                    opcode, payload = await read_frame(answering)
                    assert opcode == PING
                    answering_writer.write(masked(PONG, payload))
                assert (await read_frame(silent))[0] == PING
                opcode, payload = await read_frame(silent)
                assert opcode == CLOSE and struct.unpack("!H", payload[:2])[0] == 1011
                assert (await read_frame(answering))[0] == PING  # the other connection goes on
        finally:
            answering_writer.close()
            silent_writer.close()
