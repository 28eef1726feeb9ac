"""A small local stand-in for the Stripe API, and signed webhook deliveries, for billing tests.

The hub talks to it through the real `stripe` SDK (`STRIPE_API_BASE` points here), so what the stand-in
records is exactly what the SDK sent: form-encoded bodies, `Authorization` and `Idempotency-Key`.
It answers the four calls the hub makes with objects shaped like Stripe's, replays a POST with a known
`Idempotency-Key` (and rejects the key with different parameters) as Stripe does, and serves
subscriptions from `stub.subscriptions`, which tests set to "the truth at Stripe".
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import stripe

SECRET_KEY = "sk_test_hub_stub_0123456789"
WEBHOOK_SECRET = "whsec_test_hub_stub_0123456789"
PUBLIC_URL = "https://app.hub.test"


@dataclass(frozen=True)
class StubRequest:
    method: str
    path: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class StripeStub:
    url: str = ""
    requests: list[StubRequest] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    _replies: dict[str, tuple[dict[str, str], int, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, method: str, path: str) -> list[StubRequest]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def answer(self, method: str, path: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        with self.lock:
            self.requests.append(StubRequest(method, path, form, headers))
            if headers.get("authorization") != f"Bearer {SECRET_KEY}":
                return 401, _error("invalid_request_error", "api_key_invalid", "Invalid API Key provided")
            key = headers.get("idempotency-key")
            if method == "POST" and key is not None and key in self._replies:
                first_form, status, body = self._replies[key]
                if first_form != form:
                    return 400, _error("idempotency_error", "idempotency_key_in_use",
                                       "Keys for idempotent requests can only be used with the same parameters")
                return status, body
            status, body = self._route(method, path, form)
            if method == "POST" and key is not None:
                self._replies[key] = (form, status, body)
            return status, body

    def _route(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if (method, path) == ("POST", "/v1/customers"):
            customer = {"id": _id("cus"), "object": "customer", "created": int(time.time()), "livemode": False,
                        "email": form.get("email"), "metadata": _nested(form, "metadata")}
            self.customers[customer["id"]] = customer
            return 200, customer
        if (method, path) == ("POST", "/v1/checkout/sessions"):
            session_id = _id("cs_test")
            return 200, {
                "id": session_id, "object": "checkout.session", "livemode": False, "status": "open",
                "mode": form.get("mode"), "customer": form.get("customer"),
                "client_reference_id": form.get("client_reference_id"), "metadata": _nested(form, "metadata"),
                "success_url": form.get("success_url"), "cancel_url": form.get("cancel_url"),
                "subscription": None, "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            }
        if (method, path) == ("POST", "/v1/billing_portal/sessions"):
            if form.get("customer") not in self.customers:
                return 404, _error("invalid_request_error", "resource_missing", "No such customer")
            portal_id = _id("bps")
            return 200, {"id": portal_id, "object": "billing_portal.session", "livemode": False,
                         "customer": form["customer"], "return_url": form.get("return_url"),
                         "url": f"https://billing.stripe.test/p/session/{portal_id}"}
        if method == "DELETE" and path.startswith("/v1/subscriptions/"):
            subscription = self.subscriptions.get(path.rsplit("/", 1)[1])
            if subscription is None:
                return 404, _error("invalid_request_error", "resource_missing", "No such subscription")
            subscription["status"] = "canceled"
            return 200, subscription
        if method == "GET" and path.startswith("/v1/subscriptions/"):
            subscription = self.subscriptions.get(path.rsplit("/", 1)[1])
            if subscription is None:
                return 404, _error("invalid_request_error", "resource_missing", "No such subscription")
            return 200, subscription
        return 404, _error("invalid_request_error", "resource_missing", f"Unrecognized request URL ({path})")


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _error(kind: str, code: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "code": code, "message": message}}


def _nested(form: dict[str, str], name: str) -> dict[str, str]:
    """`metadata[user_id]=…` form keys back into `{"user_id": …}`."""
    prefix = f"{name}["
    return {k[len(prefix):-1]: v for k, v in form.items() if k.startswith(prefix) and k.count("[") == 1}


@contextmanager
def stripe_stub() -> Iterator[StripeStub]:
    """Serves a fresh stand-in on 127.0.0.1, port 0, in a thread, until the block ends."""
    stub = StripeStub()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            form = dict(parse_qsl(raw or query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body = stub.answer(self.command, path, form, headers)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", _id("req"))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---------------------------------------------------------------- objects and signed deliveries

def subscription_object(subscription_id: str, *, customer: str, price: str, status: str,
                        period_start: int = 1_760_000_000, period_end: int = 1_762_592_000,
                        trial_end: int | None = None, cancel_at_period_end: bool = False,
                        metadata: dict[str, str] | None = None) -> dict[str, Any]:
    """A subscription as Stripe's 2025+ API shapes it: the billing period lives on the item."""
    return {
        "id": subscription_id, "object": "subscription", "customer": customer, "status": status,
        "livemode": False, "cancel_at_period_end": cancel_at_period_end, "trial_end": trial_end,
        "metadata": metadata or {}, "created": period_start,
        "items": {"object": "list", "has_more": False, "data": [{
            "id": _id("si"), "object": "subscription_item", "quantity": 1,
            "current_period_start": period_start, "current_period_end": period_end,
            "price": {"id": price, "object": "price", "recurring": {"interval": "month"}},
        }]},
    }


def event_body(event_type: str, obj: dict[str, Any], *, created: int, event_id: str | None = None) -> str:
    return json.dumps({
        "id": event_id or _id("evt"), "object": "event", "type": event_type, "created": created,
        "api_version": "2025-09-30.clover", "livemode": False, "pending_webhooks": 1,
        "data": {"object": obj},
    })


def signed_headers(body: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


# ---------------------------------------------------------------- the hub side

@contextmanager
def billing_hub(start_hub: Any, stub: StripeStub) -> Iterator[str]:
    """A hub with Stripe keys whose API base is the stand-in."""
    with start_hub(stripe_secret_key=SECRET_KEY, stripe_webhook_secret=WEBHOOK_SECRET, stripe_api_base=stub.url,
                   public_url=PUBLIC_URL) as url:
        yield url


async def priced_plan(client: httpx.AsyncClient, admin_headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    """A new active plan with its own Stripe price (admin route)."""
    body = {"name": f"Plan {secrets.token_hex(3)}", "price": "19.00", "stripe_price_id": _id("price"),
            "features": {"workshops": True}, "level_access_limit": 50, **fields}
    response = await client.post("/api/plans", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    return plan


async def deliver(client: httpx.AsyncClient, event_type: str, obj: dict[str, Any], *, created: int,
                  event_id: str | None = None) -> httpx.Response:
    """Posts one correctly signed event to the hub's webhook."""
    body = event_body(event_type, obj, created=created, event_id=event_id)
    return await client.post("/api/billing/webhook", content=body, headers=signed_headers(body))
