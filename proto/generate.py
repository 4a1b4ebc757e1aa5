"""Regenerates the Python code for proto/hyperdial/v1 (`make proto`).

The proto folder mirrors the import path (`hyperdial/v1/hyperdial.proto` →
`hyperdial.v1.hyperdial_pb2`), so the generated imports need no rewriting.
`--out DIR` writes elsewhere; the staleness test compares that with the
committed files.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent
PROTO_FILES = ("hyperdial/v1/hyperdial.proto",)


def generate(out_dir: Path) -> None:
    """Runs protoc with the grpc and mypy plugins into `out_dir`."""
    well_known = resources.files("grpc_tools") / "_proto"
    scripts = Path(
        sys.executable
    ).parent  # mypy-protobuf's plugins, even without an activated venv
    out = str(out_dir)
    for proto in PROTO_FILES:
        status = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{PROTO_ROOT}",
                f"-I{well_known}",
                f"--plugin=protoc-gen-mypy={scripts / 'protoc-gen-mypy'}",
                f"--plugin=protoc-gen-mypy_grpc={scripts / 'protoc-gen-mypy_grpc'}",
                f"--python_out={out}",
                f"--grpc_python_out={out}",
                f"--mypy_out={out}",
                f"--mypy_grpc_out={out}",
                str(PROTO_ROOT / proto),
            ]
        )
        if status != 0:
            raise SystemExit(f"protoc failed on {proto} with status {status}")


def main() -> None:
    """Parses `--out` and generates."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=PROTO_ROOT, help="output root")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    generate(args.out)
    print(f"generated into {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
