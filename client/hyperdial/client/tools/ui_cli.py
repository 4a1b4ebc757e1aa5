"""`hyperdial ui`: serves the web UI for the studies of one server.

hyperdial ui --server 127.0.0.1:50051 [--address 127.0.0.1:8080]

It connects like every client: $HYPERDIAL_TOKEN for the bearer token it
reads with, $HYPERDIAL_TLS_CA_FILE (and the cert and key files) for TLS.
Actions in the page (pause, stop a trial, ...) carry the token typed into
the page instead, so a server that requires tokens acts only for their holders.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import uvicorn

from hyperdial.client.client import Client
from hyperdial.client.ui.app import create_app

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hyperdial ui",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--server", default=os.environ.get("HYPERDIAL_SERVER", "127.0.0.1:50051"))
    parser.add_argument(
        "--address", default="127.0.0.1:8080", help="HOST:PORT the UI listens on (HTTP)"
    )
    parser.add_argument(
        "--refresh-seconds",
        type=float,
        default=1.0,
        help="how often an open study is read again (live updates)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `hyperdial ui`."""
    args = _parser().parse_args(argv)
    host, _, port = args.address.rpartition(":")
    if not host or not port.isdigit():
        sys.exit(f"hyperdial ui: --address must be HOST:PORT, got {args.address!r}")
    if args.refresh_seconds <= 0:
        sys.exit("hyperdial ui: --refresh-seconds must be > 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with Client(args.server) as client:
        log.info("hyperdial ui for %s on http://%s:%s/", args.server, host, port)
        app = create_app(client, args.refresh_seconds)
        uvicorn.run(app, host=host.strip("[]"), port=int(port), log_level="warning")
