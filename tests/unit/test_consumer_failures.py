"""Which failures retry forever and which dead-letter after MAX_ATTEMPTS ("a crash loses nothing")."""

import asyncpg
import pytest

from runtime.consumer import TRANSIENT


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.TooManyConnectionsError("too many clients"),
        asyncpg.SerializationError("could not serialize access"),
        asyncpg.DeadlockDetectedError("deadlock detected"),
        asyncpg.InternalClientError("cannot switch to state 11; another operation (2) is in progress"),
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
    ],
)
def test_a_database_or_network_outage_is_transient(exc):
    assert isinstance(exc, TRANSIENT)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.CheckViolationError("check constraint"),
        LookupError("unknown token"),
        ValueError("bad"),
    ],
)
def test_a_failure_caused_by_the_message_is_not_transient(exc):
    assert not isinstance(exc, TRANSIENT)
