"""The `hub.v1.msgpack` subprotocol over real sockets, across two hub processes: msgpack and JSON clients of
one channel decode identical events, resume works, and errors (bad msgpack included) come back as msgpack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
from websockets.asyncio.client import connect

from hub.settings import Settings
from persistence.db import Database
from tests.conftest import HubStarter
from tests.helpers.api import Account, signup
from tests.helpers.instances import Instance, start_instance
from tests.helpers.server import serve_in_thread
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import MSGPACK, ProtocolClient, append_events, insert_post, seqs, ws_url

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def instances(test_db: DatabaseUnderTest, base_settings: Settings,
                    tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, str]]:
    log_dir = tmp_path_factory.mktemp("msgpack-instances")
    started: list[Instance] = list(await asyncio.gather(start_instance(test_db, base_settings, Path(log_dir)),
                                                        start_instance(test_db, base_settings, Path(log_dir))))
    yield started[0].url, started[1].url
    await asyncio.gather(*(instance.stop() for instance in started))


@pytest.fixture
async def account(instances: tuple[str, str]) -> Account:
    async with httpx.AsyncClient(base_url=instances[0], timeout=30) as http:
        return await signup(http)


async def thread_channel(owner_conn: asyncpg.Connection, account: Account) -> str:
    return f"thread:{await insert_post(owner_conn, account.user_id)}"


async def test_msgpack_and_json_subscribers_on_two_instances_decode_identical_events(
        instances: tuple[str, str], account: Account, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    channel = await thread_channel(owner_conn, account)
    packed = await ProtocolClient.open(instances[0], account.access_token, msgpack=True)
    text = await ProtocolClient.open(instances[1], account.access_token)
    publisher = await ProtocolClient.open(instances[1], account.access_token, msgpack=True)
    assert (packed.ws.subprotocol, text.ws.subprotocol) == (MSGPACK, None)
    for client in (packed, text, publisher):
        assert (await client.subscribe(channel))["ok"]

    await append_events(app_db, channel, 12, pad=40)
    await packed.wait_events(channel, 12)
    await text.wait_events(channel, 12)
    # A client op in msgpack, relayed through the broker to the other instance's subscribers.
    assert (await publisher.request({"op": "publish", "channel": channel, "event": "typing", "data": {}}))["ok"]
    await packed.until(lambda: len(packed.events[channel]) == 13)
    await text.until(lambda: len(text.events[channel]) == 13)

    assert packed.events[channel] == text.events[channel]
    assert seqs(packed.events[channel][:12]) == list(range(1, 13))
    assert packed.events[channel][12]["event"] == "typing" and packed.events[channel][12]["seq"] is None
    for client in (packed, text, publisher):
        await client.close()


async def test_a_msgpack_client_resumes_with_since_on_the_other_instance(
        instances: tuple[str, str], account: Account, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    channel = await thread_channel(owner_conn, account)
    first = await ProtocolClient.open(instances[0], account.access_token, msgpack=True)
    assert (await first.subscribe(channel))["ok"]
    await append_events(app_db, channel, 5)
    seen = await first.wait_events(channel, 5)
    await first.close()
    await append_events(app_db, channel, 4)

    again = await ProtocolClient.open(instances[1], account.access_token, msgpack=True)
    reply = await again.subscribe(channel, since=seen[-1]["seq"])
    assert reply["ok"], reply
    assert seqs(await again.wait_events(channel, 4)) == [6, 7, 8, 9]
    await again.settle()
    assert seqs(again.durable(channel)) == [6, 7, 8, 9]  # no duplicate of what the first socket saw
    await again.close()


async def test_errors_on_a_msgpack_connection_are_msgpack_and_bad_input_is_answered_not_fatal(
        instances: tuple[str, str], account: Account) -> None:
    ws = await ProtocolClient.open(instances[0], account.access_token, msgpack=True)

    refused = await ws.subscribe("nonsense:channel")
    assert (refused["ok"], refused["error"]["code"]) == (False, "unknown_channel")

    await ws.send(b"\xc1\x00")  # never valid msgpack
    await ws.send(msgspec.msgpack.encode({"op": "publish", "id": 41, "channel": "feed", "event": "x",
                                          "data": {"blob": b"\x00\x01"}}))
    await ws.send('{"op":"ping","id":42}')  # JSON text on a msgpack connection: its id is not read
    await ws.until(lambda: len(ws.errors) == 2 and 41 in ws.replies)
    malformed, wrong_type = ws.errors
    assert malformed["error"]["code"] == "bad_frame" and malformed["error"]["message"] == "malformed msgpack"
    assert ws.replies[41]["error"]["code"] == "bad_frame"
    assert ws.replies[41]["error"]["details"]["path"] == "$.data"
    assert wrong_type["error"]["code"] == "bad_frame"
    assert wrong_type["error"]["details"]["expected"] == "binary"
    assert 42 not in ws.replies

    await ws.send({"op": "ping", "id": 50})  # still open, still msgpack
    await ws.until(lambda: bool(ws.pongs))
    assert ws.pongs == [{"op": "pong", "id": 50}]
    await ws.close()


async def test_a_binary_frame_on_a_json_connection_is_refused_in_json(
        instances: tuple[str, str], account: Account) -> None:
    ws = await ProtocolClient.open(instances[1], account.access_token, subprotocols=["hub.v1.json"])
    assert ws.ws.subprotocol == "hub.v1.json"
    await ws.send(msgspec.msgpack.encode({"op": "ping", "id": 7}))
    await ws.until(lambda: bool(ws.errors))
    assert ws.errors[0]["error"]["code"] == "bad_frame"
    assert ws.errors[0]["error"]["details"]["expected"] == "text"
    await ws.close()


async def test_an_oversized_binary_frame_closes_with_1009(
        instances: tuple[str, str], account: Account, base_settings: Settings) -> None:
    ws = await ProtocolClient.open(instances[0], account.access_token, msgpack=True)
    data = {"text": "x" * (base_settings.ws_max_frame_bytes + 10)}
    await ws.send(msgspec.msgpack.encode({"op": "publish", "id": 1, "channel": "feed", "event": "x", "data": data}))
    assert await ws.wait_closed() == 1009


async def test_an_unknown_subprotocol_alone_gets_json_without_a_subprotocol(
        instances: tuple[str, str], account: Account) -> None:
    async with connect(ws_url(instances[0]), subprotocols=["hub.v2.cbor"], compression=None) as raw:  # type: ignore[list-item]
        assert raw.subprotocol is None
        await raw.send(json.dumps({"op": "auth", "id": 1, "token": account.access_token}))
        reply = await asyncio.wait_for(raw.recv(), 10)
        assert isinstance(reply, str) and '"ok":true' in reply


@pytest.mark.parametrize("protocol", ["websockets-sansio", "wsproto"])
async def test_uvicorns_stock_protocols_negotiate_msgpack_and_carry_it_through_asgi_sends(
        protocol: str, start_hub: HubStarter, owner_conn: asyncpg.Connection,
        app_db: Database) -> None:
    # Without the hub's own protocol there is no ready-made-frame writer: every frame goes through
    # `websocket.send` with `bytes`, and the handshake's subprotocol is the server's to answer.
    app = start_hub.app()
    with serve_in_thread(app, ws=protocol, ws_max_size=start_hub.base.ws_max_frame_bytes) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            account = await signup(http)
        channel = await thread_channel(owner_conn, account)
        packed = await ProtocolClient.open(url, account.access_token, msgpack=True)
        text = await ProtocolClient.open(url, account.access_token)
        assert packed.ws.subprotocol == MSGPACK
        for client in (packed, text):
            assert (await client.subscribe(channel))["ok"]
        await append_events(app_db, channel, 3)
        assert await packed.wait_events(channel, 3) == await text.wait_events(channel, 3)
        await packed.close()
        await text.close()
