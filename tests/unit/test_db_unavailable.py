"""Which database failures mean "retry later" (503 with Retry-After) rather than a server error (500)."""

from __future__ import annotations

import asyncpg
import pytest

from persistence.db import is_unavailable


def _server_error(sqlstate: str, message: str = "m") -> asyncpg.PostgresError:
    """The exception asyncpg raises for an ErrorResponse with this SQLSTATE."""
    error: asyncpg.PostgresError = asyncpg.PostgresError.new({"C": sqlstate, "M": message, "S": "FATAL"})
    return error


@pytest.mark.parametrize(("sqlstate", "raised_as"), [
    ("57P01", asyncpg.AdminShutdownError),  # terminating connection due to administrator command / shutdown
    ("57P02", asyncpg.CrashShutdownError),  # terminating connection because of crash of another server process
    ("57P03", asyncpg.CannotConnectNowError),  # the database system is starting up / shutting down / in recovery
    ("53300", asyncpg.TooManyConnectionsError),  # sorry, too many clients already
    ("08000", asyncpg.PostgresConnectionError),
    ("08001", asyncpg.ClientCannotConnectError),
    ("08003", asyncpg.ConnectionDoesNotExistError),  # connection was closed in the middle of operation
    ("08006", asyncpg.ConnectionFailureError),
    ("08007", asyncpg.TransactionResolutionUnknownError),
    ("08P01", asyncpg.ProtocolViolationError),
    ("08X99", asyncpg.exceptions.UnknownPostgresError),  # any other connection exception, by its class
])
def test_shutdown_startup_and_connection_sqlstates_are_retry_later(sqlstate: str, raised_as: type) -> None:
    error = _server_error(sqlstate)
    assert isinstance(error, raised_as)
    assert is_unavailable(error)


@pytest.mark.parametrize("sqlstate", [
    "57014",  # query_canceled (statement timeout): answered 503 by its own handler, not a lost connection
    "57P04",  # database_dropped: retrying will not help
    "57P99",
    "53100",  # disk_full
    "23505",  # unique_violation
    "40001",  # serialization_failure: answered by its own handler
    "42P01",  # undefined_table: a bug
    "22P02",
    "XX000",
])
def test_other_server_errors_are_not(sqlstate: str) -> None:
    assert not is_unavailable(_server_error(sqlstate))


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
    OSError(113, "No route to host"),
    TimeoutError(),  # acquire or connect timed out
    asyncpg.InterfaceError("cannot perform operation: connection is closed"),
])
def test_refused_reset_timed_out_and_closed_connections_are_retry_later(error: Exception) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize("error", [
    asyncpg.InterfaceError("pool is closing"),
    asyncpg.InterfaceError("cannot call Connection.fetch(): connection has been released back to the pool"),
    RuntimeError("a bug"),
    ValueError("bad input"),
])
def test_misuse_and_bugs_are_not(error: Exception) -> None:
    assert not is_unavailable(error)
