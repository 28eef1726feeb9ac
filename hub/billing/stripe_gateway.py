"""The hub's only door to the Stripe API: a `stripe.StripeClient` built from settings, async calls.

The SDK's `*_async` methods run on an `httpx.AsyncClient` the gateway owns (plain `http://` bases such as a
local stand-in work too), so no thread is blocked. Stripe's errors become the hub's typed errors here:
a reused idempotency key with other parameters is a 409, anything else a 502 the caller may retry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import stripe
from stripe._base_address import BaseAddresses

from hub.errors import BillingNotConfigured, IdempotencyConflict, StripeUnavailable
from hub.services import Services
from hub.settings import Settings

T = TypeVar("T")

# Each call is on a user's request path: fail in seconds, retry once (idempotency keys make it safe).
TIMEOUT_S = 10.0
MAX_NETWORK_RETRIES = 1


class StripeGateway:
    def __init__(self, settings: Settings) -> None:
        assert settings.stripe_secret_key is not None
        self._http = stripe.HTTPXClient(timeout=TIMEOUT_S)
        base: BaseAddresses | None = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        self._client = stripe.StripeClient(settings.stripe_secret_key, base_addresses=base,
                                           max_network_retries=MAX_NETWORK_RETRIES, http_client=self._http)

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_customer(self, *, email: str, user_id: str) -> str:
        # One key per user: two concurrent first checkouts get the same customer back from Stripe.
        customer = await _call(self._client.v1.customers.create_async(
            {"email": email, "metadata": {"user_id": user_id}},
            {"idempotency_key": f"hub-customer-{user_id}"},
        ))
        return str(customer.id)

    async def create_checkout_session(self, params: dict[str, Any], *, idempotency_key: str) -> str:
        session = await _call(self._client.v1.checkout.sessions.create_async(
            params, {"idempotency_key": idempotency_key}))  # type: ignore[arg-type]
        return str(session.url)

    async def create_portal_session(self, *, customer_id: str, return_url: str) -> str:
        session = await _call(self._client.v1.billing_portal.sessions.create_async(
            {"customer": customer_id, "return_url": return_url}))
        return str(session.url)

    async def cancel_subscription(self, subscription_id: str) -> None:
        """Cancels at once (not at the period's end); one Stripe no longer knows counts as canceled."""
        try:
            await self._client.v1.subscriptions.cancel_async(subscription_id)
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":
                raise _unavailable(exc) from None
        except stripe.StripeError as exc:
            raise _unavailable(exc) from None

    async def retrieve_subscription(self, subscription_id: str) -> dict[str, Any]:
        subscription = await _call(self._client.v1.subscriptions.retrieve_async(subscription_id))
        data: dict[str, Any] = subscription.to_dict(for_json=True)
        return data


async def _call(request: Awaitable[T]) -> T:
    try:
        return await request
    except stripe.IdempotencyError:
        raise IdempotencyConflict() from None
    except stripe.StripeError as exc:
        raise _unavailable(exc) from None


def _unavailable(exc: stripe.StripeError) -> StripeUnavailable:
    return StripeUnavailable(f"Stripe: {exc.user_message or type(exc).__name__}")


async def start(services: Services) -> Callable[[], Awaitable[None]]:
    """Starter (hub.app.STARTERS): a gateway when billing is configured, closed at shutdown."""
    if not services.settings.billing_enabled:
        async def nothing() -> None:
            return None

        return nothing
    gateway = StripeGateway(services.settings)
    services.started.add(gateway)

    async def stop() -> None:
        services.started.remove(StripeGateway)
        await gateway.close()

    return stop


def gateway_of(services: Services) -> StripeGateway:
    """The app's gateway; 503 `billing_not_configured` without Stripe keys."""
    gateway = services.started.find(StripeGateway)
    if gateway is None:
        raise BillingNotConfigured()
    return gateway
