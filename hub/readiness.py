"""What `/readyz` checks: each part that must work for the instance to take traffic."""

from __future__ import annotations

import asyncio

from hub.services import Services
from persistence.identity import SERVICE
from persistence.migrate import migrations_current


async def readiness_problems(services: Services) -> dict[str, str]:
    """Failing part → reason; empty when ready. Other layers add checks to `services.readiness`."""
    problems: dict[str, str] = {}
    if not await services.db.ping():
        problems["database"] = "unreachable"
    else:
        try:
            async with asyncio.timeout(2), services.db.transaction(SERVICE) as conn:
                if not await migrations_current(conn):
                    problems["migrations"] = "pending"
        except Exception as exc:  # any failure here means not ready; the reason is reported, not raised
            problems["migrations"] = type(exc).__name__
    if services.redis is not None:
        try:
            async with asyncio.timeout(2):
                await services.redis.ping()
        except Exception as exc:
            problems["redis"] = type(exc).__name__ or "unreachable"
    for name, check in services.readiness:
        reason = await check()
        if reason:
            problems[name] = reason
    return problems
