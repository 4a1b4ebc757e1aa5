"""The SQLite file under a store: created only when asked to, watched for removal.

SQLite keeps writing to a file whose directory was deleted (the open file
lives on, unlinked), so a server would go on acknowledging writes that no
restart will ever find. `DatabaseFile` notices: it holds a descriptor on the
file the store opened and, after every commit and before anyone is answered,
checks that the file is still linked into the file system (deleted, its
directory deleted, or replaced by a rename, it is not). `fstat` on the
descriptor costs about a microsecond; a path lookup costs ten. And a
restarted server does not quietly start over on an empty database where one
used to be: a new file is made only when the operator asks for it.
"""

from __future__ import annotations

import os
from pathlib import Path

from hyperdial.server.errors import StartupError, Unavailable


class DatabaseFile:
    """The database file at `path`; `create` allows making a new one there."""

    def __init__(self, path: str, *, create: bool) -> None:
        self.path = Path(path).expanduser().resolve()
        self._descriptor: int | None = None
        self._lost = ""
        if _holds_data(self.path):
            return
        if not create:
            raise StartupError(
                f"there is no database at {self.path}; pass --create-database "
                "(HYPERDIAL_CREATE_DATABASE=true) to create a new one there"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StartupError(f"cannot create {self.path.parent}: {error.strerror}") from None

    def pin(self) -> None:
        """Holds on to the file now at the path (after the store opened it) to watch it."""
        self._descriptor = os.open(self.path, os.O_RDONLY)

    def check(self) -> None:
        """Raises Unavailable if the store's file is no longer linked at any path.

        Once lost, always lost: the store's connection writes to a file nobody
        will read again, whatever appears at the path later.
        """
        if self._lost:
            raise Unavailable(self._lost)
        assert self._descriptor is not None, "pin() first"
        if os.fstat(self._descriptor).st_nlink == 0:
            self._lost = (
                f"the database file {self.path} was removed or replaced while the server "
                "ran; it refuses writes until restarted on a database it can keep"
            )
            raise Unavailable(self._lost)

    def close(self) -> None:
        """Lets go of the file."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None


def _holds_data(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False
    except OSError as error:
        raise StartupError(f"cannot read the database file {path}: {error.strerror}") from None
