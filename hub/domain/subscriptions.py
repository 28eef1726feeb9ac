"""A user's subscription as `GET /api/billing/subscription` shows it and `subscription.updated` on
`user:<id>` carries it: the current subscription with its plan, or the free tier."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from hub.domain.plans import PlanView, plan_view
from persistence import billing, plans


class SubscriptionView(msgspec.Struct):
    id: UUID | None
    status: str
    plan: PlanView | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    trial_end: datetime | None
    cancel_at_period_end: bool
    level_access_limit: int


async def subscription_view(conn: asyncpg.Connection, user_id: UUID, free_tier_level: int) -> SubscriptionView:
    limit = await plans.level_access_limit(conn, user_id, free_tier_level)
    row = await billing.current_subscription(conn, user_id)
    plan = await billing.plan_by_id(conn, row["plan_id"]) if row is not None else None
    if row is None or plan is None:
        return SubscriptionView(id=None, status="free", plan=None, current_period_start=None,
                                current_period_end=None, trial_end=None, cancel_at_period_end=False,
                                level_access_limit=limit)
    return SubscriptionView(id=row["id"], status=row["status"], plan=plan_view(plan),
                            current_period_start=row["current_period_start"],
                            current_period_end=row["current_period_end"], trial_end=row["trial_end"],
                            cancel_at_period_end=row["cancel_at_period_end"], level_access_limit=limit)
