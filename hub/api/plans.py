"""Subscription plans: the public catalogue and the admin's edits (run as the admin, under RLS)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from hub.auth import AppServices, Caller, require_admin
from hub.domain.plans import PlanView, plan_view
from hub.errors import NotFound, PlanExists, ValidationFailed
from hub.idempotency import IdempotencyKey, create_once
from hub.pagination import CursorQuery, Page, check_limit, cursor_key, page_of
from persistence import billing

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=2000)]
PlanType = Literal["monthly", "yearly", "lifetime"]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")]
PriceId = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Features = Annotated[dict[str, Any], msgspec.Meta(max_length=100)]
TrialDays = Annotated[int, msgspec.Meta(ge=0, le=365)]
MaxUsers = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
LevelLimit = Annotated[int, msgspec.Meta(ge=0, le=1000)]

# The column is decimal(10, 2).
_MAX_PRICE = Decimal("99999999.99")


class PlanIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    price: Decimal
    description: Description | None = None
    plan_type: PlanType = "monthly"
    currency: Currency = "USD"
    stripe_price_id: PriceId | None = None
    features: Features = msgspec.field(default_factory=dict)
    is_active: bool = True
    trial_days: TrialDays = 0
    max_users: MaxUsers | None = None
    level_access_limit: LevelLimit = 99


class PlanPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields present are changed."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    price: Decimal | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    plan_type: PlanType | msgspec.UnsetType = msgspec.UNSET
    currency: Currency | msgspec.UnsetType = msgspec.UNSET
    stripe_price_id: PriceId | msgspec.UnsetType | None = msgspec.UNSET
    features: Features | msgspec.UnsetType = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET
    trial_days: TrialDays | msgspec.UnsetType = msgspec.UNSET
    max_users: MaxUsers | msgspec.UnsetType | None = msgspec.UNSET
    level_access_limit: LevelLimit | msgspec.UnsetType = msgspec.UNSET


def check_price(price: Decimal | msgspec.UnsetType) -> None:
    """A price is a finite amount of 0 to 99,999,999.99 with at most two decimals (never rounded)."""
    if not isinstance(price, Decimal):
        return
    exponent = price.as_tuple().exponent
    if not price.is_finite() or not isinstance(exponent, int) or exponent < -2 or not 0 <= price <= _MAX_PRICE:
        raise ValidationFailed({"price": "must be 0 to 99999999.99 with at most two decimals"})


@get("/api/plans", tags=["billing"], security=[])
async def list_plans(caller: Caller, services: AppServices, cursor: CursorQuery = None,
                     limit: FromQuery[int | None] = None) -> Page[PlanView]:
    """Active plans, cheapest first (then by id)."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Decimal, UUID])
    async with services.db.transaction(caller) as conn:
        rows = await billing.active_plans(conn, after, size + 1)
    return page_of([plan_view(row) for row in rows], size, lambda r: [str(r.price), str(r.id)])


@post("/api/plans", tags=["billing"])
async def create_plan(data: JSONBody[PlanIn], user: Caller, services: AppServices,
                      idempotency_key: IdempotencyKey) -> Response[PlanView]:
    """Admins only. 409 `plan_exists` when another plan has this `stripe_price_id`."""
    require_admin(user)
    check_price(data.price)

    async def create(conn: asyncpg.Connection) -> PlanView:
        row = await billing.create_plan(conn, msgspec.to_builtins(data))
        if row is None:
            raise PlanExists(f"Stripe price {data.stripe_price_id} already belongs to a plan")
        return plan_view(row)

    return await create_once(services.db, user, idempotency_key, "POST /api/plans", data, create)


@patch("/api/plans/{plan_id:uuid}", tags=["billing"])
async def edit_plan(plan_id: FromPath[UUID], data: JSONBody[PlanPatch], user: Caller,
                    services: AppServices) -> PlanView:
    """Admins only; same validation as creation."""
    require_admin(user)
    check_price(data.price)
    async with services.db.transaction(user) as conn:
        try:
            row = await billing.patch_plan(conn, plan_id, msgspec.to_builtins(data))
        except asyncpg.UniqueViolationError:
            raise PlanExists(f"Stripe price {data.stripe_price_id} already belongs to a plan") from None
    if row is None:
        raise NotFound("Plan not found")
    return plan_view(row)


ROUTES = [list_plans, create_plan, edit_plan]
