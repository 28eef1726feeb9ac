"""Everything an app instance owns at run time, built from `Settings` and closed at shutdown."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from hub.metrics import Metrics
from hub.passwords import HashPool
from hub.ratelimit import MemoryLimiter, RedisLimiter, WindowLimiter
from hub.revocation import TokenCutoffs
from hub.settings import Settings
from hub.tokens import TokenService
from persistence.db import Database

T = TypeVar("T")
# A readiness check: None when the part is ready, else the reason `/readyz` reports.
ReadinessCheck = Callable[[], Awaitable[str | None]]


class StartedParts:
    """The parts the starters (`hub.app.STARTERS`) built, one per class and found by their class, so this
    module needs none of the layers that build them and every reader gets its part's own type."""

    def __init__(self) -> None:
        self._parts: dict[type, object] = {}

    def add(self, part: object) -> None:
        self._parts[type(part)] = part

    def remove(self, kind: type) -> None:
        self._parts.pop(kind, None)

    def find(self, kind: type[T]) -> T | None:
        part = self._parts.get(kind)
        return part if isinstance(part, kind) else None

    def get(self, kind: type[T]) -> T:
        part = self.find(kind)
        if part is None:
            raise LookupError(f"{kind.__name__} is not started")
        return part


class Readiness:
    """What `/readyz` checks beyond the database and Redis (`hub.readiness`): each layer adds its own."""

    def __init__(self) -> None:
        self._checks: dict[str, ReadinessCheck] = {}
        # Relay mode: this instance's part in it ("relaying" or "standby"), which a ready `/readyz` shows.
        self.relay_state: Callable[[], str] | None = None

    def add(self, part: str, check: ReadinessCheck) -> None:
        """`part` names the failing part in `/readyz`'s answer."""
        self._checks[part] = check

    def __iter__(self) -> Iterator[tuple[str, ReadinessCheck]]:
        return iter(list(self._checks.items()))


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
    cutoffs: TokenCutoffs  # revoked tokens (`hub.revocation`), checked on every authenticated request
    redis: aioredis.Redis | None = None
    # The same client when REDIS_URL names a Redis Cluster node (REDIS_CLUSTER=1), for sharded pub/sub.
    redis_cluster: RedisCluster | None = None
    clock: Callable[[], float] = time.time
    started: StartedParts = field(default_factory=StartedParts)
    readiness: Readiness = field(default_factory=Readiness)
    # Whether `pg_trgm` is installed (search's typo fallback): detected on the first search, then kept.
    search_typos: bool | None = None


def namespace_for(settings: Settings, database_dsn: str) -> str:
    if settings.namespace:
        return settings.namespace
    from urllib.parse import urlsplit

    name = urlsplit(database_dsn).path.lstrip("/") or "hub"
    return f"hub:{name}"


def build_services(settings: Settings, database_dsn: str) -> Services:
    namespace = namespace_for(settings, database_dsn)
    cluster: RedisCluster | None = None
    redis_client: aioredis.Redis | None = None
    if settings.redis_url and settings.redis_cluster:
        cluster = RedisCluster.from_url(settings.redis_url)
        # The key commands the hub sends (single keys, scripts, non-transactional pipelines) are the same on a
        # cluster client. Its scripts and MGETs touch several keys at once, so every key shares one hash slot
        # (the braced namespace); the pub/sub traffic, the part that grows with load, is sharded by channel.
        redis_client = cast(aioredis.Redis, cluster)
        namespace = "{" + namespace.replace("{", "").replace("}", "") + "}"
    elif settings.redis_url:
        redis_client = aioredis.from_url(settings.redis_url)
    db = Database(database_dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                  statement_timeout_ms=settings.db_statement_timeout_ms,
                  acquire_timeout_s=settings.db_acquire_timeout_s)
    return Services(
        settings=settings,
        db=db,
        tokens=TokenService(settings.secret_or_generated(), settings.jwt_issuer, settings.access_token_ttl_s),
        metrics=Metrics(),
        limiter=RedisLimiter(redis_client, namespace) if redis_client else MemoryLimiter(),
        signup_hashes=HashPool("signup", settings.password_hash_threads, settings.password_hash_queue),
        login_checks=HashPool("login", settings.password_hash_threads, settings.password_hash_queue),
        namespace=namespace,
        cutoffs=TokenCutoffs(db),
        redis=redis_client,
        redis_cluster=cluster,
    )
