"""Plans, Stripe customers, subscriptions and the processed-webhook ledger.

Plans are read and written as the caller (RLS: everyone reads active plans, admins write). Customers
(`auth.users.stripe_customer_id`), subscriptions and `billing.stripe_events` are server-owned and run
as `service_role`; the user reads own subscriptions under RLS.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

# ---------------------------------------------------------------- plans

async def active_plans(conn: asyncpg.Connection, after: tuple[Decimal, UUID] | None,
                       limit: int) -> list[asyncpg.Record]:
    """Active plans by price (then id), after the keyset `after`; an index scan of the partial index."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT id, name, description, plan_type, price, currency, stripe_price_id, features, is_active,
               trial_days, max_users, level_access_limit, created_at, updated_at
        FROM public.subscription_plans
        WHERE is_active AND ($1::numeric IS NULL OR (price, id) > ($1::numeric, $2::uuid))
        ORDER BY price, id
        LIMIT $3
        """,
        after[0] if after else None, after[1] if after else None, limit,
    )
    return rows


async def plan_by_id(conn: asyncpg.Connection, plan_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT id, name, description, plan_type, price, currency, stripe_price_id, features, is_active,
               trial_days, max_users, level_access_limit, created_at, updated_at
        FROM public.subscription_plans WHERE id = $1
        """,
        plan_id,
    )


async def create_plan(conn: asyncpg.Connection, plan: dict[str, Any]) -> asyncpg.Record | None:
    """The new plan, or None when its `stripe_price_id` is taken. Absent keys take the column defaults."""
    return await conn.fetchrow(
        """
        INSERT INTO public.subscription_plans (name, description, plan_type, price, currency, stripe_price_id,
                                               features, is_active, trial_days, max_users, level_access_limit)
        SELECT r.name, r.description, coalesce(r.plan_type, 'monthly'), r.price, coalesce(r.currency, 'USD'),
               r.stripe_price_id, r.features, coalesce(r.is_active, true), coalesce(r.trial_days, 0),
               r.max_users, coalesce(r.level_access_limit, 99)
        FROM jsonb_populate_record(NULL::public.subscription_plans, $1::jsonb) r
        ON CONFLICT (stripe_price_id) DO NOTHING
        RETURNING id, name, description, plan_type, price, currency, stripe_price_id, features, is_active,
                  trial_days, max_users, level_access_limit, created_at, updated_at
        """,
        plan,
    )


async def patch_plan(conn: asyncpg.Connection, plan_id: UUID, patch: dict[str, Any]) -> asyncpg.Record | None:
    """Applies only the keys present in `patch`; raises UniqueViolationError for a taken price id."""
    return await conn.fetchrow(
        """
        UPDATE public.subscription_plans p
        SET (name, description, plan_type, price, currency, stripe_price_id, features, is_active, trial_days,
             max_users, level_access_limit)
          = (SELECT r.name, r.description, r.plan_type, r.price, r.currency, r.stripe_price_id, r.features,
                    r.is_active, r.trial_days, r.max_users, r.level_access_limit
             FROM jsonb_populate_record(p, $2::jsonb) r)
        WHERE p.id = $1
        RETURNING id, name, description, plan_type, price, currency, stripe_price_id, features, is_active,
                  trial_days, max_users, level_access_limit, created_at, updated_at
        """,
        plan_id, patch,
    )


async def plan_id_by_price(conn: asyncpg.Connection, stripe_price_id: str) -> UUID | None:
    plan_id: UUID | None = await conn.fetchval(
        "SELECT id FROM public.subscription_plans WHERE stripe_price_id = $1", stripe_price_id)
    return plan_id


async def plan_exists(conn: asyncpg.Connection, plan_id: UUID) -> bool:
    found: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM public.subscription_plans WHERE id = $1)",
                                      plan_id)
    return found


# ---------------------------------------------------------------- customers (service_role)

async def billing_account(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, email, stripe_customer_id FROM auth.users WHERE id = $1 AND deleted_at IS NULL", user_id)


async def claim_customer(conn: asyncpg.Connection, user_id: UUID, customer_id: str) -> str | None:
    """Stores `customer_id` as the user's customer unless one is stored already (or the customer belongs
    to someone else), and returns the user's customer: the first one stored wins every race. The second
    statement takes a fresh snapshot, so it sees a winner that committed while the UPDATE waited."""
    stored: str | None = await conn.fetchval(
        """
        UPDATE auth.users SET stripe_customer_id = $2
        WHERE id = $1 AND stripe_customer_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM auth.users WHERE stripe_customer_id = $2)
        RETURNING stripe_customer_id
        """,
        user_id, customer_id,
    )
    if stored is None:
        stored = await conn.fetchval("SELECT stripe_customer_id FROM auth.users WHERE id = $1", user_id)
    return stored


async def user_by_customer(conn: asyncpg.Connection, customer_id: str) -> UUID | None:
    user_id: UUID | None = await conn.fetchval("SELECT id FROM auth.users WHERE stripe_customer_id = $1",
                                               customer_id)
    return user_id


async def user_exists(conn: asyncpg.Connection, user_id: UUID) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM auth.users WHERE id = $1 AND deleted_at IS NULL)", user_id)
    return found


# ---------------------------------------------------------------- webhook ledger and subscriptions (service_role)

async def record_event(conn: asyncpg.Connection, event_id: str, event_type: str) -> bool:
    """False when the event was received before. The row commits with the event's effects, so a delivery
    that failed midway left no row and its retry is applied; a parallel duplicate waits here for the
    first delivery's commit and then finds the row."""
    inserted: str | None = await conn.fetchval(
        """
        INSERT INTO billing.stripe_events (id, type, processed_at) VALUES ($1, $2, now())
        ON CONFLICT (id) DO NOTHING RETURNING id
        """,
        event_id, event_type,
    )
    return inserted is not None


async def lock_subscription(conn: asyncpg.Connection, stripe_subscription_id: str) -> None:
    """Serialises the webhook deliveries of one subscription until commit, even before its row exists.
    (The two-key advisory lock space does not overlap the one-key space the migration runner uses.)"""
    await conn.execute("SELECT pg_advisory_xact_lock(1398035024, hashtext($1))", stripe_subscription_id)


async def subscription_by_stripe_id(conn: asyncpg.Connection, stripe_subscription_id: str) -> asyncpg.Record | None:
    """`version` is the row's xmin: it changes with every write to the row (and only then), so comparing it
    tells whether anyone wrote the row in between two looks."""
    return await conn.fetchrow(
        """
        SELECT id, user_id, status, stripe_state_at, xmin::text AS version
        FROM public.user_subscriptions WHERE stripe_subscription_id = $1
        """,
        stripe_subscription_id,
    )


async def upsert_subscription(conn: asyncpg.Connection, *, user_id: UUID, plan_id: UUID,
                              stripe_subscription_id: str, status: str, current_period_start: datetime | None,
                              current_period_end: datetime | None, trial_end: datetime | None,
                              cancel_at_period_end: bool, state_at: datetime) -> UUID | None:
    """Writes the state unless the row already holds a newer one; returns the row's user when written.
    A row keeps the user it was created for."""
    written: UUID | None = await conn.fetchval(
        """
        INSERT INTO public.user_subscriptions AS s (user_id, plan_id, stripe_subscription_id, status,
            current_period_start, current_period_end, trial_end, cancel_at_period_end, stripe_state_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (stripe_subscription_id) DO UPDATE
        SET plan_id = EXCLUDED.plan_id, status = EXCLUDED.status,
            current_period_start = EXCLUDED.current_period_start, current_period_end = EXCLUDED.current_period_end,
            trial_end = EXCLUDED.trial_end, cancel_at_period_end = EXCLUDED.cancel_at_period_end,
            stripe_state_at = EXCLUDED.stripe_state_at
        WHERE s.stripe_state_at IS NULL OR s.stripe_state_at <= EXCLUDED.stripe_state_at
        RETURNING s.user_id
        """,
        user_id, plan_id, stripe_subscription_id, status, current_period_start, current_period_end, trial_end,
        cancel_at_period_end, state_at,
    )
    return written


async def set_subscription_status(conn: asyncpg.Connection, stripe_subscription_id: str, status: str,
                                  only_from: list[str], state_at: datetime) -> UUID | None:
    """Moves the row to `status` if it is in one of `only_from` and holds no newer state; its user when moved."""
    moved: UUID | None = await conn.fetchval(
        """
        UPDATE public.user_subscriptions SET status = $2, stripe_state_at = $4
        WHERE stripe_subscription_id = $1 AND status = ANY($3::text[])
          AND (stripe_state_at IS NULL OR stripe_state_at <= $4)
        RETURNING user_id
        """,
        stripe_subscription_id, status, only_from, state_at,
    )
    return moved


async def subscription_history(conn: asyncpg.Connection, user_id: UUID) -> tuple[bool, bool]:
    """(had any subscription, has one Stripe still bills: anything not canceled) for the checkout rules.
    One scan of `idx_user_subscriptions_user_status`."""
    [row] = await conn.fetch(
        """
        SELECT count(*) > 0 AS had_any, count(*) FILTER (WHERE status <> 'canceled') > 0 AS has_live
        FROM public.user_subscriptions WHERE user_id = $1
        """,
        user_id,
    )
    return bool(row["had_any"]), bool(row["has_live"])


async def current_subscription(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    """The user's current subscription: one that grants access (active, trialing) before one that waits for
    payment (past_due, unpaid), newest first; a canceled one is not current. Works as the user (RLS) too."""
    return await conn.fetchrow(
        """
        SELECT id, plan_id, status, current_period_start, current_period_end, trial_end, cancel_at_period_end
        FROM public.user_subscriptions
        WHERE user_id = $1 AND status <> 'canceled'
        ORDER BY status IN ('active', 'trialing') DESC, updated_at DESC, id
        LIMIT 1
        """,
        user_id,
    )
