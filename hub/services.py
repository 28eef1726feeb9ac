"""Everything an app instance owns at run time, built from `Settings` and closed at shutdown."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from hub.metrics import Metrics
from hub.passwords import HashPool
from hub.ratelimit import MemoryLimiter, RedisLimiter, WindowLimiter
from hub.settings import Settings
from hub.tokens import TokenService
from persistence.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    tokens: TokenService
    metrics: Metrics
    limiter: WindowLimiter
    signup_hashes: HashPool  # separate pools: a signup flood never delays a login's check
    login_checks: HashPool
    namespace: str
    redis: aioredis.Redis | None = None
    clock: Callable[[], float] = time.time
    # Filled by the realtime and domain layers as they start; keyed by name to keep this module free of them.
    extras: dict[str, Any] = field(default_factory=dict)


def namespace_for(settings: Settings, database_dsn: str) -> str:
    if settings.namespace:
        return settings.namespace
    from urllib.parse import urlsplit

    name = urlsplit(database_dsn).path.lstrip("/") or "hub"
    return f"hub:{name}"


def build_services(settings: Settings, database_dsn: str) -> Services:
    redis_client = aioredis.from_url(settings.redis_url) if settings.redis_url else None
    namespace = namespace_for(settings, database_dsn)
    return Services(
        settings=settings,
        db=Database(database_dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                    statement_timeout_ms=settings.db_statement_timeout_ms,
                    acquire_timeout_s=settings.db_acquire_timeout_s),
        tokens=TokenService(settings.secret_or_generated(), settings.jwt_issuer, settings.access_token_ttl_s),
        metrics=Metrics(),
        limiter=RedisLimiter(redis_client, namespace) if redis_client else MemoryLimiter(),
        signup_hashes=HashPool("signup", settings.password_hash_threads, settings.password_hash_queue),
        login_checks=HashPool("login", settings.password_hash_threads, settings.password_hash_queue),
        namespace=namespace,
        redis=redis_client,
    )
