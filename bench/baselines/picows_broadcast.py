"""Baseline: a broadcast server on `picows` (a Cython websocket library for asyncio), the near-limit anchor
for what a Python process can fan out. The same protocol as `ws_broadcast`: connecting to any path but
`/pub` subscribes (the server says `{"op":"hello"}` once registered); every text frame sent to `/pub`
goes to every subscriber as it is, written straight to each transport. A connection to `/echo` (also
greeted with hello) gets each of its text frames back: the load client's own delay at a given frame rate.

`python -m bench.baselines.picows_broadcast --port P`
"""

from __future__ import annotations

import argparse

from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

from bench.baselines.runtime import run_forever
from bench.baselines.ws_broadcast import HELLO

_HELLO = HELLO.encode()


class _Subscriber(WSListener):
    def __init__(self, subscribers: set[WSTransport]) -> None:
        self.subscribers = subscribers

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.subscribers.add(transport)
        transport.send(WSMsgType.TEXT, _HELLO)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.subscribers.discard(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()


class _Publisher(_Subscriber):
    def on_ws_connected(self, transport: WSTransport) -> None:
        pass

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            message = frame.get_payload_as_bytes()
            for subscriber in self.subscribers:
                subscriber.send(WSMsgType.TEXT, message)
        else:
            super().on_ws_frame(transport, frame)


class _Echo(_Subscriber):
    def on_ws_connected(self, transport: WSTransport) -> None:
        transport.send(WSMsgType.TEXT, _HELLO)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            transport.send(WSMsgType.TEXT, frame.get_payload_as_bytes())
        else:
            super().on_ws_frame(transport, frame)


async def main(port: int) -> None:
    subscribers: set[WSTransport] = set()

    def listener(request: WSUpgradeRequest) -> WSListener:
        if request.path == b"/pub":
            return _Publisher(subscribers)
        return _Echo(subscribers) if request.path == b"/echo" else _Subscriber(subscribers)

    server = await ws_create_server(listener, "127.0.0.1", port, max_frame_size=65_536)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    run_forever(main(parser.parse_args().port))
