"""Billing through Stripe: checkout, the billing portal, the caller's subscription and the webhook.

Stripe calls never run inside a database transaction, the webhook's fetch of a subscription included
(see `hub.billing.webhooks` for when and why it fetches). The webhook applies each event once: its id
goes into `billing.stripe_events` in the same transaction as its effects.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
import stripe
from litestar import Request, get, post
from litestar.params import HeaderParameter, JSONBody

from channels.names import ChannelName
from hub.auth import AppServices, Caller
from hub.billing import webhooks
from hub.billing.stripe_gateway import StripeGateway, gateway_of
from hub.domain.subscriptions import SubscriptionView, subscription_view
from hub.errors import (
    BadEvent,
    BadJson,
    BadSignature,
    NoCustomer,
    NotFound,
    PlanUnavailable,
    StripeUnavailable,
    SubscriptionExists,
    Unauthorized,
    ValidationFailed,
)
from hub.idempotency import IdempotencyKey
from hub.services import Services
from persistence import billing
from persistence.events import append_event
from persistence.identity import SERVICE

log = logging.getLogger("hub.billing")

# Stripe's own limit: a signed delivery older than this is refused (replay protection).
SIGNATURE_TOLERANCE_S = 300

# Fetches of one delivery whose result each lost to a write made while it was fetched. Past that the event
# is left unrecorded (502) and Stripe delivers it again later, by when the subscription has settled.
MAX_FETCHES = 3

StripeSignature = Annotated[str | None, HeaderParameter(name="Stripe-Signature", required=False)]


class CheckoutIn(msgspec.Struct, forbid_unknown_fields=True):
    plan_id: UUID


class UrlOut(msgspec.Struct):
    url: str


class Received(msgspec.Struct):
    received: bool


class EventData(msgspec.Struct):
    object: dict[str, Any]


class StripeEvent(msgspec.Struct):
    """The part of a Stripe event the hub reads; everything else is ignored."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    type: Annotated[str, msgspec.Meta(max_length=255)]
    created: int
    data: EventData


# ---------------------------------------------------------------- checkout and portal

@post("/api/billing/checkout", tags=["billing"], status_code=200)
async def checkout(data: JSONBody[CheckoutIn], user: Caller, services: AppServices,
                   idempotency_key: IdempotencyKey) -> UrlOut:
    """A Stripe Checkout Session (subscription mode) for the plan → `{url}`. 404 for an unknown plan, 409
    `plan_unavailable` for an inactive plan, one without a Stripe price, or a lifetime plan (one-time prices
    cannot be sold in subscription mode). 409 `subscription_exists` while the caller has a subscription
    Stripe still bills (any status but canceled): plan changes and payment go through the portal, a checkout
    would start a second subscription. The plan's trial is offered only to a user who never had a
    subscription. The same `Idempotency-Key` returns the same session."""
    gateway = gateway_of(services)
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        raise ValidationFailed({"Idempotency-Key": "must be 1 to 200 characters"})
    user_id = user.require_user_id()
    # Plans and auth.users on the privileged path: an inactive plan is a clear 409, not a hidden 404.
    async with services.db.transaction(SERVICE) as conn:
        plan = await billing.plan_by_id(conn, data.plan_id)
        account = await billing.billing_account(conn, user_id)
        had_any, has_live = await billing.subscription_history(conn, user_id)
    if plan is None:
        raise NotFound("Plan not found")
    if account is None:
        raise Unauthorized("Account no longer exists")
    if not plan["is_active"] or not plan["stripe_price_id"] or plan["plan_type"] == "lifetime":
        raise PlanUnavailable("This plan is not on sale through checkout")
    if has_live:
        raise SubscriptionExists("Change or renew your subscription through POST /api/billing/portal")
    customer_id = account["stripe_customer_id"] or await _new_customer(services, gateway, user_id, account["email"])
    public_url = services.settings.public_url.rstrip("/")
    metadata = {"user_id": str(user_id), "plan_id": str(plan["id"])}
    subscription_data: dict[str, Any] = {"metadata": metadata}
    if plan["trial_days"] > 0 and not had_any:  # one trial per user, ever
        subscription_data["trial_period_days"] = plan["trial_days"]
    url = await gateway.create_checkout_session(
        {
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": str(user_id),
            "line_items": [{"price": plan["stripe_price_id"], "quantity": 1}],
            "subscription_data": subscription_data,
            "metadata": metadata,
            "success_url": f"{public_url}/billing/success?session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{public_url}/billing/cancel",
        },
        idempotency_key=f"hub-checkout-{user_id}-{idempotency_key or uuid.uuid4()}",
    )
    return UrlOut(url=url)


async def _new_customer(services: Services, gateway: StripeGateway, user_id: UUID, email: str) -> str:
    """Creates a Stripe customer and stores it unless a concurrent checkout stored one first: then the
    stored one is used, so a user never has two."""
    created = await gateway.create_customer(email=email, user_id=str(user_id))
    async with services.db.transaction(SERVICE) as conn:
        stored = await billing.claim_customer(conn, user_id, created)
    if stored is None:
        raise Unauthorized("Account no longer exists")
    return stored


@post("/api/billing/portal", tags=["billing"], status_code=200)
async def portal(user: Caller, services: AppServices) -> UrlOut:
    """A Stripe billing portal session for the caller's customer → `{url}`; 409 `no_customer` before the
    first checkout."""
    gateway = gateway_of(services)
    async with services.db.transaction(SERVICE) as conn:
        account = await billing.billing_account(conn, user.require_user_id())
    if account is None or account["stripe_customer_id"] is None:
        raise NoCustomer()
    url = await gateway.create_portal_session(customer_id=account["stripe_customer_id"],
                                              return_url=f"{services.settings.public_url.rstrip('/')}/billing")
    return UrlOut(url=url)


@get("/api/billing/subscription", tags=["billing"])
async def my_subscription(user: Caller, services: AppServices) -> SubscriptionView:
    """The caller's current subscription with its plan, or the free tier (`status` "free", `plan` null)."""
    gateway_of(services)  # 503 without Stripe keys, like every billing route
    async with services.db.transaction(user) as conn:
        return await subscription_view(conn, user.require_user_id(), services.settings.free_tier_level)


# ---------------------------------------------------------------- webhook

@post("/api/billing/webhook", tags=["billing"], status_code=200, security=[])
async def webhook(request: Request[Any, Any, Any], services: AppServices,
                  stripe_signature: StripeSignature = None) -> Received:
    """Stripe's deliveries, verified against `STRIPE_WEBHOOK_SECRET` (400 `bad_signature` for a missing or
    wrong signature, a timestamp older than 5 minutes or a body changed after signing), 400 `bad_event` for a
    `created` before 2010-01-01 or more than a day ahead of the hub's clock. A replayed event
    changes nothing; an older event never overwrites newer state. → `{"received": true}`; 502
    `stripe_unavailable` when a subscription it needed could not be fetched from Stripe: the event stays
    unrecorded, so Stripe's redelivery applies it."""
    gateway = gateway_of(services)
    event = _verified_event(await request.body(), stripe_signature, services.settings.stripe_webhook_secret)
    if not webhooks.created_is_plausible(event.created, services.clock()):
        log.warning("stripe event %s refused: created %d is before 2010 or more than a day ahead", event.id,
                    event.created)
        raise BadEvent(f"created {event.created} is not between 2010-01-01 and a day from now")
    effect = webhooks.read_event(event.type, event.created, event.data.object)
    fetched: webhooks.Fetched | None = None
    fetches = 0
    while (wanted := await _record(services, event, effect, fetched)) is not None:
        if fetches == MAX_FETCHES:
            log.warning("stripe subscription %s: written during each of %d fetches, event %s left for Stripe "
                        "to redeliver", wanted.subscription_id, fetches, event.id)
            raise StripeUnavailable("The subscription kept changing while it was fetched")
        fetches += 1
        # No transaction is open here. A failed fetch raises with the event unrecorded: Stripe redelivers it.
        subscription = await gateway.retrieve_subscription(wanted.subscription_id)
        fetched = webhooks.Fetched(webhooks.subscription_state(subscription), wanted.row_version)
    return Received(received=True)


class _FetchFirst(Exception):
    """Raised under the subscription's lock to roll the event's transaction back, ledger row included, so
    the subscription is fetched from Stripe with no transaction open."""

    def __init__(self, subscription_id: str, row_version: str | None) -> None:
        super().__init__(subscription_id)
        self.subscription_id = subscription_id
        self.row_version = row_version


async def _record(services: Services, event: StripeEvent, effect: webhooks.EventEffect,
                  fetched: webhooks.Fetched | None) -> _FetchFirst | None:
    """Records the event and applies it in one transaction, or nothing when it was recorded before (a
    parallel duplicate waits in `record_event` for the first one's commit). Returns what to fetch when the
    event needs Stripe's state first; its transaction is then rolled back, so the event stays unrecorded."""
    try:
        async with services.db.transaction(SERVICE) as conn:
            if await billing.record_event(conn, event.id, event.type):
                await _apply(conn, effect, fetched, services.settings.free_tier_level)
    except _FetchFirst as wanted:
        return wanted
    return None


def _verified_event(body: bytes, signature: str | None, secret: str | None) -> StripeEvent:
    try:
        stripe.Webhook.construct_event(body, signature, secret, tolerance=SIGNATURE_TOLERANCE_S)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise BadSignature() from None
    except (ValueError, RecursionError):  # the SDK's json.loads: not JSON, or nested past its recursion guard
        # (a correctly signed body can nest a few thousand levels)
        raise BadJson("The signed body is not a Stripe event") from None
    try:
        return msgspec.json.decode(body, type=StripeEvent)
    except msgspec.ValidationError as exc:
        raise BadJson(f"The signed body is not a Stripe event: {exc}") from None


async def _apply(conn: asyncpg.Connection, effect: webhooks.EventEffect, fetched: webhooks.Fetched | None,
                 free_tier_level: int) -> None:
    if effect.link is not None and await billing.user_exists(conn, effect.link.user_id):
        await billing.claim_customer(conn, effect.link.user_id, effect.link.customer_id)
    action = effect.action
    if action is None:
        return
    await billing.lock_subscription(conn, action.subscription_id)
    row = await billing.subscription_by_stripe_id(conn, action.subscription_id)
    row_version = row["version"] if row else None
    step = webhooks.next_step(action, row["stripe_state_at"] if row else None, row_version, effect.created,
                              fetched)
    if step is webhooks.Step.DROP:
        return
    if step is webhooks.Step.FETCH:
        raise _FetchFirst(action.subscription_id, row_version)
    if isinstance(step, webhooks.SetStatus):
        if row is None:
            return
        user_id = row["user_id"]
        before = await subscription_view(conn, user_id, free_tier_level)
        await billing.set_subscription_status(conn, step.subscription_id, step.status, sorted(step.only_from),
                                              effect.created)
    else:
        state = step
        user_id = row["user_id"] if row else await _user_of(conn, state)
        plan_id = await _plan_of(conn, state)
        if user_id is None or plan_id is None:
            log.warning("stripe subscription %s: no matching user or plan, ignored", action.subscription_id)
            return
        before = await subscription_view(conn, user_id, free_tier_level)
        await billing.upsert_subscription(
            conn, user_id=user_id, plan_id=plan_id, stripe_subscription_id=state.stripe_subscription_id,
            status=state.status, current_period_start=state.current_period_start,
            current_period_end=state.current_period_end, trial_end=state.trial_end,
            cancel_at_period_end=state.cancel_at_period_end, state_at=effect.created,
        )
    after = await subscription_view(conn, user_id, free_tier_level)
    if after != before:
        await append_event(conn, ChannelName.user(user_id), "subscription.updated", after)


async def _user_of(conn: asyncpg.Connection, state: webhooks.SubscriptionState) -> UUID | None:
    """The customer's user, else the user the checkout put into the subscription's metadata."""
    if state.customer_id is not None:
        user_id = await billing.user_by_customer(conn, state.customer_id)
        if user_id is not None:
            return user_id
    if state.metadata_user_id is not None and await billing.user_exists(conn, state.metadata_user_id):
        return state.metadata_user_id
    return None


async def _plan_of(conn: asyncpg.Connection, state: webhooks.SubscriptionState) -> UUID | None:
    """The plan selling the subscription's price, else the plan the checkout put into its metadata."""
    if state.price_id is not None:
        plan_id = await billing.plan_id_by_price(conn, state.price_id)
        if plan_id is not None:
            return plan_id
    if state.metadata_plan_id is not None and await billing.plan_exists(conn, state.metadata_plan_id):
        return state.metadata_plan_id
    return None


ROUTES = [checkout, portal, my_subscription, webhook]
