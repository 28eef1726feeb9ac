"""Baseline: a plain `websockets` server fanning out with `websockets.broadcast`.

`python -m bench.baselines.ws_broadcast --port P [--compression deflate|none]`
"""

from __future__ import annotations

import argparse
import asyncio

from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.baselines.runtime import run_forever

HELLO = '{"op":"hello"}'


async def main(port: int, compression: str | None) -> None:
    subscribers: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        if ws.request is not None and ws.request.path == "/pub":
            async for message in ws:
                broadcast(subscribers, message)
            return
        subscribers.add(ws)
        try:
            await ws.send(HELLO)
            await ws.wait_closed()
        finally:
            subscribers.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=compression, ping_interval=None,
                     max_size=65_536, max_queue=None):
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--compression", choices=["deflate", "none"], default="none")
    args = parser.parse_args()
    run_forever(main(args.port, None if args.compression == "none" else "deflate"))
