"""The watched SQLite file: created only when asked, lost once unlinked or replaced."""

import os
from pathlib import Path

import pytest

from hyperdial.server.errors import StartupError, Unavailable
from hyperdial.server.store.sqlite_file import DatabaseFile


def _pinned(path: Path) -> DatabaseFile:
    path.write_bytes(b"data")
    watched = DatabaseFile(str(path), create=False)
    watched.pin()
    return watched


def test_a_missing_file_needs_create(tmp_path: Path) -> None:
    path = tmp_path / "new" / "h.db"
    with pytest.raises(StartupError, match="--create-database"):
        DatabaseFile(str(path), create=False)
    assert not path.parent.exists()
    DatabaseFile(str(path), create=True)
    assert path.parent.is_dir()
    path.write_bytes(b"")  # an empty file is no database either
    with pytest.raises(StartupError, match="no database"):
        DatabaseFile(str(path), create=False)


def test_an_untouched_file_passes(tmp_path: Path) -> None:
    watched = _pinned(tmp_path / "h.db")
    watched.check()
    watched.check()
    watched.close()


def test_an_unlinked_file_is_lost_for_good(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    watched = _pinned(path)
    path.unlink()
    with pytest.raises(Unavailable, match="removed or replaced"):
        watched.check()
    path.write_bytes(b"a new file at the same path")
    with pytest.raises(Unavailable, match="removed or replaced"):
        watched.check()
    watched.close()


def test_a_file_replaced_by_a_rename_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    watched = _pinned(path)
    other = tmp_path / "other.db"
    other.write_bytes(b"another database")
    os.replace(other, path)
    with pytest.raises(Unavailable, match="removed or replaced"):
        watched.check()
    watched.close()
