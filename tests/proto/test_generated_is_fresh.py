"""The committed generated code equals what the pinned tools generate from the .proto."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

GENERATED = (
    "hyperdial_pb2.py",
    "hyperdial_pb2.pyi",
    "hyperdial_pb2_grpc.py",
    "hyperdial_pb2_grpc.pyi",
)


def _pinned(package: str) -> str:
    text = (REPO / "pyproject.toml").read_text()
    match = re.search(rf'"{package}==([^"]+)"', text)
    assert match, f"{package} is not pinned exactly in pyproject.toml"
    return match.group(1)


def test_pinned_generators_are_installed() -> None:
    for package in ("grpcio-tools", "mypy-protobuf"):
        assert importlib.metadata.version(package) == _pinned(package), (
            f"{package} differs from its pin; run `make venv`"
        )


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(REPO / "proto" / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in GENERATED:
        fresh = (tmp_path / "hyperdial" / "v1" / name).read_bytes()
        committed = (REPO / "proto" / "hyperdial" / "v1" / name).read_bytes()
        assert fresh == committed, f"proto/hyperdial/v1/{name} is stale: run `make proto`"
