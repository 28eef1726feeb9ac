"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from typing import Any

import msgspec
from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST

from channels.codes import NOT_READY
from hub.auth import AppServices
from hub.errors import NotFound, Unauthorized
from hub.readiness import readiness_problems
from persistence import jobs
from persistence.db import DatabaseUnavailable
from persistence.identity import SERVICE


class Status(msgspec.Struct, omit_defaults=True):
    status: str
    relay: str | None = None  # relay mode (FANOUT=relay) only: "relaying" or "standby"


class ReadinessProblem(msgspec.Struct):
    """The 503 problem document of `/readyz`: `failing` maps each failing part to its reason."""

    status: str
    code: str
    failing: dict[str, str]


@get("/healthz", tags=["operations"], security=[])
async def healthz() -> Status:
    return Status(status="ok")


@get("/readyz", tags=["operations"], security=[])
async def readyz(services: AppServices) -> Response[Status | ReadinessProblem]:
    problems = await readiness_problems(services)
    if problems:
        return Response(ReadinessProblem(status="not_ready", code=NOT_READY.code, failing=problems), status_code=503,
                        media_type="application/problem+json")
    state = services.readiness.relay_state
    return Response(Status(status="ready", relay=state() if state is not None else None))


@get("/metrics", tags=["operations"], security=[], include_in_schema=False)
async def metrics(services: AppServices, request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text for a scraper holding METRICS_TOKEN. The counters map the traffic (routes, open
    sockets, pool use), so without a token configured the route does not exist on the public port."""
    expected = services.settings.metrics_token
    if expected is None:
        raise NotFound()
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected.encode()):
        raise Unauthorized("Metrics need 'Authorization: Bearer <METRICS_TOKEN>'",
                           headers={"WWW-Authenticate": "Bearer"})
    in_use, size = services.db.pool_stats()
    services.metrics.pool_in_use.set(in_use)
    services.metrics.pool_size.set(size)
    with contextlib.suppress(DatabaseUnavailable):  # the other metrics still answer during an outage
        async with services.db.transaction(SERVICE) as conn:
            counts = await jobs.status_counts(conn)
        for status, count in counts.items():
            services.metrics.jobs.labels(status).set(count)
    body = await asyncio.to_thread(services.metrics.render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


ROUTES = [healthz, readyz, metrics]
