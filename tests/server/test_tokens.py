"""Token files and the constant-time bearer check shared by gRPC and /metrics."""

from pathlib import Path

import pytest

from hyperdial.server.errors import StartupError
from hyperdial.server.tokens import Tokens, load_tokens


def test_comment_lines_are_comments_even_when_indented(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("alpha\n   # old: revoked-token\n\t#tabbed\n  beta  \n\n")
    tokens = load_tokens(str(path))
    assert tokens.accepts("Bearer alpha")
    assert tokens.accepts("Bearer beta")
    for refused in ("# old: revoked-token", "old: revoked-token", "#tabbed", ""):
        assert not tokens.accepts(f"Bearer {refused}")


def test_the_header_must_be_a_bearer_token() -> None:
    tokens = Tokens(["s3cret"])
    assert tokens.accepts("Bearer s3cret")
    assert tokens.accepts(b"bearer s3cret")
    assert not tokens.accepts("Basic s3cret")
    assert not tokens.accepts("s3cret")
    assert not tokens.accepts("Bearer s3cre")


def test_unreadable_or_empty_token_files_stop_the_start(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="cannot read"):
        load_tokens(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.write_text("  # nothing\n")
    with pytest.raises(StartupError, match="holds no token"):
        load_tokens(str(empty))
