"""Stripe webhooks: only verified deliveries count, each event counts once, and delivery order does not
change the outcome. Signed with the SDK's own helper; the hub refetches from the local stand-in."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from tests.helpers.api import Account, admin, signup
from tests.helpers.lessons import api_gate
from tests.helpers.stripe_stub import (
    StripeStub,
    deliver,
    event_body,
    priced_plan,
    signed_headers,
    subscription_object,
)

LEVELS = 1000
T = int(time.time()) - 3600  # event `created` times; signatures are made "now"
# Well under the SDK's 10 s timeout, so a held fetch is never retried by the SDK.
HOLD_S = 5.0


@dataclass
class Subscriber:
    account: Account
    plan: dict[str, Any]
    customer: str
    subscription_id: str

    def subscription(self, status: str, **changes: Any) -> dict[str, Any]:
        return subscription_object(self.subscription_id, customer=self.customer, price=self.plan["stripe_price_id"],
                                   status=status, **changes)

    def invoice(self) -> dict[str, Any]:
        return {"id": f"in_{secrets.token_hex(6)}", "object": "invoice", "customer": self.customer,
                "parent": {"type": "subscription_details",
                           "subscription_details": {"subscription": self.subscription_id}}}


async def new_subscriber(http: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> Subscriber:
    """A user whose Stripe customer is stored (as checkout leaves it) and a plan opening every level."""
    plan = await priced_plan(http, (await admin(http, owner_conn)).headers, level_access_limit=LEVELS)
    account = await signup(http)
    customer = f"cus_{secrets.token_hex(8)}"
    await owner_conn.execute("UPDATE auth.users SET stripe_customer_id = $2 WHERE id = $1", account.user_id, customer)
    return Subscriber(account, plan, customer, f"sub_{secrets.token_hex(8)}")


@pytest.fixture
async def subscriber(http: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> Subscriber:
    return await new_subscriber(http, owner_conn)


async def row_of(owner_conn: asyncpg.Connection, subscription_id: str) -> dict[str, Any] | None:
    row = await owner_conn.fetchrow(
        """
        SELECT user_id, plan_id::text AS plan_id, status, current_period_start, current_period_end, trial_end,
               cancel_at_period_end, stripe_state_at
        FROM public.user_subscriptions WHERE stripe_subscription_id = $1
        """,
        subscription_id,
    )
    return dict(row) if row else None


async def state_of(owner_conn: asyncpg.Connection, subscription_id: str) -> tuple[Any, ...]:
    row = await row_of(owner_conn, subscription_id)
    assert row is not None
    return (row["plan_id"], row["status"], row["current_period_end"], row["trial_end"], row["cancel_at_period_end"])


async def user_events(owner_conn: asyncpg.Connection, account: Account) -> list[dict[str, Any]]:
    rows = await owner_conn.fetch(
        "SELECT data FROM realtime.events WHERE channel = $1 AND event = 'subscription.updated' ORDER BY seq",
        f"user:{account.user_id}")
    return [row["data"] for row in rows]


async def ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True}


async def test_unsigned_badly_signed_stale_or_altered_deliveries_are_400_and_change_nothing(
        http: httpx.AsyncClient, subscriber: Subscriber, owner_conn: asyncpg.Connection) -> None:
    event_id = f"evt_{secrets.token_hex(8)}"
    body = event_body("customer.subscription.created", subscriber.subscription("active"), created=T,
                      event_id=event_id)
    altered = body.replace('"status": "active"', '"status": "trialing"')
    assert altered != body
    attempts = [
        (body, {}),
        (body, {"Stripe-Signature": "garbage"}),
        (body, signed_headers(body, secret="whsec_someone_else")),
        (body, signed_headers(body, timestamp=int(time.time()) - 600)),
        (altered, signed_headers(body)),
    ]
    for content, headers in attempts:
        response = await http.post("/api/billing/webhook", content=content, headers=headers)
        assert (response.status_code, response.json()["code"]) == (400, "bad_signature"), headers
    assert await owner_conn.fetchval("SELECT count(*) FROM billing.stripe_events WHERE id = $1", event_id) == 0
    assert await row_of(owner_conn, subscriber.subscription_id) is None
    await ok(await http.post("/api/billing/webhook", content=body, headers=signed_headers(body)))
    assert await owner_conn.fetchval("SELECT count(*) FROM billing.stripe_events WHERE id = $1", event_id) == 1


@pytest.mark.parametrize("where", ["data", "unknown_field"])
async def test_a_correctly_signed_deeply_nested_body_is_400_and_records_nothing(
        http: httpx.AsyncClient, owner_conn: asyncpg.Connection, where: str) -> None:
    """Deep nesting trips the JSON decoder's recursion guard inside the SDK's verification (was a 500)."""
    event_id = f"evt_{secrets.token_hex(8)}"
    deep = "[" * 5000 + "]" * 5000
    body = (f'{{"id": "{event_id}", "type": "customer.subscription.created", "created": {T}, '
            + (f'"data": {{"object": {deep}}}}}' if where == "data" else f'"data": {{"object": {{}}}}, "x": {deep}}}'))
    response = await http.post("/api/billing/webhook", content=body, headers=signed_headers(body))
    assert (response.status_code, response.json()["code"]) == (400, "bad_json"), response.text
    assert await owner_conn.fetchval("SELECT count(*) FROM billing.stripe_events WHERE id = $1", event_id) == 0


async def test_subscription_status_moves_level_access_and_lesson_gating_at_once(
        http: httpx.AsyncClient, subscriber: Subscriber, owner_conn: asyncpg.Connection) -> None:
    lesson_id = await owner_conn.fetchval(
        """
        INSERT INTO public.lessons (level_id, gate_id, title, content_data)
        VALUES ($1, $2, 'Gated', '{"body": "paid"}') RETURNING id
        """,
        secrets.randbelow(LEVELS - 2) + 2, api_gate())
    headers = subscriber.account.headers

    async def access() -> tuple[int, int, str]:
        me = (await http.get("/api/auth/me", headers=headers)).json()
        lesson = await http.get(f"/api/lessons/{lesson_id}", headers=headers)
        view = (await http.get("/api/billing/subscription", headers=headers)).json()
        assert view["level_access_limit"] == me["level_access_limit"]
        return me["level_access_limit"], lesson.status_code, view["status"]

    assert await access() == (1, 402, "free")
    await ok(await deliver(http, "customer.subscription.created",
                           subscriber.subscription("trialing", trial_end=T + 86_400), created=T))
    assert await access() == (LEVELS, 200, "trialing")
    await ok(await deliver(http, "invoice.payment_failed", subscriber.invoice(), created=T + 1))
    assert await access() == (1, 402, "past_due")
    await ok(await deliver(http, "invoice.paid", subscriber.invoice(), created=T + 2))
    assert await access() == (LEVELS, 200, "active")
    await ok(await deliver(http, "customer.subscription.updated", subscriber.subscription("past_due"), created=T + 3))
    assert await access() == (1, 402, "past_due")
    await ok(await deliver(http, "customer.subscription.deleted", subscriber.subscription("active"), created=T + 4))
    assert await access() == (1, 402, "free")
    assert (await row_of(owner_conn, subscriber.subscription_id) or {})["status"] == "canceled"


async def test_each_change_is_published_on_the_users_channel_as_the_rest_view(
        http: httpx.AsyncClient, subscriber: Subscriber, owner_conn: asyncpg.Connection) -> None:
    await ok(await deliver(http, "customer.subscription.created", subscriber.subscription("trialing"), created=T))
    view = (await http.get("/api/billing/subscription", headers=subscriber.account.headers)).json()
    assert (view["status"], view["plan"]["id"]) == ("trialing", subscriber.plan["id"])
    assert view["current_period_end"] == datetime.fromtimestamp(1_762_592_000, UTC).isoformat().replace("+00:00", "Z")
    await ok(await deliver(http, "invoice.payment_failed", subscriber.invoice(), created=T + 1))
    await ok(await deliver(http, "invoice.paid", subscriber.invoice(), created=T + 2))
    events = await user_events(owner_conn, subscriber.account)
    assert [e["status"] for e in events] == ["trialing", "past_due", "active"]
    assert events[0] == view
    assert events[-1] == (await http.get("/api/billing/subscription", headers=subscriber.account.headers)).json()


async def test_replaying_every_event_twice_and_in_parallel_has_no_second_effect(
        http: httpx.AsyncClient, subscriber: Subscriber, owner_conn: asyncpg.Connection) -> None:
    sequence = [
        ("customer.subscription.created", subscriber.subscription("trialing")),
        ("customer.subscription.updated", subscriber.subscription("active")),
        ("invoice.payment_failed", subscriber.invoice()),
        ("invoice.paid", subscriber.invoice()),
    ]
    ids = [f"evt_{secrets.token_hex(8)}" for _ in sequence]
    for offset, ((kind, obj), event_id) in enumerate(zip(sequence, ids, strict=True)):
        copies = [deliver(http, kind, obj, created=T + offset, event_id=event_id) for _ in range(3)]
        for response in await asyncio.gather(*copies):
            await ok(response)
        await ok(await deliver(http, kind, obj, created=T + offset, event_id=event_id))
    assert await owner_conn.fetchval("SELECT count(*) FROM billing.stripe_events WHERE id = ANY($1)", ids) == 4
    assert [e["status"] for e in await user_events(owner_conn, subscriber.account)] == [
        "trialing", "active", "past_due", "active"]
    assert (await row_of(owner_conn, subscriber.subscription_id) or {})["status"] == "active"
    # A replay after later events still changes nothing: the ledger, not the ordering rule, stops it.
    await ok(await deliver(http, "invoice.payment_failed", subscriber.invoice(), created=T + 10, event_id=ids[2]))
    assert (await row_of(owner_conn, subscriber.subscription_id) or {})["status"] == "active"


async def test_updated_before_created_ends_in_the_in_order_state(
        http: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    in_order, reversed_ = [await new_subscriber(http, owner_conn) for _ in range(2)]

    def events(s: Subscriber) -> list[tuple[str, dict[str, Any], int]]:
        return [("customer.subscription.created", s.subscription("trialing", trial_end=T + 600), T),
                ("customer.subscription.updated",
                 s.subscription("active", trial_end=T + 600, cancel_at_period_end=True,
                                period_end=1_765_000_000), T + 60)]

    for kind, obj, created in events(in_order):
        await ok(await deliver(http, kind, obj, created=created))
    for kind, obj, created in reversed(events(reversed_)):
        await ok(await deliver(http, kind, obj, created=created))
    expected = await state_of(owner_conn, in_order.subscription_id)
    assert expected[1:] == ("active", datetime.fromtimestamp(1_765_000_000, UTC),
                            datetime.fromtimestamp(T + 600, UTC), True)
    assert (await state_of(owner_conn, reversed_.subscription_id))[1:] == expected[1:]
    assert (await row_of(owner_conn, reversed_.subscription_id) or {})["stripe_state_at"] == datetime.fromtimestamp(
        T + 60, UTC)


async def test_an_old_updated_after_a_newer_one_is_ignored(
        http: httpx.AsyncClient, subscriber: Subscriber, owner_conn: asyncpg.Connection) -> None:
    await ok(await deliver(http, "customer.subscription.created", subscriber.subscription("trialing"), created=T))
    await ok(await deliver(http, "customer.subscription.updated",
                           subscriber.subscription("active", cancel_at_period_end=True), created=T + 10))
    await ok(await deliver(http, "customer.subscription.updated", subscriber.subscription("past_due"), created=T + 5))
    await ok(await deliver(http, "invoice.payment_failed", subscriber.invoice(), created=T + 9))
    assert (await state_of(owner_conn, subscriber.subscription_id))[1:] == (
        "active", datetime.fromtimestamp(1_762_592_000, UTC), None, True)
    assert [e["status"] for e in await user_events(owner_conn, subscriber.account)] == ["trialing", "active"]


@pytest.mark.parametrize("newest_first", [True, False])
async def test_events_of_the_same_second_end_in_stripes_current_state(
        http: httpx.AsyncClient, stub: StripeStub, subscriber: Subscriber, owner_conn: asyncpg.Connection,
        newest_first: bool) -> None:
    current = subscriber.subscription("active", cancel_at_period_end=True)
    stub.subscriptions[subscriber.subscription_id] = current
    pair = [("customer.subscription.updated", current),
            ("customer.subscription.updated", subscriber.subscription("past_due"))]
    for kind, obj in pair if newest_first else reversed(pair):
        await ok(await deliver(http, kind, obj, created=T))
    assert (await state_of(owner_conn, subscriber.subscription_id))[1:] == (
        "active", datetime.fromtimestamp(1_762_592_000, UTC), None, True)
    assert stub.received("GET", f"/v1/subscriptions/{subscriber.subscription_id}")


@dataclass
class HeldFetch:
    """One GET of a subscription at the stand-in: answered with Stripe's truth at the moment it is asked,
    then held back until `release` (a slow Stripe, or a reply overtaken on the network)."""

    path: str
    asked: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def hold_fetch(stub: StripeStub, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], HeldFetch]]:
    """`hold_fetch(subscription_id)`: holds the next GET of that subscription that no earlier hold took."""
    holds: list[HeldFetch] = []
    taking = threading.Lock()
    answer = stub.answer

    def held_answer(method: str, path: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        reply = answer(method, path, form, headers)
        with taking:
            held = next((h for h in holds if method == "GET" and h.path == path and not h.asked.is_set()), None)
            if held is not None:
                held.asked.set()
        if held is not None:
            held.release.wait(HOLD_S)
        return reply

    def hold(subscription_id: str) -> HeldFetch:
        holds.append(HeldFetch(f"/v1/subscriptions/{subscription_id}"))
        return holds[-1]

    monkeypatch.setattr(stub, "answer", held_answer)
    yield hold
    for held in holds:
        held.release.set()


async def asked(held: HeldFetch) -> None:
    assert await asyncio.to_thread(held.asked.wait, HOLD_S), "the hub never asked Stripe"


async def hub_billing_locks(owner_conn: asyncpg.Connection) -> int:
    """Locks the hub's backends hold on the ledger, the subscriptions, or a subscription's webhook lock."""
    count: int = await owner_conn.fetchval(
        """
        SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE a.datname = current_database() AND a.application_name = 'hub'
          AND (l.relation IN ('billing.stripe_events'::regclass, 'public.user_subscriptions'::regclass)
               OR (l.locktype = 'advisory' AND l.classid = 1398035024))
        """)
    return count


async def test_no_transaction_or_lock_is_held_while_stripe_is_asked(
        http: httpx.AsyncClient, stub: StripeStub, subscriber: Subscriber, owner_conn: asyncpg.Connection,
        hold_fetch: Callable[[str], HeldFetch]) -> None:
    await ok(await deliver(http, "customer.subscription.created", subscriber.subscription("trialing"), created=T))
    stub.subscriptions[subscriber.subscription_id] = subscriber.subscription("active")
    held = hold_fetch(subscriber.subscription_id)
    tie = asyncio.create_task(deliver(http, "customer.subscription.updated", subscriber.subscription("past_due"),
                                      created=T))
    try:
        await asked(held)
        assert await hub_billing_locks(owner_conn) == 0
        # The subscription's row can be written meanwhile without waiting for Stripe's answer.
        async with owner_conn.transaction():
            await owner_conn.execute("SET LOCAL lock_timeout = '1s'")
            await owner_conn.execute("SELECT pg_advisory_xact_lock(1398035024, hashtext($1))",
                                     subscriber.subscription_id)
            await owner_conn.execute("SELECT 1 FROM public.user_subscriptions WHERE stripe_subscription_id = $1 "
                                     "FOR UPDATE", subscriber.subscription_id)
    finally:
        held.release.set()
        await ok(await tie)
    assert (await row_of(owner_conn, subscriber.subscription_id) or {})["status"] == "active"


@pytest.mark.parametrize("later_by", [0, 1])
async def test_a_state_written_during_the_fetch_is_not_overwritten_by_the_older_fetched_one(
        http: httpx.AsyncClient, stub: StripeStub, subscriber: Subscriber, owner_conn: asyncpg.Connection,
        hold_fetch: Callable[[str], HeldFetch], later_by: int) -> None:
    """The held fetch answers `past_due`; while it is held, Stripe moves on to `active` and an event of the
    same second (fetched, not held) or of the next second (its payload) stores that."""
    await ok(await deliver(http, "customer.subscription.created", subscriber.subscription("trialing"), created=T))
    path = f"/v1/subscriptions/{subscriber.subscription_id}"
    stub.subscriptions[subscriber.subscription_id] = subscriber.subscription("past_due")
    held = hold_fetch(subscriber.subscription_id)
    slow_id = f"evt_{secrets.token_hex(8)}"
    slow = asyncio.create_task(deliver(http, "customer.subscription.updated", subscriber.subscription("past_due"),
                                       created=T, event_id=slow_id))
    try:
        await asked(held)
        current = subscriber.subscription("active", cancel_at_period_end=True)
        stub.subscriptions[subscriber.subscription_id] = current
        await ok(await asyncio.wait_for(
            deliver(http, "customer.subscription.updated", current, created=T + later_by), HOLD_S / 2))
    finally:
        held.release.set()
        await ok(await slow)
    assert (await state_of(owner_conn, subscriber.subscription_id))[1:] == (
        "active", datetime.fromtimestamp(1_762_592_000, UTC), None, True)
    assert [e["status"] for e in await user_events(owner_conn, subscriber.account)] == ["trialing", "active"]
    assert await owner_conn.fetchval("SELECT count(*) FROM billing.stripe_events WHERE id = $1", slow_id) == 1
    # Same second: the held event fetched again after the write it lost to; next second: it was older.
    assert len(stub.received("GET", path)) == (3 if later_by == 0 else 1)


async def test_a_fetch_overtaken_every_time_leaves_the_event_for_stripe_to_redeliver(
        http: httpx.AsyncClient, stub: StripeStub, subscriber: Subscriber, owner_conn: asyncpg.Connection,
        hold_fetch: Callable[[str], HeldFetch]) -> None:
    await ok(await deliver(http, "customer.subscription.created", subscriber.subscription("trialing"), created=T))
    stub.subscriptions[subscriber.subscription_id] = subscriber.subscription("active")
    holds = [hold_fetch(subscriber.subscription_id) for _ in range(3)]
    event_id = f"evt_{secrets.token_hex(8)}"
    tie = subscriber.subscription("past_due")
    delivery = asyncio.create_task(deliver(http, "customer.subscription.updated", tie, created=T, event_id=event_id))
    try:
        for held in holds:
            await asked(held)
            # Another writer of the row (as a concurrent delivery would be) while Stripe is asked.
            await owner_conn.execute("UPDATE public.user_subscriptions SET status = status "
                                     "WHERE stripe_subscription_id = $1", subscriber.subscription_id)
            held.release.set()
    finally:
        for held in holds:
            held.release.set()
        failed = await delivery
    assert (failed.status_code, failed.json()["code"]) == (502, "stripe_unavailable")
    assert len(stub.received("GET", f"/v1/subscriptions/{subscriber.subscription_id}")) == 3
    assert await owner_conn.fetchval("SELECT count(*) FROM billing.stripe_events WHERE id = $1", event_id) == 0
    assert (await row_of(owner_conn, subscriber.subscription_id) or {})["status"] == "trialing"
    await ok(await deliver(http, "customer.subscription.updated", tie, created=T, event_id=event_id))
    assert (await row_of(owner_conn, subscriber.subscription_id) or {})["status"] == "active"


async def test_a_same_second_event_delivered_in_parallel_and_again_has_one_effect(
        http: httpx.AsyncClient, stub: StripeStub, subscriber: Subscriber, owner_conn: asyncpg.Connection) -> None:
    await ok(await deliver(http, "customer.subscription.created", subscriber.subscription("trialing"), created=T))
    stub.subscriptions[subscriber.subscription_id] = subscriber.subscription("active")
    path = f"/v1/subscriptions/{subscriber.subscription_id}"
    event_id = f"evt_{secrets.token_hex(8)}"
    tie = subscriber.subscription("past_due")
    copies = [deliver(http, "customer.subscription.updated", tie, created=T, event_id=event_id) for _ in range(3)]
    for response in await asyncio.gather(*copies):
        await ok(response)
    fetches = len(stub.received("GET", path))
    await ok(await deliver(http, "customer.subscription.updated", tie, created=T, event_id=event_id))
    assert len(stub.received("GET", path)) == fetches  # a replay is stopped by the ledger before Stripe is asked
    assert await owner_conn.fetchval("SELECT count(*) FROM billing.stripe_events WHERE id = $1", event_id) == 1
    assert [e["status"] for e in await user_events(owner_conn, subscriber.account)] == ["trialing", "active"]
    assert (await row_of(owner_conn, subscriber.subscription_id) or {})["status"] == "active"


async def test_a_tie_that_cannot_be_refetched_is_not_recorded_and_its_redelivery_is_applied(
        http: httpx.AsyncClient, stub: StripeStub, subscriber: Subscriber, owner_conn: asyncpg.Connection) -> None:
    await ok(await deliver(http, "customer.subscription.created", subscriber.subscription("active"), created=T))
    event_id = f"evt_{secrets.token_hex(8)}"
    failed = await deliver(http, "customer.subscription.updated", subscriber.subscription("past_due"), created=T,
                           event_id=event_id)
    assert (failed.status_code, failed.json()["code"]) == (502, "stripe_unavailable")
    assert await owner_conn.fetchval("SELECT count(*) FROM billing.stripe_events WHERE id = $1", event_id) == 0
    assert (await row_of(owner_conn, subscriber.subscription_id) or {})["status"] == "active"
    stub.subscriptions[subscriber.subscription_id] = subscriber.subscription("past_due")
    await ok(await deliver(http, "customer.subscription.updated", subscriber.subscription("past_due"), created=T,
                           event_id=event_id))
    assert await owner_conn.fetchval("SELECT count(*) FROM billing.stripe_events WHERE id = $1", event_id) == 1
    assert (await row_of(owner_conn, subscriber.subscription_id) or {})["status"] == "past_due"


async def test_checkout_completed_links_the_customer_and_stores_the_fetched_subscription(
        http: httpx.AsyncClient, stub: StripeStub, owner_conn: asyncpg.Connection) -> None:
    plan = await priced_plan(http, (await admin(http, owner_conn)).headers, level_access_limit=LEVELS)
    account = await signup(http)
    customer, subscription_id = f"cus_{secrets.token_hex(8)}", f"sub_{secrets.token_hex(8)}"
    stub.subscriptions[subscription_id] = subscription_object(subscription_id, customer=customer,
                                                              price=plan["stripe_price_id"], status="trialing",
                                                              trial_end=T + 7 * 86_400)
    session = {"id": f"cs_test_{secrets.token_hex(6)}", "object": "checkout.session", "mode": "subscription",
               "client_reference_id": str(account.user_id), "customer": customer, "subscription": subscription_id,
               "metadata": {"user_id": str(account.user_id), "plan_id": plan["id"]}}
    await ok(await deliver(http, "checkout.session.completed", session, created=T))
    assert await owner_conn.fetchval("SELECT stripe_customer_id FROM auth.users WHERE id = $1",
                                     account.user_id) == customer
    row = await row_of(owner_conn, subscription_id)
    assert row is not None
    assert (row["user_id"], row["plan_id"], row["status"]) == (account.user_id, plan["id"], "trialing")
    assert row["trial_end"] == datetime.fromtimestamp(T + 7 * 86_400, UTC)
    me = (await http.get("/api/auth/me", headers=account.headers)).json()
    assert me["level_access_limit"] == LEVELS


async def test_unhandled_and_unmatched_events_are_acknowledged_and_recorded(
        http: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    other_id, stray_id = f"evt_{secrets.token_hex(8)}", f"evt_{secrets.token_hex(8)}"
    await ok(await deliver(http, "customer.created", {"id": "cus_x", "object": "customer"}, created=T,
                           event_id=other_id))
    stray_subscription = f"sub_{secrets.token_hex(8)}"
    stray = subscription_object(stray_subscription, customer="cus_nobody", price="price_nobody_sells",
                                status="active")
    await ok(await deliver(http, "customer.subscription.created", stray, created=T, event_id=stray_id))
    assert await owner_conn.fetchval("SELECT count(*) FROM billing.stripe_events WHERE id = ANY($1)",
                                     [other_id, stray_id]) == 2
    assert await row_of(owner_conn, stray_subscription) is None


async def test_a_signed_body_that_is_not_an_event_is_a_400(http: httpx.AsyncClient) -> None:
    body = json.dumps({"object": "event", "id": "evt_x"})
    response = await http.post("/api/billing/webhook", content=body, headers=signed_headers(body))
    assert response.status_code == 400


async def test_subscribers_keep_their_plan_after_it_is_withdrawn_from_sale(
        http: httpx.AsyncClient, subscriber: Subscriber, owner_conn: asyncpg.Connection) -> None:
    await ok(await deliver(http, "customer.subscription.created", subscriber.subscription("active"), created=T))
    boss = await admin(http, owner_conn)
    withdrawn = await http.patch(f"/api/plans/{subscriber.plan['id']}", json={"is_active": False},
                                 headers=boss.headers)
    assert withdrawn.status_code == 200
    view = (await http.get("/api/billing/subscription", headers=subscriber.account.headers)).json()
    assert (view["status"], view["plan"]["id"], view["level_access_limit"]) == ("active", subscriber.plan["id"], LEVELS)
    me = (await http.get("/api/auth/me", headers=subscriber.account.headers)).json()
    assert me["level_access_limit"] == LEVELS


async def test_a_created_outside_2010_to_tomorrow_is_a_400_bad_event_and_anything_inside_is_applied(
        http: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """Stripe's clock may run ahead of ours, so up to a day ahead is accepted; what no Stripe event can carry
    (before 2010, days ahead, past any calendar) is refused before anything is recorded."""
    now = int(time.time())
    earliest = int(datetime(2010, 1, 1, tzinfo=UTC).timestamp())
    for created in (earliest - 1, now + 86_400 + 3600, 10**15, -(10**12), 2**63 - 1):
        subscriber = await new_subscriber(http, owner_conn)
        event_id = f"evt_{secrets.token_hex(8)}"
        response = await deliver(http, "customer.subscription.created", subscriber.subscription("active"),
                                 created=created, event_id=event_id)
        assert (response.status_code, response.json()["code"]) == (400, "bad_event"), created
        assert await owner_conn.fetchval("SELECT count(*) FROM billing.stripe_events WHERE id = $1", event_id) == 0
        assert await row_of(owner_conn, subscriber.subscription_id) is None
    for created in (earliest, now + 86_400 - 3600):
        subscriber = await new_subscriber(http, owner_conn)
        await ok(await deliver(http, "customer.subscription.created", subscriber.subscription("active"),
                               created=created))
        row = await row_of(owner_conn, subscriber.subscription_id)
        assert row is not None and row["stripe_state_at"] == datetime.fromtimestamp(created, UTC)
