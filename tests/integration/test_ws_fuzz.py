"""Thousands of hostile frames: every one is answered with a typed error or ends in a documented close.

Documented closes: 1008 (repeated bad frames), 1009 (over the size limit), 4001 (not authenticated),
1007 (a text frame that is not UTF-8; uvicorn closes before the app sees it). Meanwhile another
connection keeps receiving a channel's events, complete and in order, and the server ends with no
connection left behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from hub.settings import Settings
from persistence.db import Database
from tests.conftest import METRICS_HEADERS
from tests.helpers.api import signup
from tests.helpers.eventually import eventually
from tests.helpers.instances import start_instance
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import ProtocolClient, append_events, assert_continuous, insert_post, ws_url

SCALE = float(os.environ.get("HUB_TEST_SCALE", "1"))
DOCUMENTED_CLOSES = {1007, 1008, 1009, 4001}
OWN_CLOSE = 1000  # the fuzzer's own close when its share of frames is done
ERROR_CODES = {"bad_frame", "unauthorized", "token_expired", "forbidden", "not_found", "unknown_channel",
               "already_subscribed", "not_subscribed", "event_not_allowed", "session_not_live", "rate_limited",
               "too_many_subscriptions"}
SERVER_OPS = {"reply", "event", "presence", "reset", "error", "pong"}


def _generators(rng: random.Random, post_id: str) -> list[Callable[[], str | bytes]]:
    def junk_value(depth: int = 0) -> Any:
        makers: list[Callable[[], Any]] = [
            lambda: None, lambda: True, lambda: rng.randint(-2**70, 2**70), lambda: rng.random() * 1e308,
            lambda: "ü\u0000\ud7ff" * rng.randrange(5), lambda: "x" * rng.randrange(100),
            lambda: [junk_value(depth + 1) for _ in range(3)], lambda: {str(rng.random()): junk_value(depth + 1)},
            lambda: {"op": junk_value(depth + 1)},
        ]
        return makers[rng.randrange(9 if depth < 3 else 6)]()

    ops = ["auth", "subscribe", "unsubscribe", "publish", "ping", "reply", "event", "", "AUTH", "subscribe "]
    fields = ["id", "op", "channel", "since", "token", "event", "data", "extra", "__proto__"]
    channels = ["feed", f"thread:{post_id}", "thread:", "user:../../etc", "session:" + "0" * 36, "votes:x",
                "leaderboard:hourly", "feed\u0000", "ｆｅｅｄ", "x" * 250]

    def wrong_types() -> str:
        frame = {f: junk_value() for f in rng.sample(fields, rng.randrange(1, 5))}
        frame["op"] = rng.choice(ops)
        return json.dumps(frame)

    def plausible() -> str:
        op = rng.choice(["subscribe", "unsubscribe", "publish", "ping"])
        frame: dict[str, Any] = {"op": op, "id": rng.choice([rng.randrange(1000), -1, 2**60, "7", None])}
        if op != "ping":
            frame["channel"] = rng.choice(channels)
        if op == "subscribe" and rng.random() < 0.5:
            frame["since"] = rng.choice([0, -5, 2**62, 1.5, "3"])
        if op == "publish":
            frame["event"] = rng.choice(["typing", "chat.message", "reaction", "x" * 100])
            frame["data"] = rng.choice([{}, {"text": "hi"}, {"emoji": "👍"}, [], "data"])
        return json.dumps(frame)

    def huge_string() -> str:
        return json.dumps({"op": "ping", "id": 1, "pad": "y" * rng.randrange(1000, 60_000)})

    def deep_nesting() -> str:
        depth = rng.choice([100, 1000, 20_000])
        return '{"op":"publish","channel":"feed","event":"typing","data":' + "[" * depth + "]" * depth + "}"

    def not_json() -> str:
        return rng.choice(["", "{", "null", "[]", "42", '"op"', "{'op': 'ping'}", "{\"op\":\"ping\"}}"]) + \
            "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(20)))

    def binary() -> bytes:
        return rng.choice([b'{"op":"ping","id":3}', bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))),
                           b"\xff\xfe{\"op\":\"ping\"}", b'{"op":"ping","x":"\xc3\x28"}'])

    weighted = [(wrong_types, 30), (plausible, 30), (not_json, 15), (binary, 12), (huge_string, 5),
                (deep_nesting, 5)]
    return [gen for gen, weight in weighted for _ in range(weight)]


def _fatal(rng: random.Random) -> tuple[str | bytes, bool]:
    """Frames the transport itself refuses (uvicorn closes at once): over the size limit (1009), or a text
    frame that is not UTF-8 (1007). Sent as text when the second item is True."""
    if rng.random() < 0.5:
        return json.dumps({"op": "ping", "pad": "z" * 70_000}), True
    return b'{"op":"ping","x":"\xc3\x28"}', True


def _ponged(client: ProtocolClient, ping_id: int) -> bool:
    return any(p["id"] == ping_id for p in client.pongs[-3:])


def _check(frames: list[dict[str, Any]], problems: list[str]) -> None:
    for frame in frames:
        if frame.get("op") not in SERVER_OPS:
            problems.append(f"unknown op {str(frame)[:200]}")
        error = frame.get("error")
        if error is not None and error.get("code") not in ERROR_CODES:
            problems.append(f"undocumented error {str(frame)[:300]}")
        if "Traceback" in str(frame):
            problems.append("traceback leaked")


async def test_ten_thousand_hostile_frames_get_typed_errors_or_documented_closes(
    client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database, test_db: DatabaseUnderTest,
    base_settings: Settings, tmp_path: Path,
) -> None:
    rng = random.Random(20240601)
    account = await signup(client)
    post_id = await insert_post(owner_conn, account.user_id)
    channel = f"thread:{post_id}"
    total = max(10_000, int(10_000 * SCALE))
    # A process of its own: the fuzzing client and the server do not share an interpreter (or a GIL).
    instance = await start_instance(test_db, base_settings, tmp_path, WS_MAX_CONNECTIONS_PER_USER="50")
    url = instance.url
    try:
        observer = await ProtocolClient.open(url, account.access_token)
        await observer.subscribe(channel)
        stop = asyncio.Event()
        written: list[int] = []

        async def writer() -> None:
            while not stop.is_set():
                written.extend(await append_events(app_db, channel, 1))
                await asyncio.sleep(0.01)

        async def observe() -> None:
            while not stop.is_set() or len(observer.durable(channel)) < len(written):
                await observer.pump(0.1)

        generators = _generators(rng, post_id)
        seen: Counter[str] = Counter()
        closes: Counter[int | None] = Counter()
        problems: list[str] = []
        sent = 0
        marker = 2**50  # ids of the pacing pings; fuzz ids never reach this range validly

        async def fuzz_connection(share: int) -> None:
            nonlocal sent, marker
            done = 0
            while done < share:
                fuzzer = ProtocolClient(await connect(ws_url(url), compression=None, max_size=None))
                try:
                    if rng.random() < 0.9:
                        await fuzzer.send({"op": "auth", "id": 0, "token": account.access_token})
                    while done < share:
                        fatal = rng.random() < 0.003
                        frame, as_text = _fatal(rng) if fatal else (rng.choice(generators)(), False)
                        if isinstance(frame, bytes) and as_text:
                            await fuzzer.ws.send(frame, text=True)
                        else:
                            await fuzzer.send(frame)
                        done += 1
                        sent += 1
                        if fatal:
                            await fuzzer.wait_closed()
                            break
                        # A ping after each frame: its pong proves every answer to the frame has arrived,
                        # and keeps the client from writing into a socket the server is closing.
                        marker += 1
                        ping_id = marker
                        await fuzzer.send({"op": "ping", "id": ping_id})
                        await fuzzer.until(partial(_ponged, fuzzer, ping_id))
                except ConnectionClosed:
                    pass
                finally:
                    await fuzzer.ws.close()
                _check(fuzzer.frames, problems)
                seen.update(f["op"] for f in fuzzer.frames)
                closes[fuzzer.close_code] += 1

        writer_task = asyncio.create_task(writer())
        observer_task = asyncio.create_task(observe())
        workers = 4
        try:
            await asyncio.gather(*(fuzz_connection(total // workers) for _ in range(workers)))
        finally:
            stop.set()
            await writer_task
            await asyncio.wait_for(observer_task, 20)

        assert sent >= 10_000
        assert not problems, problems[:5]
        assert closes.pop(OWN_CLOSE, 0) <= workers
        assert set(closes) <= DOCUMENTED_CLOSES, closes
        assert seen["reply"] > 1000 and closes[1008] > 100 and closes[1009] > 0 and closes[1007] > 0
        assert_continuous(observer.durable(channel), 0, written[-1])
        print(f"\nfuzz: {sent} frames over {sum(closes.values())} connections, closes {dict(closes)}, "
              f"server frames {dict(seen)}")
        await observer.close()
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/healthz")).status_code == 200

            async def all_closed() -> bool:
                return "hub_ws_connections 0.0" in (await http.get("/metrics", headers=METRICS_HEADERS)).text

            await eventually(all_closed, within=20, what="the server to close every connection")
    finally:
        await instance.stop()
