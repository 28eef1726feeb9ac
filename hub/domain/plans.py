"""Subscription plans: the plan view, and the plan gate on lesson levels."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from hub.errors import PlanRequired
from persistence import plans
from persistence.identity import Identity


class PlanView(msgspec.Struct):
    id: UUID
    name: str
    description: str | None
    plan_type: str
    price: Decimal
    currency: str
    stripe_price_id: str | None
    features: dict[str, Any]
    is_active: bool
    trial_days: int
    max_users: int | None
    level_access_limit: int
    created_at: datetime
    updated_at: datetime


def plan_view(row: asyncpg.Record) -> PlanView:
    """A `persistence.billing` plan row."""
    return PlanView(**dict(row))


async def require_plan(conn: asyncpg.Connection, caller: Identity, level_id: int, free_tier_level: int) -> None:
    """402 unless the caller's plan reaches `level_id` (admins pass)."""
    if caller.is_admin:
        return
    if level_id > await plans.level_access_limit(conn, caller.user_id, free_tier_level):
        raise PlanRequired(f"Level {level_id} needs a plan that includes it")
