"""Bearer tokens: the accepted set, read from a file, checked in constant time.

The gRPC interceptor and the /metrics endpoint check the same way, so a
token file means the same thing to both.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from hyperdial.server.errors import StartupError


class Tokens:
    """The accepted bearer tokens.

    Every known token is compared in constant time, whatever the outcome, so
    response times say nothing about how much of a guess was right.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        if not tokens:
            raise ValueError("bearer-token auth needs at least one token")
        self._tokens = [token.encode() for token in tokens]

    def accepts(self, authorization: str | bytes) -> bool:
        """Whether an `authorization` header value is `Bearer <one of the tokens>`."""
        text = (
            authorization.decode(errors="replace")
            if isinstance(authorization, bytes)
            else authorization
        )
        scheme, _, token = text.partition(" ")
        candidate = token.strip().encode()
        matched = False
        for known in self._tokens:
            matched |= hmac.compare_digest(candidate, known)
        return matched and scheme.lower() == "bearer"


def load_tokens(path: str) -> Tokens:
    """Tokens from a file: one per line; blank lines and `#` comments (indented too) skipped.

    Raises:
        StartupError: the file cannot be read or holds no token.
    """
    try:
        with open(path, encoding="utf-8") as file:
            lines = [line.strip() for line in file]
    except (OSError, UnicodeDecodeError) as error:
        raise StartupError(f"cannot read the token file {path}: {error}") from None
    tokens = [line for line in lines if line and not line.startswith("#")]
    if not tokens:
        raise StartupError(f"the token file {path} holds no token")
    return Tokens(tokens)
