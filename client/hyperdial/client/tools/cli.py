"""`hyperdial SUBCOMMAND …`: dispatches to the subcommands the installed parts provide.

Subcommands are entry points in the `hyperdial.commands` group, so the client
never imports the server or the trainers, and a client-only install simply
lists fewer subcommands.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import entry_points


def main(argv: Sequence[str] | None = None) -> None:
    """Runs `hyperdial <subcommand> [args…]`."""
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {ep.name: ep for ep in entry_points(group="hyperdial.commands")}
    if not args or args[0] in ("-h", "--help") or args[0] not in commands:
        known = ", ".join(sorted(commands)) or "none installed"
        usage = (
            f"usage: hyperdial {{{known}}} [options]\n  hyperdial SUBCOMMAND --help for details"
        )
        if args and args[0] not in ("-h", "--help"):
            sys.exit(f"hyperdial: unknown subcommand {args[0]!r}\n{usage}")
        print(usage)
        return
    command = commands[args[0]].load()
    command(args[1:])
