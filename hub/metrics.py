"""Prometheus metrics, one registry per app (no process-global state, so tests can run many apps)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter("hub_http_requests", "HTTP requests", ["route", "method", "status"],
                                     registry=r)
        self.http_latency = Histogram("hub_http_request_seconds", "HTTP latency", ["route", "method"],
                                      buckets=LATENCY_BUCKETS, registry=r)
        self.ws_open = Gauge("hub_ws_connections", "Open websocket connections", registry=r)
        self.ws_subscriptions = Gauge("hub_ws_subscriptions", "Subscriptions by channel kind", ["kind"],
                                      registry=r)
        self.events_in = Counter("hub_events_received", "Events received from brokers", ["source"],
                                 registry=r)
        self.frames_out = Counter("hub_frames_sent", "Frames queued to connections", registry=r)
        self.queue_overflows = Counter("hub_send_queue_overflows", "Slow-consumer closes (4008)", registry=r)
        self.commit_to_send = Histogram("hub_commit_to_send_seconds", "Event commit to frame queued",
                                        buckets=LATENCY_BUCKETS, registry=r)
        self.listener_reconnects = Counter("hub_listener_reconnects", "PostgreSQL LISTEN reconnects",
                                           registry=r)
        self.redis_reconnects = Counter("hub_redis_reconnects", "Redis pub/sub reconnects", registry=r)
        self.durable_notes = Counter("hub_durable_notes_received", "Durable event notes reaching this instance, "
                                     "wanted or not, by path (notify: PostgreSQL; relay: the Redis shards)",
                                     ["path"], registry=r)
        self.relay_holding = Gauge("hub_relay_holding", "1 while this instance is the elected relay", registry=r)
        self.shard_joins = Counter("hub_shard_joins", "Shard subscriptions confirmed (each reads its channel's log "
                                   "from the last sequence: a first subscribe, or a resubscribe after a loss)",
                                   registry=r)
        self.relay_published = Counter("hub_relay_published", "Events this instance published as the relay",
                                       registry=r)
        self.ws_access_lookups = Counter("hub_ws_access_lookups", "Channel access facts for subscribe and publish, "
                                         "by source (database, or missing: a remembered unknown id)", ["source"],
                                         registry=r)
        self.pool_in_use = Gauge("hub_db_pool_in_use", "Pool connections in use", registry=r)
        self.pool_size = Gauge("hub_db_pool_size", "Pool connections open", registry=r)
        self.jobs = Gauge("hub_jobs", "Jobs in the durable queue by status (queued includes scheduled ones; all "
                          "instances together, read at scrape)", ["status"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def metrics_middleware(metrics: Metrics) -> Any:
    """ASGI middleware counting requests by route template (not raw path: ids would explode the labels)."""

    # Each (route, method, status)'s series, kept: prometheus_client's `labels()` takes a lock and builds the
    # child's key on every call, ≈ 10 µs a request (2 % of a thread page's CPU). Bounded as the labels are:
    # route templates, the HTTP methods the parser knows, statuses.
    series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def factory(app: ASGIApp) -> ASGIApp:
        async def instrumented(scope: Scope, receive: Receive, send: Send) -> None:
            started = time.perf_counter()
            status = 500

            async def capture(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, capture)
            finally:
                key = (scope.get("path_template") or "unmatched", str(scope.get("method", "")), status)
                found = series.get(key)
                if found is None:
                    route, method, _ = key
                    found = series[key] = (metrics.http_requests.labels(route, method, str(status)),
                                           metrics.http_latency.labels(route, method))
                found[0].inc()
                found[1].observe(time.perf_counter() - started)

        def middleware(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
            # Not a coroutine itself: a websocket's scope goes straight to the app, so no frame of this
            # middleware stays on the stack of every open connection.
            if scope["type"] != "http":  # type: ignore[comparison-overlap]
                return app(scope, receive, send)
            return instrumented(scope, receive, send)

        return middleware

    return factory
