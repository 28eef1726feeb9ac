"""Baseline for end-to-end delivery: one asyncpg LISTEN connection feeding a `websockets` broadcast.

`python -m bench.baselines.pg_relay --port P --dsn postgresql://…` relays every notification on
`bench_relay` as it is, to every subscriber.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import asyncpg
from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.baselines.runtime import run_forever
from bench.baselines.ws_broadcast import HELLO

CHANNEL = "bench_relay"


async def main(port: int, dsn: str) -> None:
    subscribers: set[ServerConnection] = set()

    def relay(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        broadcast(subscribers, payload)

    async def handler(ws: ServerConnection) -> None:
        subscribers.add(ws)
        try:
            await ws.send(HELLO)
            await ws.wait_closed()
        finally:
            subscribers.discard(ws)

    listener = await asyncpg.connect(dsn)
    await listener.add_listener(CHANNEL, relay)
    try:
        async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None, max_queue=None):
            await asyncio.Future()
    finally:
        await listener.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    args = parser.parse_args()
    run_forever(main(args.port, args.dsn))
