"""Websocket budgets per user, across sockets and instances, over real servers: connection opens per user,
subscribe lookups per user, and the cool-off after a strike close that reconnecting does not reset.

Each test starts its own hubs with `rate_limit_scale=1` and a Redis namespace of its own (the suite's shared hub
scales every budget out of the way)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import asyncpg
import httpx
from litestar import Litestar
from websockets.exceptions import ConnectionClosed

from tests.conftest import HubStarter
from tests.helpers.api import signup
from tests.helpers.ws import ProtocolClient, insert_post
from tests.integration.test_budgets import Clock, budget_hub


async def _open(url: str, token: str) -> tuple[ProtocolClient, dict[str, Any]]:
    """A connection after its auth: the auth's reply, or the connection closed without one."""
    ws = await ProtocolClient.open(url)
    frame_id = ws.new_id()
    await ws.send({"op": "auth", "id": frame_id, "token": token})
    with contextlib.suppress(ConnectionClosed):
        await ws.until(lambda: frame_id in ws.replies)
    return ws, ws.replies.get(frame_id, {})


async def _refused(url: str, token: str) -> tuple[int | None, dict[str, Any]]:
    """The close code and auth reply of a connection the hub refuses."""
    ws, reply = await _open(url, token)
    assert not reply.get("ok"), reply
    return await ws.wait_closed(), reply["error"]


async def test_a_reconnect_loop_of_one_user_is_refused_after_its_open_budget_while_another_user_connects(
    client: httpx.AsyncClient, start_hub: Any,
) -> None:
    looper, other = await signup(client), await signup(client)
    with budget_hub(start_hub, ws_opens_per_minute=5) as (url, _):
        for _ in range(5):  # connect, auth, close: the loop of the attack, within the budget
            ws, reply = await _open(url, looper.access_token)
            assert reply["ok"], reply
            await ws.close()
        code, error = await _refused(url, looper.access_token)
        assert code == 4029
        assert error["code"] == "rate_limited" and 0 < error["details"]["retry_after"] <= 60

        ws, reply = await _open(url, other.access_token)
        assert reply["ok"], reply
        assert (await ws.subscribe("feed"))["ok"]
        await ws.close()


@contextmanager
def _hubs(start_hub: HubStarter, count: int, **changes: Any) -> Iterator[list[tuple[str, Litestar]]]:
    """`count` in-thread instances sharing one database and one Redis namespace. Served by `start_hub`, so the
    suite's budgets go back into the shared database's `private.hub_settings` after them: a hub stores its
    own (here scaled 1) at startup, and later tests' plain-SQL writes would meet them."""
    with ExitStack() as stack:
        hubs = []
        for _ in range(count):
            app = start_hub.app(**changes)
            hubs.append((stack.enter_context(start_hub.serve(app)), app))
        yield hubs


def _database_lookups(app: Litestar) -> float:
    value = app.state.services.metrics.registry.get_sample_value("hub_ws_access_lookups_total",
                                                                 {"source": "database"})
    return value or 0.0


async def test_subscribes_spread_over_connections_on_two_instances_meet_the_users_lookup_budget_and_strike(
    start_hub: HubStarter, client: httpx.AsyncClient, owner_conn: asyncpg.Connection,
) -> None:
    user, other = await signup(client), await signup(client)
    posts = [await insert_post(owner_conn, user.user_id) for _ in range(3)]
    channels = [f"{kind}:{post}" for post in posts for kind in ("thread", "votes")]  # one lookup each
    with _hubs(start_hub, 2, rate_limit_scale=1, namespace=start_hub.new_namespace("ws-lookups"),
               ws_lookups_per_minute=6, ws_strike_limit=4) as [(url_a, app_a), (url_b, app_b)]:
        on_a, _ = await _open(url_a, user.access_token)
        for channel in channels:  # the whole budget, on instance A
            assert (await on_a.subscribe(channel))["ok"]

        # A second socket on instance B: the same subscribes cost the user's budget, not a fresh one.
        on_b, _ = await _open(url_b, user.access_token)
        refused = []
        for channel in channels[:3]:
            reply = await on_b.subscribe(channel)
            assert reply["error"]["code"] == "rate_limited", reply
            assert 0 < reply["error"]["details"]["retry_after"] <= 60
            refused.append(reply)
        # Each refusal is a strike: the fourth closes the socket (WS_STRIKE_LIMIT=4).
        await on_b.send({"op": "subscribe", "id": 99, "channel": channels[3]})
        assert await on_b.wait_closed() == 1008
        assert on_b.replies[99]["error"]["code"] == "rate_limited"

        # Another user's budget is their own.
        theirs, _ = await _open(url_b, other.access_token)
        assert (await theirs.subscribe(channels[0]))["ok"]
        await theirs.close()
        await on_a.close()
        # Six lookups for the user, one for the other user: none for the seven refused subscribes.
        assert _database_lookups(app_a) + _database_lookups(app_b) == 7


async def test_after_a_strike_close_the_user_is_refused_for_the_cool_off_and_served_after_it(
    client: httpx.AsyncClient, start_hub: Any,
) -> None:
    user, other = await signup(client), await signup(client)
    clock = Clock()
    with budget_hub(start_hub, clock=clock, ws_strike_limit=2, ws_strike_cool_off_s=30) as (url, _):
        ws, reply = await _open(url, user.access_token)
        assert reply["ok"], reply
        await ws.send("not json")
        await ws.send("not json either")
        assert await ws.wait_closed() == 1008

        clock.now += 29  # reconnecting within the cool-off: refused, and the cool-off does not restart
        code, error = await _refused(url, user.access_token)
        assert code == 1008
        assert error["code"] == "rate_limited" and 0 < error["details"]["retry_after"] <= 1

        ws, reply = await _open(url, other.access_token)  # only the user who struck out cools off
        assert reply["ok"], reply
        await ws.close()

        clock.now += 1.5
        ws, reply = await _open(url, user.access_token)
        assert reply["ok"], reply
        assert (await ws.subscribe("feed"))["ok"]
        await ws.close()
