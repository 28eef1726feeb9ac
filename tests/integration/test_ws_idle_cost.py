"""What an idle connection holds on the server: the handler's own task and nothing else.

Idle memory per connection is measured in bench/ (scenario 3); this pins the design that makes it small,
with a real uvicorn server on the hub's websocket protocol class: no reader or writer task per
connection, and a writer only while frames back up.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections import Counter
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any, TypeVar

import asyncpg

from hub.app import create_app
from hub.realtime.instance import Realtime
from hub.realtime.ws_protocol import UVICORN_WS, IdleLeanProtocol
from hub.settings import Settings
from persistence.db import Database, init_connection
from tests.helpers.eventually import eventually
from tests.helpers.server import serve_in_thread
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import ProtocolClient, append_events, insert_post
from tests.integration.test_sessions import mint_users

T = TypeVar("T")
CONNECTIONS = 30


async def test_an_idle_subscribed_connection_runs_one_task_and_a_burst_leaves_none_behind(
    lone_db: DatabaseUnderTest, base_settings: Settings,
) -> None:
    # A database of its own: every hub on the run's shared database claims the jobs other tests queue there
    # (mails, digests), and each claimed job is a task this server would count as the connections'.
    owner_conn = await asyncpg.connect(lone_db.owner_dsn)
    await init_connection(owner_conn)
    app_db = Database(lone_db.app_dsn, min_size=0, max_size=2)
    await app_db.open()
    try:
        await _idle_and_burst(lone_db, base_settings, owner_conn, app_db)
    finally:
        await app_db.close()
        await owner_conn.close()


async def _idle_and_burst(lone_db: DatabaseUnderTest, base_settings: Settings, owner_conn: asyncpg.Connection,
                          app_db: Database) -> None:
    [(user_id, headers)] = await mint_users(owner_conn, 1)
    token = headers["Authorization"].removeprefix("Bearer ")
    channel = f"thread:{await insert_post(owner_conn, user_id)}"
    app = create_app(replace(base_settings, ws_max_connections_per_user=CONNECTIONS), lone_db.app_dsn)
    loops: list[asyncio.AbstractEventLoop] = []
    app.on_startup.append(lambda: loops.append(asyncio.get_running_loop()))
    with serve_in_thread(app, ws_max_size=base_settings.ws_max_frame_bytes, ws=UVICORN_WS,
                         ws_per_message_deflate=base_settings.ws_compression) as url:
        server_loop = loops[0]

        def on_server(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
            return asyncio.run_coroutine_threadsafe(coro, server_loop)

        async def task_kinds() -> Counter[str]:
            return Counter(task.get_coro().__qualname__ for task in asyncio.all_tasks())

        def kinds_now() -> Counter[str]:
            return on_server(task_kinds()).result(5)

        async def outboxes_writing() -> int:
            realtime = app.state.services.started.get(Realtime)
            return sum(peer.outbox.writing for peer in realtime.peers)

        # Kinds, not totals: the server's own machinery starts and ends short tasks at any time (start-up
        # work still in flight at the baseline, the views flusher's `wait_for` between two rounds), so two
        # totals taken at two instants differ by a few on a busy machine. What the connections added is the
        # count of each kind above the baseline; a transient new task only delays the match.
        before = kinds_now()
        handler = IdleLeanProtocol.run_asgi.__qualname__
        sockets = [await ProtocolClient.open(url, token) for _ in range(CONNECTIONS)]
        for ws in sockets:
            assert (await ws.subscribe(channel))["ok"]

        def added() -> Counter[str]:
            return kinds_now() - before

        only_handlers = Counter({handler: CONNECTIONS})
        await eventually(lambda: added() == only_handlers, within=15,
                         what=lambda: f"one task per connection, its handler's; added: {added()}")

        await append_events(app_db, channel, 50, per_transaction=5)
        for ws in sockets:
            await ws.wait_events(channel, 50)
        await eventually(lambda: on_server(outboxes_writing()).result(5) == 0, within=15, what="writers to end")
        await eventually(lambda: added() == only_handlers, within=15,
                         what=lambda: f"the burst's tasks to end, the handlers' left; added: {added()}")
        for ws in sockets:
            await ws.close()
