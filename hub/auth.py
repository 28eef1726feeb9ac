"""Who is calling: the bearer token becomes an `Identity` that every transaction runs as."""

from __future__ import annotations

import hmac
from typing import Any
from uuid import UUID

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler

from hub.errors import EmailUnverified, Forbidden, Unauthorized
from hub.rules.addresses import budget_subject
from hub.services import Services
from persistence.identity import ANON, SERVICE, Identity


def services_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Services:
    services: Services = connection.app.state.services
    return services


def client_address(request: Request[Any, Any, Any]) -> str:
    """The subject of the per-address budgets: the client's address as uvicorn resolved it (X-Forwarded-For
    when the peer is a trusted proxy, `FORWARDED_ALLOW_IPS`, else the peer itself), an IPv6 one as its /64."""
    return budget_subject(request.client.host if request.client else "unknown")


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    return token.strip()


# `caller` and `user` get `services` injected rather than reading it off the request, so Litestar resolves
# them after it, one at a time: a handler's independent async dependencies are resolved concurrently in an
# anyio task group, two tasks per request, ≈ 7 % of a feed request's CPU.
async def provide_caller(request: Request[Any, Any, Any], services: AppServices) -> Identity:
    """Anonymous without a token; a bad, expired or revoked token is a 401, never a silent downgrade to anon."""
    return await _caller(request, services)


async def _caller(connection: ASGIConnection[Any, Any, Any, Any], services: Services) -> Identity:
    token = bearer_token(connection)
    if token is None:
        return ANON
    identity = services.tokens.identity(token)
    await services.cutoffs.check(identity)
    return identity


async def provide_user(request: Request[Any, Any, Any], services: AppServices) -> Identity:
    return await _user(request, services)


async def _user(connection: ASGIConnection[Any, Any, Any, Any], services: Services) -> Identity:
    caller = await _caller(connection, services)
    if caller.user_id is None:
        raise Unauthorized()
    return caller


async def provide_services(request: Request[Any, Any, Any]) -> Services:
    return services_of(request)


async def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the admin routes: 401 without a valid token, 403 for a user who is not an admin. A guard runs
    before the request's body is read, so a non-admin learns nothing from how the body is checked."""
    require_admin(await _user(connection, services_of(connection)))


# Whose `Idempotency-Key`s the service key's requests are stored under: no account has the nil uuid.
SERVICE_KEY_OWNER = UUID(int=0)


async def admin_or_service_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the server-publish route: `HUB_SERVICE_KEY` as the bearer token acts as `service_role`;
    any other bearer must be an admin's token (401 when it is no valid token, 403 for a non-admin). Before
    the body is read, as `admin_only`. The caller it found is kept for the handler (`publisher_of`)."""
    services = services_of(connection)
    token = bearer_token(connection)
    key = services.settings.service_key
    # Constant time: the comparison's duration must not tell how much of a guessed key was right.
    if token is not None and key is not None and hmac.compare_digest(token.encode(), key.encode()):
        connection.state.publisher = SERVICE
        return
    identity = await _user(connection, services)
    require_admin(identity)
    connection.state.publisher = identity


def publisher_of(request: Request[Any, Any, Any]) -> Identity:
    """The caller `admin_or_service_key` let through: an admin, or `SERVICE` for the service key."""
    identity: Identity = request.state.publisher
    return identity


def require_admin(identity: Identity) -> None:
    if not identity.is_admin:
        raise Forbidden("Admins only")


def require_host(identity: Identity) -> None:
    if not identity.is_host:
        raise Forbidden("Hosts and admins only")


def require_verified(services: Services, identity: Identity) -> None:
    """403 `email_unverified` for a write (post, comment, vote, registration, report) by an account whose
    token says its email is not verified, while `REQUIRE_EMAIL_VERIFICATION` is on. Read from the token, not
    the database: verifying answers a fresh pair, and a token issued before stays refused until refreshed."""
    if services.settings.require_email_verification and not identity.email_verified:
        raise EmailUnverified()


DEPENDENCIES = {
    "caller": Provide(provide_caller),
    "user": Provide(provide_user),
    "services": Provide(provide_services),
}

# Handler parameter types: Litestar injects by parameter name (`user`, `caller`, `services`).
Caller = NamedDependency[Identity]
AppServices = NamedDependency[Services]
