"""Whether a failure means the database cannot be reached now (worth a retry), as opposed to a
fault in the request or the code."""

from __future__ import annotations

import sqlite3

from asyncpg.exceptions import ConnectionDoesNotExistError
from sqlalchemy import exc

# SQLSTATE classes: 08 connection exception, 53 insufficient resources (too many connections,
# disk full), 57P operator intervention (shutdown, starting up), 40001/40P01 are not outages.
_UNAVAILABLE_STATES = ("08", "53", "57P")
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file", "disk i/o error")


def is_unavailable(error: BaseException) -> bool:
    """True for one exception of a chain (the caller walks `__cause__`)."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, exc.TimeoutError | OSError):  # the pool's wait, a refused or cut connection
        return True
    if isinstance(error, ConnectionDoesNotExistError):  # cut while a query ran
        return True
    state = getattr(error, "sqlstate", None)
    if isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES):
        return True
    if isinstance(error, sqlite3.OperationalError):
        return str(error).lower().startswith(_SQLITE_UNAVAILABLE)
    return False
