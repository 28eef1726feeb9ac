"""RFC 9457 problem details for every failure, each with a stable `code`; never a stack trace.

Every code and status comes from the registry in `channels.codes`.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from channels import codes
from channels.codes import ErrorCode
from hub.errors import ApiError, RateLimited, TokenRevoked
from persistence.db import TOKEN_REVOKED_SQLSTATE, DatabaseUnavailable, budget_retry_after

log = logging.getLogger("hub.errors")

PROBLEM_JSON = "application/problem+json"

# The generic code of each status Litestar's own `HTTPException`s carry.
_CODE_BY_STATUS: dict[int, ErrorCode] = {
    entry.status: entry
    for entry in (codes.BAD_REQUEST, codes.UNAUTHORIZED, codes.FORBIDDEN, codes.NOT_FOUND, codes.METHOD_NOT_ALLOWED,
                  codes.NOT_ACCEPTABLE, codes.CONFLICT, codes.PAYLOAD_TOO_LARGE, codes.UNSUPPORTED_MEDIA_TYPE,
                  codes.VALIDATION_FAILED, codes.RATE_LIMITED, codes.NOT_READY)
    if entry.status is not None
}


def problem(entry: ErrorCode, detail: str, *, status: int | None = None, title: str | None = None,
            extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Response[dict[str, Any]]:
    """The problem document of `entry`; `status` and `title` default to the entry's."""
    status = status if status is not None else entry.status
    title = title if title is not None else entry.title
    if status is None or title is None:
        raise ValueError(f"{entry.code!r} is not a REST error code")
    body: dict[str, Any] = {
        "type": f"https://hub.example/problems/{entry.code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": entry.code,
    }
    if extra:
        body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def handle_api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    return problem(exc.entry, exc.detail, extra=exc.extra, headers=exc.headers)


def handle_validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors: dict[str, str] = {}
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                errors[str(item.get("key") or item.get("source") or "body")] = str(item.get("message"))
    detail = "; ".join(f"{k}: {v}" for k, v in errors.items()) or "Invalid request"
    return problem(codes.VALIDATION_FAILED, detail, extra={"errors": errors})


def handle_http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status >= 500:
        log.error("http error %s: %s", status, exc.detail)
        return problem(codes.INTERNAL, "The server could not complete the request", status=status)
    entry = _CODE_BY_STATUS.get(status, codes.BAD_REQUEST)
    # Litestar's own errors have always been titled after their code ("Unauthorized", where a route's
    # `Unauthorized` says "Authentication required"); the documents are on the wire, so the title stays.
    return problem(entry, str(exc.detail), status=status, title=entry.code.replace("_", " ").capitalize(),
                   headers=dict(exc.headers) if exc.headers else None)


def handle_unavailable(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.warning("database unavailable: %s", type(exc).__name__)
    return problem(codes.NOT_READY, "The database is unavailable; retry shortly",
                   headers={"Retry-After": "1"})


def handle_data_error(_: Request[Any, Any, Any], exc: asyncpg.DataError) -> Response[dict[str, Any]]:
    # Input PostgreSQL cannot hold (a NUL character, a number out of range) that got past the request
    # structs: the transaction has rolled back, and it is the caller's input, so 422 rather than 500.
    log.info("data rejected by the database: %s", exc.sqlstate)
    return problem(codes.VALIDATION_FAILED, "A value cannot be stored (for example a NUL "
                   "character or an out-of-range number)", extra={"errors": {"body": "value cannot be stored"}})


def handle_check_violation(_: Request[Any, Any, Any], exc: asyncpg.CheckViolationError) -> Response[dict[str, Any]]:
    # The schema's own bound on a value (a length, a list's size: migration 0016) that the request structs
    # let through: the caller's input, as the structs would have answered it.
    log.info("check constraint refused a write: %s", getattr(exc, "constraint_name", ""))
    return problem(codes.VALIDATION_FAILED, "A value is outside the stored limits",
                   extra={"errors": {"body": "value outside the stored limits"}})


def handle_conflict(_: Request[Any, Any, Any],
                    exc: asyncpg.IntegrityConstraintViolationError) -> Response[dict[str, Any]]:
    # A constraint the route did not turn into its own code (a race two requests lost together): the
    # transaction rolled back, nothing was written.
    log.info("constraint refused a write: %s %s", exc.sqlstate, getattr(exc, "constraint_name", ""))
    return problem(codes.CONFLICT, "The change conflicts with the current state; nothing was written")


def handle_retryable(_: Request[Any, Any, Any], exc: asyncpg.TransactionRollbackError) -> Response[dict[str, Any]]:
    log.info("transaction rolled back by the database: %s", exc.sqlstate)
    return problem(codes.NOT_READY, "The database aborted the transaction; retry",
                   headers={"Retry-After": "1"})


def handle_database_error(request: Request[Any, Any, Any], exc: asyncpg.PostgresError) -> Response[dict[str, Any]]:
    # The schema's token guard and creation budget (backstops behind the REST checks, which refuse first)
    # answer as those do; any other database error is unexpected.
    if exc.sqlstate == TOKEN_REVOKED_SQLSTATE:
        # revoked after the request's own check, before its write
        return handle_api_error(request, TokenRevoked())
    wait = budget_retry_after(exc)
    if wait is None:
        return handle_unexpected(request, exc)
    log.info("creation budget refused a write in the database")
    return handle_api_error(request, RateLimited(wait))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # The trace goes to the log (without request bodies or headers); the client gets a code only.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(codes.INTERNAL, "The server could not complete the request")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: handle_api_error,
    ValidationException: handle_validation,
    HTTPException: handle_http,
    DatabaseUnavailable: handle_unavailable,
    asyncpg.PostgresConnectionError: handle_unavailable,
    asyncpg.exceptions.QueryCanceledError: handle_unavailable,
    ConnectionError: handle_unavailable,
    asyncpg.DataError: handle_data_error,
    asyncpg.CheckViolationError: handle_check_violation,
    asyncpg.IntegrityConstraintViolationError: handle_conflict,
    asyncpg.TransactionRollbackError: handle_retryable,
    asyncpg.PostgresError: handle_database_error,
    Exception: handle_unexpected,
}
