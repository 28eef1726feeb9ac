"""Job handlers by kind: `HANDLERS`, filled by `@register(kind)` where each handler is defined.

A handler is `async def handle(services, payload) -> None`; raising makes the attempt fail, and the runner
retries it with exponential backoff (JOB_RETRY_BASE, doubling, at most an hour) until JOB_MAX_ATTEMPTS runs,
then leaves the job `failed` for inspection.

Delivery is at least once: the runner marks a job done in its own transaction right after the handler
returns, so a crash (or a lease lost to a database outage longer than JOB_LEASE) between the handler's
effect and that commit runs the handler again. Handlers must therefore be idempotent: database work
either commits in one transaction keyed so a repeat is a no-op (queue follow-up jobs with a `key`), or
checks whether its effect already happened. `mail.send` (hub/mail/outgoing.py) is the one effect that
cannot be checked; its window is the SMTP server's 250 reply to the done-mark's commit.

Import graph: this module imports only `hub.services`. A module defining handlers imports this one and
decorates; the app factory (`hub.app.JOB_MODULES`) imports every such module so that the registration runs
before the runner starts. Adding a kind = `@register("x.y")` in its module + that module in JOB_MODULES.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hub.services import Services

JobHandler = Callable[[Services, dict[str, Any]], Awaitable[None]]

HANDLERS: dict[str, JobHandler] = {}


def register(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Decorator: `handler` runs the jobs of `kind`. One handler per kind; a second is a programming error."""

    def add(handler: JobHandler) -> JobHandler:
        if kind in HANDLERS and HANDLERS[kind] is not handler:
            raise ValueError(f"job kind {kind!r} already has a handler")
        HANDLERS[kind] = handler
        return handler

    return add
