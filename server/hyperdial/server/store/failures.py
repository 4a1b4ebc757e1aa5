"""What a database error means to a caller: retry now (ABORTED) or retry later (UNAVAILABLE).

Errors reach the store two ways: through SQLAlchemy (wrapped in
`SQLAlchemyError`) and straight from the driver, for the hot-path statements
run on the DBAPI cursor. Both are classified here, so no database error ever
leaves the store as an unexpected exception (which the API would answer
INTERNAL, and which clients do not retry).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from hyperdial.server.errors import Conflict, Unavailable

log = logging.getLogger(__name__)

# PostgreSQL: serialization failure, deadlock detected. Both mean "try again".
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
# PostgreSQL ended the session: administrator command, crash, starting up; class 08 is
# "connection exception". The driver does not always mark its connection broken for these.
SESSION_ENDED_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def is_database_error(error: BaseException, dbapi: Any) -> bool:
    """Whether `error` came from the database (SQLAlchemy's or the driver's `dbapi`)."""
    return isinstance(error, (SQLAlchemyError, dbapi.Error))


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a PostgreSQL error, wrapped or raw; None for other errors."""
    original = getattr(error, "orig", None) or error
    state = getattr(original, "sqlstate", None)
    return state if isinstance(state, str) else None


def session_ended(error: BaseException) -> bool:
    """Whether PostgreSQL said, in `error`, that it ended (or lost) the session."""
    state = sqlstate(error)
    return state is not None and (state in SESSION_ENDED_SQLSTATES or state.startswith("08"))


def classify(error: BaseException, doing: str) -> Conflict | Unavailable:
    """The domain error for a database `error` raised while `doing` something.

    Lost races (deadlocks, serialization failures) are Conflict: the client
    retries at once. Everything else (connection lost, disk full, read-only
    database, statement timeout) is Unavailable: retry later.
    """
    if sqlstate(error) in RETRYABLE_SQLSTATES:
        log.warning("%s lost a race with another writer; retryable: %s", doing, first_line(error))
        return Conflict("a concurrent writer won; retry the request")
    log.error("%s failed: %s", doing, first_line(error))
    return Unavailable(f"the database failed ({type(_original(error)).__name__}); retry later")


def _original(error: BaseException) -> BaseException:
    original = getattr(error, "orig", None)
    return original if isinstance(original, BaseException) else error


def first_line(error: BaseException) -> str:
    """The first line of a database error's own message (the driver's, when wrapped)."""
    text = str(_original(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__
