"""Domain errors; `rpc.errors` maps each class to one gRPC status code."""

from __future__ import annotations

# What an error may echo of a caller's input: enough to recognize it, never a flood.
SHOWN_CHARACTERS = 64


def shown(value: object, *, quote: bool = True) -> str:
    """`value` for an error message: repr'd (or not) and cut to SHOWN_CHARACTERS."""
    text = repr(value) if quote else str(value)
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}… ({len(text)} characters)"


class HyperdialError(Exception):
    """Base of every error the server reports to a caller on purpose."""


class InvalidArgument(HyperdialError):
    """A request field is malformed; `field` is its path in the request."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[type[InvalidArgument], tuple[str, str]]:
        # Raised in a compute worker process, it crosses back pickled; rebuilt from
        # the message alone it would fail to unpickle and break the whole pool.
        return InvalidArgument, (self.field, self.reason)

    def within(self, prefix: str) -> InvalidArgument:
        """Returns the same error with `prefix.` in front of the field path."""
        return InvalidArgument(f"{prefix}.{self.field}", self.reason)


class NotFound(HyperdialError):
    """A study or trial does not exist."""


class AlreadyExists(HyperdialError):
    """A study of that name exists with another configuration."""


class FailedPrecondition(HyperdialError):
    """The request is valid but the state does not allow it (e.g. a finished trial)."""


class ResourceExhausted(HyperdialError):
    """A configured limit is reached (e.g. the number of studies)."""


class Conflict(HyperdialError):
    """A concurrent writer won a race; retrying the request is safe."""


class Unavailable(HyperdialError):
    """The database cannot be reached or written; retrying later is safe."""


class StartupError(Exception):
    """The server cannot start as configured; the message says why in one line.

    Not a `HyperdialError`: no caller ever sees it, the operator does.
    """
