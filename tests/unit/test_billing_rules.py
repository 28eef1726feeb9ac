"""The webhook rules: Stripe statuses onto the schema's set, what each event changes, and event ordering."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from hub.billing.webhooks import (
    ApplySnapshot,
    CustomerLink,
    Fetched,
    Order,
    Refetch,
    SetStatus,
    Step,
    SubscriptionState,
    created_is_plausible,
    invoice_subscription_id,
    next_step,
    order_of,
    read_event,
    subscription_state,
    subscription_status,
)

USER = "6f1c1a52-5b1e-4bde-9b55-8d1f0c6b2a10"
PLAN = "0b7e3c1d-2f4a-4c5e-8a9b-1c2d3e4f5a6b"
T0 = datetime(2025, 10, 9, 8, 26, 40, tzinfo=UTC)
EARLIER = datetime(2025, 10, 9, 8, 26, 39, tzinfo=UTC)
LATER = datetime(2025, 10, 9, 8, 26, 41, tzinfo=UTC)
PAST_DUE = SubscriptionState(
    stripe_subscription_id="sub_1", customer_id="cus_1", price_id="price_pro", metadata_user_id=None,
    metadata_plan_id=None, status="past_due", current_period_start=None, current_period_end=None, trial_end=None,
    cancel_at_period_end=False)
ACTIVE_AT_STRIPE = SubscriptionState(
    stripe_subscription_id="sub_1", customer_id="cus_1", price_id="price_pro", metadata_user_id=None,
    metadata_plan_id=None, status="active", current_period_start=None, current_period_end=None, trial_end=None,
    cancel_at_period_end=False)
SNAPSHOT = ApplySnapshot(PAST_DUE)
PAID = SetStatus("sub_1", "active", frozenset({"past_due", "unpaid"}))


def subscription(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
        "cancel_at_period_end": False, "trial_end": None, "metadata": {"user_id": USER, "plan_id": PLAN},
        "items": {"data": [{"id": "si_1", "current_period_start": 1_760_000_000,
                            "current_period_end": 1_762_592_000, "price": {"id": "price_pro"}}]},
    }
    base.update(changes)
    return base


def test_only_paid_up_stripe_statuses_map_onto_granting_statuses() -> None:
    assert {s: subscription_status(s) for s in ("active", "trialing", "past_due", "unpaid", "canceled")} == {
        "active": "active", "trialing": "trialing", "past_due": "past_due", "unpaid": "unpaid",
        "canceled": "canceled"}
    assert subscription_status("incomplete") == "unpaid"
    assert subscription_status("incomplete_expired") == "canceled"
    assert subscription_status("paused") == "past_due"
    assert subscription_status("some_future_status") == "unpaid"
    assert subscription_status(None) == "unpaid"


def test_subscription_state_reads_the_period_from_items_and_from_the_legacy_top_level() -> None:
    current = subscription_state(subscription(trial_end=1_760_600_000, cancel_at_period_end=True))
    assert current.current_period_start == datetime.fromtimestamp(1_760_000_000, UTC)
    assert current.current_period_end == datetime.fromtimestamp(1_762_592_000, UTC)
    assert current.trial_end == datetime.fromtimestamp(1_760_600_000, UTC)
    assert (current.price_id, current.customer_id, current.cancel_at_period_end) == ("price_pro", "cus_1", True)
    assert (current.metadata_user_id, current.metadata_plan_id) == (UUID(USER), UUID(PLAN))
    legacy = subscription_state(subscription(current_period_start=1_700_000_000, current_period_end=1_702_592_000,
                                             customer={"id": "cus_expanded"}, metadata={"user_id": "not-a-uuid"}))
    assert legacy.current_period_start == datetime.fromtimestamp(1_700_000_000, UTC)
    assert legacy.current_period_end == datetime.fromtimestamp(1_702_592_000, UTC)
    assert (legacy.customer_id, legacy.metadata_user_id) == ("cus_expanded", None)


def test_invoice_subscription_is_found_in_the_old_and_the_2025_shape() -> None:
    assert invoice_subscription_id({"subscription": "sub_old"}) == "sub_old"
    assert invoice_subscription_id({"parent": {"subscription_details": {"subscription": "sub_new"}}}) == "sub_new"
    assert invoice_subscription_id({"parent": None, "subscription": None}) is None


def test_checkout_completed_links_the_customer_and_refetches_the_subscription() -> None:
    effect = read_event("checkout.session.completed", 1_760_000_000,
                        {"client_reference_id": USER, "customer": "cus_1", "subscription": "sub_1"})
    assert effect.link == CustomerLink(UUID(USER), "cus_1")
    assert effect.action == Refetch("sub_1")
    assert effect.created == datetime.fromtimestamp(1_760_000_000, UTC)
    anonymous = read_event("checkout.session.completed", 1, {"customer": "cus_1", "subscription": None})
    assert (anonymous.link, anonymous.action) == (None, None)


def test_subscription_events_carry_their_snapshot_and_deleted_means_canceled() -> None:
    updated = read_event("customer.subscription.updated", 1, subscription(status="past_due"))
    assert isinstance(updated.action, ApplySnapshot) and updated.action.state.status == "past_due"
    deleted = read_event("customer.subscription.deleted", 1, subscription(status="active"))
    assert isinstance(deleted.action, ApplySnapshot) and deleted.action.state.status == "canceled"
    assert deleted.action.subscription_id == "sub_1"


def test_invoice_events_move_only_from_the_statuses_they_concern() -> None:
    paid = read_event("invoice.paid", 1, {"parent": {"subscription_details": {"subscription": "sub_1"}}})
    assert paid.action == SetStatus("sub_1", "active", frozenset({"past_due", "unpaid"}))
    failed = read_event("invoice.payment_failed", 1, {"subscription": "sub_1"})
    assert failed.action == SetStatus("sub_1", "past_due", frozenset({"active", "trialing"}))
    assert read_event("invoice.paid", 1, {"subscription": None}).action is None


def test_events_the_hub_does_not_handle_change_nothing() -> None:
    effect = read_event("customer.created", 1, {"id": "cus_1"})
    assert (effect.link, effect.action) == (None, None)


def test_order_of_an_event_against_the_stored_state() -> None:
    assert order_of(None, T0) is Order.NEWER
    assert order_of(EARLIER, T0) is Order.NEWER
    assert order_of(T0, T0) is Order.SAME
    assert order_of(LATER, T0) is Order.OLDER


def test_an_event_older_than_the_stored_state_is_dropped() -> None:
    assert next_step(SNAPSHOT, LATER, "v1", T0, None) is Step.DROP
    assert next_step(PAID, LATER, "v1", T0, None) is Step.DROP
    assert next_step(Refetch("sub_1"), LATER, "v1", T0, None) is Step.DROP


def test_a_newer_snapshot_is_written_from_its_own_payload() -> None:
    assert next_step(SNAPSHOT, EARLIER, "v1", T0, None) == PAST_DUE


def test_a_snapshot_for_a_subscription_with_no_row_is_written_from_its_own_payload() -> None:
    assert next_step(SNAPSHOT, None, None, T0, None) == PAST_DUE


def test_a_newer_invoice_event_moves_the_status() -> None:
    assert next_step(PAID, EARLIER, "v1", T0, None) == PAID


def test_a_same_second_event_fetches_instead_of_trusting_its_payload() -> None:
    assert next_step(SNAPSHOT, T0, "v1", T0, None) is Step.FETCH
    assert next_step(PAID, T0, "v1", T0, None) is Step.FETCH


def test_a_checkout_fetches_the_subscription_it_names_even_when_newer() -> None:
    assert next_step(Refetch("sub_1"), EARLIER, "v1", T0, None) is Step.FETCH
    assert next_step(Refetch("sub_1"), None, None, T0, None) is Step.FETCH


def test_the_fetched_state_is_written_when_the_row_is_the_version_the_fetch_started_after() -> None:
    fetched = Fetched(ACTIVE_AT_STRIPE, "v1")
    assert next_step(SNAPSHOT, T0, "v1", T0, fetched) == ACTIVE_AT_STRIPE
    assert next_step(PAID, T0, "v1", T0, fetched) == ACTIVE_AT_STRIPE
    assert next_step(Refetch("sub_1"), EARLIER, "v1", T0, fetched) == ACTIVE_AT_STRIPE


def test_the_fetched_state_is_written_when_there_was_and_still_is_no_row() -> None:
    assert next_step(Refetch("sub_1"), None, None, T0, Fetched(ACTIVE_AT_STRIPE, None)) == ACTIVE_AT_STRIPE


def test_a_fetch_is_repeated_when_the_row_was_written_at_the_same_or_an_older_second_meanwhile() -> None:
    assert next_step(SNAPSHOT, T0, "v2", T0, Fetched(ACTIVE_AT_STRIPE, "v1")) is Step.FETCH
    assert next_step(Refetch("sub_1"), EARLIER, "v2", T0, Fetched(ACTIVE_AT_STRIPE, "v1")) is Step.FETCH
    assert next_step(Refetch("sub_1"), EARLIER, "v1", T0, Fetched(ACTIVE_AT_STRIPE, None)) is Step.FETCH


def test_a_fetched_event_is_dropped_when_the_row_took_a_newer_second_meanwhile() -> None:
    assert next_step(SNAPSHOT, LATER, "v2", T0, Fetched(ACTIVE_AT_STRIPE, "v1")) is Step.DROP


def test_created_is_plausible_from_2010_to_a_day_ahead_of_our_clock() -> None:
    now = 1_764_806_400.5  # 2025-12-04T00:00:00.5Z
    assert created_is_plausible(1_262_304_000, now)  # 2010-01-01T00:00:00Z
    assert not created_is_plausible(1_262_303_999, now)
    assert created_is_plausible(1_764_892_800, now)  # a day ahead: Stripe's clock runs fast
    assert not created_is_plausible(1_764_892_801, now)
    assert not created_is_plausible(-1, now)
    assert not created_is_plausible(2**63 - 1, now)
