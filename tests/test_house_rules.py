"""House rules the review holds every change to: rooms stay small (STYLE.md)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import REPO

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
# Generated code and the migrations' frozen history are not written by hand.
_SKIPPED = ("_pb2", "/migrations/versions/")


def _sources(*roots: str) -> Iterator[Path]:
    for root in roots:
        for path in sorted((REPO / root).rglob("*.py")):
            shown = path.as_posix()
            if not any(part in shown for part in _SKIPPED) and ".venv" not in path.parts:
                yield path


def test_no_source_file_over_the_limit() -> None:
    long = {
        str(path.relative_to(REPO)): lines
        for path in _sources("proto", "server", "client", "trainers")
        if (lines := path.read_text().count("\n")) > MAX_FILE_LINES
    }
    assert long == {}


def test_no_function_over_the_limit_outside_benchmarks() -> None:
    long = {}
    for path in _sources("proto", "server", "client", "trainers", "tests"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(REPO)}:{node.lineno} {node.name}"] = lines
    assert long == {}
