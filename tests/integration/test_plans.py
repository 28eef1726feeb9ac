"""Plans: a public catalogue of active plans by price; admins create and edit, with validation."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from persistence import billing
from tests.helpers.api import admin, signup
from tests.helpers.stripe_stub import priced_plan


async def all_listed(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/plans", params=params)
        assert response.status_code == 200, response.text
        items.extend(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


async def test_plans_list_is_public_active_only_and_ordered_by_price(client: httpx.AsyncClient,
                                                                    owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    dear = await priced_plan(client, boss.headers, price="99.50")
    cheap = await priced_plan(client, boss.headers, price=0)
    hidden = await priced_plan(client, boss.headers, price="5", is_active=False)
    listed = await all_listed(client)  # anonymous, paged two at a time
    ids = [p["id"] for p in listed]
    assert cheap["id"] in ids and dear["id"] in ids and hidden["id"] not in ids
    assert ids.index(cheap["id"]) < ids.index(dear["id"])
    prices = [float(p["price"]) for p in listed]
    assert prices == sorted(prices)
    assert all(p["is_active"] for p in listed)
    shown = next(p for p in listed if p["id"] == dear["id"])
    assert (shown["price"], shown["currency"], shown["features"]) == ("99.50", "USD", {"workshops": True})


async def test_admin_creates_a_plan_with_every_field(client: httpx.AsyncClient,
                                                     owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    price_id = f"price_{secrets.token_hex(6)}"
    body = {"name": "Team yearly", "description": "For desks", "plan_type": "yearly", "price": 1200.5,
            "currency": "EUR", "stripe_price_id": price_id, "features": {"seats": 5}, "is_active": True,
            "trial_days": 30, "max_users": 5, "level_access_limit": 1000}
    response = await client.post("/api/plans", json=body, headers=boss.headers)
    assert response.status_code == 201, response.text
    plan = response.json()
    assert {k: plan[k] for k in body if k != "price"} == {k: v for k, v in body.items() if k != "price"}
    assert plan["price"] == "1200.50"
    stored = await owner_conn.fetchrow("SELECT price, trial_days FROM public.subscription_plans WHERE id = $1::uuid",
                                       plan["id"])
    assert (str(stored["price"]), stored["trial_days"]) == ("1200.50", 30)


async def test_only_admins_write_plans(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    member = await signup(client)
    body = {"name": "Sneaky", "price": "1.00"}
    assert (await client.post("/api/plans", json=body)).status_code == 401
    forbidden = await client.post("/api/plans", json=body, headers=member.headers)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "forbidden")
    plan = await priced_plan(client, (await admin(client, owner_conn)).headers)
    patched = await client.patch(f"/api/plans/{plan['id']}", json={"price": "0.01"}, headers=member.headers)
    assert patched.status_code == 403
    assert await owner_conn.fetchval("SELECT price FROM public.subscription_plans WHERE id = $1::uuid",
                                     plan["id"]) == 19


async def test_bad_plan_fields_are_422(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    for bad in ({"price": "-1"}, {"price": "1.005"}, {"price": "NaN"}, {"price": "100000000"},
                {"currency": "usd"}, {"currency": "EURO"}, {"plan_type": "weekly"}, {"trial_days": 366},
                {"level_access_limit": 1001}, {"max_users": 0}, {"features": ["a"]}, {"status": "active"},
                {"name": ""}):
        response = await client.post("/api/plans", json={"name": "Bad", "price": "1.00", **bad},
                                     headers=boss.headers)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["code"] == "validation_failed"


async def test_a_stripe_price_belongs_to_one_plan(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    first = await priced_plan(client, boss.headers)
    again = await client.post("/api/plans", json={"name": "Copy", "price": "1.00",
                                                  "stripe_price_id": first["stripe_price_id"]}, headers=boss.headers)
    assert (again.status_code, again.json()["code"]) == (409, "plan_exists")
    other = await priced_plan(client, boss.headers)
    taken = await client.patch(f"/api/plans/{other['id']}", json={"stripe_price_id": first["stripe_price_id"]},
                               headers=boss.headers)
    assert (taken.status_code, taken.json()["code"]) == (409, "plan_exists")
    assert await owner_conn.fetchval("SELECT count(*) FROM public.subscription_plans WHERE stripe_price_id = $1",
                                     first["stripe_price_id"]) == 1


async def test_patch_changes_given_fields_and_deactivating_hides_the_plan(client: httpx.AsyncClient,
                                                                         owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    plan = await priced_plan(client, boss.headers, description="old")
    response = await client.patch(f"/api/plans/{plan['id']}", json={"is_active": False, "description": None,
                                                                    "trial_days": 14}, headers=boss.headers)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["is_active"], changed["description"], changed["trial_days"]) == (False, None, 14)
    assert (changed["name"], changed["price"]) == (plan["name"], plan["price"])
    assert plan["id"] not in [p["id"] for p in await all_listed(client)]
    missing = await client.patch("/api/plans/00000000-0000-0000-0000-000000000000", json={"trial_days": 1},
                                 headers=boss.headers)
    assert missing.status_code == 404


async def test_create_plan_with_the_same_idempotency_key_creates_one(client: httpx.AsyncClient,
                                                                    owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    name = f"Once {secrets.token_hex(4)}"
    headers = {**boss.headers, "Idempotency-Key": secrets.token_hex(8)}
    first = await client.post("/api/plans", json={"name": name, "price": "3.00"}, headers=headers)
    second = await client.post("/api/plans", json={"name": name, "price": "3.00"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert await owner_conn.fetchval("SELECT count(*) FROM public.subscription_plans WHERE name = $1", name) == 1


class Explaining:
    """Stands in for a connection: runs the statement a persistence function sends under EXPLAIN."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.plans: list[Any] = []

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.plans.append(await self.conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args))
        return []


def scanned_tables(plan: dict[str, Any]) -> list[tuple[str, str]]:
    found = [(plan["Node Type"], plan["Relation Name"])] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        found.extend(scanned_tables(child))
    return found


async def test_plans_list_statement_is_an_index_scan(owner_conn: asyncpg.Connection) -> None:
    explaining = Explaining(owner_conn)
    bulk = owner_conn.transaction()  # rolled back: the bulk rows never reach other tests
    await bulk.start()
    try:
        await owner_conn.execute(
            """
            INSERT INTO public.subscription_plans (name, price, features, is_active)
            SELECT 'bulk ' || n, (n % 500) + 0.99, '{}'::jsonb, n % 4 <> 0 FROM generate_series(1, 5000) AS n
            """)
        await owner_conn.execute("ANALYZE public.subscription_plans")
        await owner_conn.execute("SET LOCAL ROLE anon")
        await billing.active_plans(explaining, None, 21)
        await billing.active_plans(explaining, (Decimal("250.99"), UUID(int=0)), 21)
    finally:
        await bulk.rollback()
    assert len(explaining.plans) == 2
    for explained in explaining.plans:
        tables = scanned_tables(explained[0]["Plan"])
        assert tables and all(kind != "Seq Scan" for kind, _ in tables), tables
