"""The application factory. No global state: everything hangs off the `Services` of one app."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.enums import ScopeType
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.types import Receive, Scope, Send

from hub import budgets, retention
from hub.api import (
    account_data,
    account_links,
    accounts,
    admin,
    asyncapi,
    billing,
    comments,
    health,
    leaderboard,
    lessons,
    plans,
    posts,
    profiles,
    progress,
    realtime,
    registrations,
    room_moderation,
    search,
    server_events,
    session_messages,
    sessions,
    votes,
)
from hub.api import blocks as user_blocks
from hub.api import channels as channel_history
from hub.api import notifications as inbox
from hub.api import reports as content_reports
from hub.auth import DEPENDENCIES
from hub.billing import stripe_gateway
from hub.bodies import HubRequest
from hub.domain import account_links as account_link_jobs
from hub.domain import reminders
from hub.jobs.runner import start_jobs
from hub.live_room import start_live_room
from hub.mail import digest as notification_digest
from hub.mail import outgoing as outgoing_mail
from hub.metrics import metrics_middleware
from hub.problems import EXCEPTION_HANDLERS
from hub.realtime import websocket as ws
from hub.realtime.instance import Realtime, start_realtime
from hub.realtime.sse import RAW_SEND, SSE_PATH
from hub.security_headers import refuse_websocket_upgrade, security_headers
from hub.services import Services, build_services
from hub.settings import Settings
from hub.views_counter import start_views_counter
from persistence import hub_settings
from persistence.identity import SERVICE

log = logging.getLogger("hub")

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

def schema_settings(settings: Settings) -> hub_settings.SchemaSettings:
    """What the schema applies to plain-SQL writers: the same numbers as the REST checks and budgets."""
    return hub_settings.SchemaSettings(
        free_tier_level=settings.free_tier_level,
        posts_per_hour=settings.scaled(budgets.POSTS.size(settings)),
        comments_per_hour=settings.scaled(budgets.COMMENTS.size(settings)),
        votes_per_minute=settings.scaled(budgets.VOTES.size(settings)),
        max_reply_depth=settings.max_reply_depth,
    )


# Other layers register a starter here: called with the Services at start-up, it returns a stopper.
Starter = Callable[[Services], Awaitable[Callable[[], Awaitable[None]]]]


ROUTE_MODULES: list[Any] = [
    accounts, profiles, health, posts, comments, votes, sessions, registrations, session_messages,
    lessons, progress, leaderboard, plans, billing, channel_history, ws,
    room_moderation, content_reports, user_blocks, admin,
    account_links, account_data,
    inbox,
    server_events, asyncapi,
    search,
    realtime,
]
# In order: the live room extends the realtime edge it finds started (`Services.started`).
STARTERS: tuple[Starter, ...] = (start_views_counter, stripe_gateway.start, start_realtime, start_live_room,
                                 start_jobs, retention.start_pruning)
# The modules that define job handlers (`@hub.jobs.registry.register`): imported here so every kind is
# registered before the runner (`start_jobs`) claims a job.
JOB_MODULES: tuple[ModuleType, ...] = (outgoing_mail, retention, reminders, notification_digest, account_link_jobs)


class HubApp(Litestar):
    """Litestar, with `/ws` served by the realtime edge itself, a websocket upgrade to any other path answered
    with the security headers, and the server's own `send` in the scope of a request to `/sse`
    (`hub.realtime.sse`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        if scope["type"] == ScopeType.WEBSOCKET:
            if scope["path"] == ws.WS_PATH:
                # Past Litestar's routing: none of its per-connection state stays with every open websocket.
                await ws.serve(scope, receive, send, self.state.services.started.get(Realtime))
                return
            if "websocket.http.response" in (scope.get("extensions") or {}):
                await refuse_websocket_upgrade(send)
                return
        if scope["type"] == ScopeType.HTTP and scope["path"] == SSE_PATH:
            scope[RAW_SEND] = send  # type: ignore[literal-required]  # the stream's body bypasses the hooks
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, database_dsn: str, *, clock: Callable[[], float] | None = None) -> Litestar:
    """The app for one instance; `database_dsn` is the pool's (non-owner) connection string.
    `clock` (wall-clock seconds, default `time.time`) is injected so tests can move time."""
    services = build_services(settings, database_dsn)
    if clock is not None:
        services.clock = clock

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await services.db.open()
        async with services.db.transaction(SERVICE) as conn:
            await hub_settings.store(conn, schema_settings(settings))
        stoppers: list[Callable[[], Awaitable[None]]] = []
        try:
            for start in STARTERS:
                stoppers.append(await start(services))
            if settings.redis_url is None:
                log.info("no REDIS_URL: in-process broker and presence (one instance only)")
            yield
        finally:
            for stop in reversed(stoppers):
                await stop()
            if services.redis is not None:
                await services.redis.aclose()
            services.signup_hashes.close()
            services.login_checks.close()
            await services.db.close()

    handlers: list[Any] = []
    for module in ROUTE_MODULES:
        handlers.extend(module.ROUTES)
    if STATIC_DIR.is_dir():
        handlers.append(create_static_files_router(path="/", directories=[STATIC_DIR], html_mode=True,
                                                   include_in_schema=False))

    app = HubApp(
        route_handlers=handlers,
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[metrics_middleware(services.metrics)],
        before_send=[security_headers(STATIC_DIR / "index.html")],
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="hub",
            version="1.0.0",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
            components=Components(security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
            }),
            security=[{"bearer": []}],
        ),
        cors_config=CORSConfig(allow_origins=[settings.public_url]),
        request_max_body_size=1_048_576,
        request_class=HubRequest,
        logging_config=None,
        debug=False,
    )
    app.state.services = services
    return app
