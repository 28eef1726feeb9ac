"""RFC 9457 problem details for every failure, each with a stable `code`; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from hub.errors import ApiError, RateLimited
from persistence.db import DatabaseUnavailable, budget_retry_after

log = logging.getLogger("hub.errors")

PROBLEM_JSON = "application/problem+json"

_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "not_ready",
}


def problem(status: int, code: str, title: str, detail: str, *, extra: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"https://hub.example/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if extra:
        body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def handle_api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    return problem(exc.status, exc.code, exc.title, exc.detail, extra=exc.extra, headers=exc.headers)


def handle_validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors: dict[str, str] = {}
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                errors[str(item.get("key") or item.get("source") or "body")] = str(item.get("message"))
    detail = "; ".join(f"{k}: {v}" for k, v in errors.items()) or "Invalid request"
    return problem(422, "validation_failed", "Validation failed", detail, extra={"errors": errors})


def handle_http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status >= 500:
        log.error("http error %s: %s", status, exc.detail)
        return problem(status, "internal", "Internal error", "The server could not complete the request")
    code = _CODE_BY_STATUS.get(status, "bad_request")
    return problem(status, code, code.replace("_", " ").capitalize(), str(exc.detail),
                   headers=dict(exc.headers) if exc.headers else None)


def handle_unavailable(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.warning("database unavailable: %s", type(exc).__name__)
    return problem(503, "not_ready", "Service not ready", "The database is unavailable; retry shortly",
                   headers={"Retry-After": "1"})


def handle_data_error(_: Request[Any, Any, Any], exc: asyncpg.DataError) -> Response[dict[str, Any]]:
    # Input PostgreSQL cannot hold (a NUL character, a number out of range) that got past the request
    # structs: the transaction has rolled back, and it is the caller's input, so 422 rather than 500.
    log.info("data rejected by the database: %s", exc.sqlstate)
    return problem(422, "validation_failed", "Validation failed", "A value cannot be stored (for example a NUL "
                   "character or an out-of-range number)", extra={"errors": {"body": "value cannot be stored"}})


def handle_check_violation(_: Request[Any, Any, Any], exc: asyncpg.CheckViolationError) -> Response[dict[str, Any]]:
    # The schema's own bound on a value (a length, a list's size: migration 0016) that the request structs
    # let through: the caller's input, as the structs would have answered it.
    log.info("check constraint refused a write: %s", getattr(exc, "constraint_name", ""))
    return problem(422, "validation_failed", "Validation failed", "A value is outside the stored limits",
                   extra={"errors": {"body": "value outside the stored limits"}})


def handle_conflict(_: Request[Any, Any, Any],
                    exc: asyncpg.IntegrityConstraintViolationError) -> Response[dict[str, Any]]:
    # A constraint the route did not turn into its own code (a race two requests lost together): the
    # transaction rolled back, nothing was written.
    log.info("constraint refused a write: %s %s", exc.sqlstate, getattr(exc, "constraint_name", ""))
    return problem(409, "conflict", "Conflict", "The change conflicts with the current state; nothing was written")


def handle_retryable(_: Request[Any, Any, Any], exc: asyncpg.TransactionRollbackError) -> Response[dict[str, Any]]:
    log.info("transaction rolled back by the database: %s", exc.sqlstate)
    return problem(503, "not_ready", "Service not ready", "The database aborted the transaction; retry",
                   headers={"Retry-After": "1"})


def handle_database_error(request: Request[Any, Any, Any], exc: asyncpg.PostgresError) -> Response[dict[str, Any]]:
    # The schema's creation budget (a backstop behind the REST budgets, which refuse first) answers as
    # they do; any other database error is unexpected.
    wait = budget_retry_after(exc)
    if wait is None:
        return handle_unexpected(request, exc)
    log.info("creation budget refused a write in the database")
    return handle_api_error(request, RateLimited(wait))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # The trace goes to the log (without request bodies or headers); the client gets a code only.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "internal", "Internal error", "The server could not complete the request")


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
