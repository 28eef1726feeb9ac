"""Checkout, portal and the subscription view, against the real Stripe SDK talking to a local stand-in."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import asyncpg
import httpx

from persistence import billing
from persistence.db import Database
from persistence.identity import SERVICE
from tests.helpers.api import Account, admin, signup
from tests.helpers.stripe_stub import (
    PUBLIC_URL,
    SECRET_KEY,
    WEBHOOK_SECRET,
    StripeStub,
    priced_plan,
)


async def admin_headers(http: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> dict[str, str]:
    return (await admin(http, owner_conn)).headers


def sessions_for(stub: StripeStub, account: Account) -> list[dict[str, str]]:
    return [r.form for r in stub.received("POST", "/v1/checkout/sessions")
            if r.form.get("client_reference_id") == str(account.user_id)]


def customers_for(stub: StripeStub, account: Account) -> list[dict[str, str]]:
    return [r.form for r in stub.received("POST", "/v1/customers")
            if r.form.get("metadata[user_id]") == str(account.user_id)]


async def stored_customer(owner_conn: asyncpg.Connection, account: Account) -> str | None:
    customer: str | None = await owner_conn.fetchval("SELECT stripe_customer_id FROM auth.users WHERE id = $1",
                                                     account.user_id)
    return customer


async def test_without_stripe_keys_billing_answers_503_and_plans_still_list(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    calls = [
        client.post("/api/billing/checkout", json={"plan_id": "00000000-0000-0000-0000-000000000000"},
                    headers=account.headers),
        client.post("/api/billing/portal", headers=account.headers),
        client.get("/api/billing/subscription", headers=account.headers),
        client.post("/api/billing/webhook", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"}),
    ]
    for response in await asyncio.gather(*calls):
        assert (response.status_code, response.json()["code"]) == (503, "billing_not_configured"), response.text
    assert (await client.get("/api/plans")).status_code == 200


async def test_checkout_returns_the_stand_ins_url_with_price_trial_and_user(
        http: httpx.AsyncClient, stub: StripeStub, owner_conn: asyncpg.Connection) -> None:
    plan = await priced_plan(http, await admin_headers(http, owner_conn), trial_days=7)
    account = await signup(http)
    response = await http.post("/api/billing/checkout", json={"plan_id": plan["id"]}, headers=account.headers)
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert url.startswith("https://checkout.stripe.test/c/pay/cs_test_")
    [form] = sessions_for(stub, account)
    customer = await stored_customer(owner_conn, account)
    assert customer is not None and customer.startswith("cus_")
    assert form["mode"] == "subscription"
    assert (form["line_items[0][price]"], form["line_items[0][quantity]"]) == (plan["stripe_price_id"], "1")
    assert form["subscription_data[trial_period_days]"] == "7"
    assert form["customer"] == customer
    assert (form["metadata[user_id]"], form["metadata[plan_id]"]) == (str(account.user_id), plan["id"])
    assert form["subscription_data[metadata][user_id]"] == str(account.user_id)
    assert form["success_url"].startswith(f"{PUBLIC_URL}/billing/success")
    assert form["cancel_url"].startswith(f"{PUBLIC_URL}/")
    [request] = [r for r in stub.received("POST", "/v1/checkout/sessions") if r.form is form]
    assert request.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert request.headers.get("idempotency-key")
    assert [c["email"] for c in customers_for(stub, account)] == [account.email]


async def test_second_checkout_reuses_the_stored_customer_and_no_trial_is_sent_for_zero_days(
        http: httpx.AsyncClient, stub: StripeStub, owner_conn: asyncpg.Connection) -> None:
    headers = await admin_headers(http, owner_conn)
    first_plan, second_plan = await priced_plan(http, headers, trial_days=3), await priced_plan(http, headers)
    account = await signup(http)
    for plan in (first_plan, second_plan):
        response = await http.post("/api/billing/checkout", json={"plan_id": plan["id"]}, headers=account.headers)
        assert response.status_code == 200, response.text
    first, second = sessions_for(stub, account)
    assert first["customer"] == second["customer"] == await stored_customer(owner_conn, account)
    assert len(customers_for(stub, account)) == 1
    assert "subscription_data[trial_period_days]" not in second


async def test_concurrent_first_checkouts_store_one_customer(
        http: httpx.AsyncClient, stub: StripeStub, owner_conn: asyncpg.Connection) -> None:
    plan = await priced_plan(http, await admin_headers(http, owner_conn))
    account = await signup(http)
    responses = await asyncio.gather(*[
        http.post("/api/billing/checkout", json={"plan_id": plan["id"]}, headers=account.headers)
        for _ in range(5)])
    assert [r.status_code for r in responses] == [200] * 5
    customer = await stored_customer(owner_conn, account)
    assert {form["customer"] for form in sessions_for(stub, account)} == {customer}


async def test_racing_customer_claims_keep_the_first_stored_customer(app_db: Database, client: httpx.AsyncClient,
                                                                    owner_conn: asyncpg.Connection) -> None:
    """Even when Stripe handed out two different customers, the user keeps one and both callers use it."""
    account = await signup(client)

    async def claim(customer: str) -> str | None:
        async with app_db.transaction(SERVICE) as conn:
            return await billing.claim_customer(conn, account.user_id, customer)

    first, second = await asyncio.gather(claim(f"cus_{secrets.token_hex(6)}"), claim(f"cus_{secrets.token_hex(6)}"))
    assert first == second == await stored_customer(owner_conn, account)


async def test_checkout_refuses_unknown_inactive_and_unpriced_plans_without_calling_stripe(
        http: httpx.AsyncClient, stub: StripeStub, owner_conn: asyncpg.Connection) -> None:
    headers = await admin_headers(http, owner_conn)
    inactive = await priced_plan(http, headers, is_active=False)
    unpriced = await priced_plan(http, headers, stripe_price_id=None)
    lifetime = await priced_plan(http, headers, plan_type="lifetime")
    account = await signup(http)
    for plan in (inactive, unpriced, lifetime):
        response = await http.post("/api/billing/checkout", json={"plan_id": plan["id"]}, headers=account.headers)
        assert (response.status_code, response.json()["code"]) == (409, "plan_unavailable"), plan
    missing = await http.post("/api/billing/checkout", json={"plan_id": "00000000-0000-0000-0000-000000000000"},
                              headers=account.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    bad = await http.post("/api/billing/checkout", json={"plan_id": "x", "price": 0}, headers=account.headers)
    assert bad.status_code == 422
    assert sessions_for(stub, account) == [] and customers_for(stub, account) == []
    assert (await http.post("/api/billing/checkout", json={"plan_id": inactive["id"]})).status_code == 401


async def test_checkout_with_the_same_idempotency_key_returns_the_same_session(
        http: httpx.AsyncClient, stub: StripeStub, owner_conn: asyncpg.Connection) -> None:
    headers = await admin_headers(http, owner_conn)
    plan, other = await priced_plan(http, headers), await priced_plan(http, headers)
    account = await signup(http)
    keyed = {**account.headers, "Idempotency-Key": secrets.token_hex(8)}
    first = await http.post("/api/billing/checkout", json={"plan_id": plan["id"]}, headers=keyed)
    again = await http.post("/api/billing/checkout", json={"plan_id": plan["id"]}, headers=keyed)
    assert first.status_code == again.status_code == 200
    assert first.json()["url"] == again.json()["url"]
    reused = await http.post("/api/billing/checkout", json={"plan_id": other["id"]}, headers=keyed)
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")


async def test_portal_needs_a_customer_then_returns_the_stand_ins_url(
        http: httpx.AsyncClient, stub: StripeStub, owner_conn: asyncpg.Connection) -> None:
    plan = await priced_plan(http, await admin_headers(http, owner_conn))
    account = await signup(http)
    before = await http.post("/api/billing/portal", headers=account.headers)
    assert (before.status_code, before.json()["code"]) == (409, "no_customer")
    assert (await http.post("/api/billing/checkout", json={"plan_id": plan["id"]},
                            headers=account.headers)).status_code == 200
    response = await http.post("/api/billing/portal", headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.json()["url"].startswith("https://billing.stripe.test/p/session/bps_")
    customer = await stored_customer(owner_conn, account)
    [form] = [r.form for r in stub.received("POST", "/v1/billing_portal/sessions") if r.form["customer"] == customer]
    assert form["return_url"] == f"{PUBLIC_URL}/billing"


async def test_a_new_user_is_on_the_free_tier(http: httpx.AsyncClient) -> None:
    account = await signup(http)
    response = await http.get("/api/billing/subscription", headers=account.headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["plan"], body["level_access_limit"]) == ("free", None, 1)
    assert (await http.get("/api/billing/subscription")).status_code == 401


async def test_stripe_unreachable_is_a_502_and_stores_nothing(start_hub: Any, owner_conn: asyncpg.Connection,
                                                              client: httpx.AsyncClient) -> None:
    plan = await priced_plan(client, (await admin(client, owner_conn)).headers)
    with start_hub(stripe_secret_key=SECRET_KEY, stripe_webhook_secret=WEBHOOK_SECRET,
                   stripe_api_base="http://127.0.0.1:9") as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as down:
            account = await signup(down)
            response = await down.post("/api/billing/checkout", json={"plan_id": plan["id"]},
                                       headers=account.headers)
    assert (response.status_code, response.json()["code"]) == (502, "stripe_unavailable")
    assert await stored_customer(owner_conn, account) is None


async def give_subscription(owner_conn: asyncpg.Connection, account: Account, plan: dict[str, Any],
                            status: str) -> None:
    await owner_conn.execute(
        """INSERT INTO public.user_subscriptions (user_id, plan_id, stripe_subscription_id, status)
           VALUES ($1, $2, $3, $4)""", account.user_id, plan["id"], f"sub_{secrets.token_hex(8)}", status)


async def test_a_subscriber_is_sent_to_the_portal_instead_of_a_second_subscription(
        http: httpx.AsyncClient, stub: StripeStub, owner_conn: asyncpg.Connection) -> None:
    """Every subscription Stripe still bills (anything but canceled) is changed in the portal: a checkout
    would start a second one. 409 `subscription_exists`, and Stripe is not called."""
    headers = await admin_headers(http, owner_conn)
    plan, other = await priced_plan(http, headers, trial_days=7), await priced_plan(http, headers)
    for status in ("active", "trialing", "past_due", "unpaid"):
        account = await signup(http)
        await give_subscription(owner_conn, account, plan, status)
        response = await http.post("/api/billing/checkout", json={"plan_id": other["id"]}, headers=account.headers)
        assert (response.status_code, response.json()["code"]) == (409, "subscription_exists"), status
        assert sessions_for(stub, account) == [] and customers_for(stub, account) == []


async def test_the_trial_is_granted_once_per_user_ever(
        http: httpx.AsyncClient, stub: StripeStub, owner_conn: asyncpg.Connection) -> None:
    """A first checkout carries the plan's trial; once the user had any subscription (a trial included),
    even a canceled one, no later checkout does, on any plan."""
    headers = await admin_headers(http, owner_conn)
    plan, other = await priced_plan(http, headers, trial_days=7), await priced_plan(http, headers, trial_days=14)
    account = await signup(http)
    first = await http.post("/api/billing/checkout", json={"plan_id": plan["id"]}, headers=account.headers)
    assert first.status_code == 200, first.text
    await give_subscription(owner_conn, account, plan, "canceled")  # the trial was taken, then cancelled
    for again in (plan, other):
        response = await http.post("/api/billing/checkout", json={"plan_id": again["id"]}, headers=account.headers)
        assert response.status_code == 200, response.text
    forms = sessions_for(stub, account)
    assert [form.get("subscription_data[trial_period_days]") for form in forms] == ["7", None, None]
