"""What a verified Stripe event means for a subscription row, and which events may still change it.

Pure: no I/O. `hub.api.billing` reads the stored row under the subscription's lock, asks `next_step`, and
writes what it says.

Ordering rule. Every row keeps `stripe_state_at`, the `created` second of the event whose state it holds.
An event strictly older than that is dropped; a strictly newer one is applied from its own payload.
Events created in the same second as the stored state cannot be ordered by their timestamps (Stripe sends
`created` and the first `updated` of a subscription, or `invoice.payment_failed` and the `updated` it
causes, within one second), so for a tie the hub fetches the subscription from Stripe and writes that,
the current truth, instead of either payload. Whatever the delivery order, the row ends in the state of
the newest event, or in Stripe's current state where the newest ones tie.

Fetching. The fetch runs with no transaction open (a slow Stripe must hold neither a pool connection nor
the subscription's lock), so other deliveries may write the row meanwhile. The fetched state is written,
with the event's `created` as its `stripe_state_at`, only if, back under the lock, the event is still not
older than the row and the row is the very version the fetch started after: then every state the row
ever held was stored before Stripe was asked, and the fetched one is at least as new. If the row now holds
a newer second, the event is dropped like any older one (the newer state came from Stripe later than the
event, and every later change at Stripe sends its own event). If the row was written at the same or an
older second, the write may hold news the fetch missed (it was fetched, or sent, after this fetch
began), so the hub fetches again rather than trusting either.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

# Stripe's subscription statuses onto the schema's CHECK set. Only `active` and `trialing` open paid
# levels (persistence.plans), so every status without a settled payment lands on one that does not:
# `incomplete` (first payment not made yet) is `unpaid`, `incomplete_expired` is final like `canceled`,
# `paused` (trial ended without a payment method) waits for payment like `past_due`.
STATUS_MAP = {
    "active": "active",
    "trialing": "trialing",
    "past_due": "past_due",
    "unpaid": "unpaid",
    "canceled": "canceled",
    "incomplete": "unpaid",
    "incomplete_expired": "canceled",
    "paused": "past_due",
}
# A status Stripe adds later grants nothing until mapped here.
UNKNOWN_STATUS = "unpaid"


def subscription_status(stripe_status: Any) -> str:
    return STATUS_MAP.get(stripe_status, UNKNOWN_STATUS) if isinstance(stripe_status, str) else UNKNOWN_STATUS


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """The columns of `user_subscriptions` a Stripe subscription object fills, plus what resolves the
    user (customer id, else `metadata.user_id`) and the plan (item price id, else `metadata.plan_id`)."""

    stripe_subscription_id: str
    customer_id: str | None
    price_id: str | None
    metadata_user_id: UUID | None
    metadata_plan_id: UUID | None
    status: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    trial_end: datetime | None
    cancel_at_period_end: bool


@dataclass(frozen=True, slots=True)
class ApplySnapshot:
    """`customer.subscription.*`: the event carries the whole subscription."""

    state: SubscriptionState

    @property
    def subscription_id(self) -> str:
        return self.state.stripe_subscription_id


@dataclass(frozen=True, slots=True)
class Refetch:
    """`checkout.session.completed`: the session names the subscription but not its state."""

    subscription_id: str


@dataclass(frozen=True, slots=True)
class SetStatus:
    """Invoice events: move an existing row to `status`, only from one of `only_from`."""

    subscription_id: str
    status: str
    only_from: frozenset[str]


Action = ApplySnapshot | Refetch | SetStatus


@dataclass(frozen=True, slots=True)
class CustomerLink:
    """`checkout.session.completed`: the session's customer belongs to `client_reference_id`."""

    user_id: UUID
    customer_id: str


@dataclass(frozen=True, slots=True)
class EventEffect:
    created: datetime
    link: CustomerLink | None
    action: Action | None


@dataclass(frozen=True, slots=True)
class Fetched:
    """The subscription as fetched from Stripe, and the row version (None: no row) the fetch started after."""

    state: SubscriptionState
    row_version: str | None


class Step(enum.Enum):
    DROP = "drop"
    """The row holds newer state: the event changes nothing."""
    FETCH = "fetch"
    """End the transaction unrecorded, fetch the subscription from Stripe with none open, then ask again."""


class Order(enum.Enum):
    NEWER = "newer"
    SAME = "same"
    OLDER = "older"


def order_of(stored: datetime | None, incoming: datetime) -> Order:
    """Where an event's `created` falls against the state a row holds (None: no row, or no key yet)."""
    if stored is None or incoming > stored:
        return Order.NEWER
    return Order.SAME if incoming == stored else Order.OLDER


def next_step(action: Action, stored_at: datetime | None, row_version: str | None, created: datetime,
              fetched: Fetched | None) -> SubscriptionState | SetStatus | Step:
    """What to do with an event, under the subscription's lock, against the row's `stripe_state_at` and
    version (both None: no row), once more with `fetched` after a `Step.FETCH`: a state to write, a status
    move to make, or a `Step` (rule in the module docstring)."""
    order = order_of(stored_at, created)
    if order is Order.OLDER:
        return Step.DROP
    if fetched is not None:
        return fetched.state if fetched.row_version == row_version else Step.FETCH
    if order is Order.SAME or isinstance(action, Refetch):
        return Step.FETCH
    return action if isinstance(action, SetStatus) else action.state


# Stripe did not exist before 2010: an earlier `created` is no Stripe event.
EARLIEST_CREATED = int(datetime(2010, 1, 1, tzinfo=UTC).timestamp())
# Stripe's clock may run ahead of ours; a `created` further ahead than this is not clock skew.
MAX_CREATED_AHEAD_S = 86_400


def created_is_plausible(created: int, now: float) -> bool:
    """Whether `created` can be a Stripe event's time. It becomes the row's `stripe_state_at`, which orders
    every later event of the subscription: one absurd value would freeze the row for good."""
    return EARLIEST_CREATED <= created <= now + MAX_CREATED_AHEAD_S


def read_event(event_type: str, created: int, obj: Mapping[str, Any]) -> EventEffect:
    """The effect of one event; events the hub does not handle have no link and no action."""
    link: CustomerLink | None = None
    action: Action | None = None
    if event_type == "checkout.session.completed":
        user_id, customer_id = _uuid(obj.get("client_reference_id")), _id_of(obj.get("customer"))
        if user_id is not None and customer_id is not None:
            link = CustomerLink(user_id, customer_id)
        subscription_id = _id_of(obj.get("subscription"))
        action = Refetch(subscription_id) if subscription_id else None
    elif event_type in ("customer.subscription.created", "customer.subscription.updated",
                        "customer.subscription.deleted"):
        state = subscription_state(obj)
        if event_type == "customer.subscription.deleted":
            state = replace(state, status="canceled")
        action = ApplySnapshot(state) if state.stripe_subscription_id else None
    elif event_type in ("invoice.paid", "invoice.payment_failed"):
        subscription_id = invoice_subscription_id(obj)
        if subscription_id is not None:
            action = (SetStatus(subscription_id, "active", frozenset({"past_due", "unpaid"}))
                      if event_type == "invoice.paid"
                      else SetStatus(subscription_id, "past_due", frozenset({"active", "trialing"})))
    return EventEffect(created=datetime.fromtimestamp(created, UTC), link=link, action=action)


def subscription_state(obj: Mapping[str, Any]) -> SubscriptionState:
    """From a Stripe subscription object. Since API version 2025-03-31 the billing period is on the
    subscription items, before it was on the subscription: both are read, the subscription's first."""
    item = _first_item(obj)
    price = item.get("price")
    raw_metadata = obj.get("metadata")
    metadata: Mapping[str, Any] = raw_metadata if isinstance(raw_metadata, Mapping) else {}
    return SubscriptionState(
        stripe_subscription_id=_id_of(obj.get("id")) or "",
        customer_id=_id_of(obj.get("customer")),
        price_id=_id_of(price),
        metadata_user_id=_uuid(metadata.get("user_id")),
        metadata_plan_id=_uuid(metadata.get("plan_id")),
        status=subscription_status(obj.get("status")),
        current_period_start=_time(obj.get("current_period_start", item.get("current_period_start"))),
        current_period_end=_time(obj.get("current_period_end", item.get("current_period_end"))),
        trial_end=_time(obj.get("trial_end")),
        cancel_at_period_end=obj.get("cancel_at_period_end") is True,
    )


def invoice_subscription_id(invoice: Mapping[str, Any]) -> str | None:
    """`invoice.subscription` before API version 2025-03-31, `invoice.parent.subscription_details.subscription`
    since."""
    legacy = _id_of(invoice.get("subscription"))
    if legacy is not None:
        return legacy
    parent = invoice.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
    return _id_of(details.get("subscription")) if isinstance(details, Mapping) else None


def _first_item(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    items = obj.get("items")
    data = items.get("data") if isinstance(items, Mapping) else None
    first = data[0] if isinstance(data, list) and data else None
    return first if isinstance(first, Mapping) else {}


def _id_of(value: Any) -> str | None:
    """An id field may hold the id or, when expanded, the object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _uuid(value: Any) -> UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return datetime.fromtimestamp(value, UTC)
