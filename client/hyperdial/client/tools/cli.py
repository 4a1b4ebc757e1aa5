"""`hyperdial SUBCOMMAND …`: dispatches to the subcommands the installed parts provide.

Subcommands are entry points in the `hyperdial.commands` group, so the client
never imports the server or the trainers. `EXTRAS` names the extras each needs
(entry-point extras would say the same, but the packaging specification
deprecates them); one whose extras are not installed is listed apart, with the
pip command that installs them, instead of crashing on import.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from importlib.metadata import (
    EntryPoint,
    PackageNotFoundError,
    distribution,
    entry_points,
    version,
)

EXTRAS: dict[str, tuple[str, ...]] = {
    "server": ("server",),
    "demo": ("server", "trainers"),
    "trainer": ("trainers",),
    "retrain": ("trainers",),
    "study": ("cli",),
    "plot": ("cli", "plots"),
    "agent": (),
    "ui": ("ui",),
}
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _requirements_by_extra() -> dict[str, list[str]]:
    """The distributions each of hyperdial's extras asks for, by name."""
    by_extra: dict[str, list[str]] = {}
    for requirement in distribution("hyperdial").requires or []:
        extra = _EXTRA.search(requirement)
        name = _NAME.match(requirement)
        if extra and name:
            by_extra.setdefault(extra.group(1), []).append(name.group(0))
    return by_extra


def _installed(name: str) -> bool:
    try:
        version(name)
    except PackageNotFoundError:
        return False
    return True


def missing_extras(command: str, by_extra: dict[str, list[str]]) -> list[str]:
    """The extras `command` needs with a distribution that is not installed."""
    return [
        extra
        for extra in EXTRAS.get(command, ())
        if not all(_installed(name) for name in by_extra.get(extra, []))
    ]


def _install_hint(extras: Sequence[str]) -> str:
    return f"pip install 'hyperdial[{','.join(extras)}]'"


def _usage(commands: dict[str, EntryPoint], by_extra: dict[str, list[str]]) -> str:
    ready = sorted(n for n in commands if not missing_extras(n, by_extra))
    lines = [
        f"usage: hyperdial {{{', '.join(ready) or 'none installed'}}} [options]",
        "  hyperdial SUBCOMMAND --help for details",
    ]
    absent = {
        name: missing_extras(name, by_extra) for name in sorted(commands) if name not in ready
    }
    if absent:
        lines.append("not installed here:")
        lines += [f"  {name}: {_install_hint(extras)}" for name, extras in absent.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Runs `hyperdial <subcommand> [args…]`."""
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {ep.name: ep for ep in entry_points(group="hyperdial.commands")}
    by_extra = _requirements_by_extra()
    if not args or args[0] in ("-h", "--help") or args[0] not in commands:
        usage = _usage(commands, by_extra)
        if args and args[0] not in ("-h", "--help"):
            sys.exit(f"hyperdial: unknown subcommand {args[0]!r}\n{usage}")
        print(usage)
        return
    missing = missing_extras(args[0], by_extra)
    if missing:
        sys.exit(
            f"hyperdial {args[0]} needs the {', '.join(missing)} extra: {_install_hint(missing)}"
        )
    command = commands[args[0]].load()
    try:
        command(args[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`hyperdial study trials NAME --format csv | head -1`): what
        # it wanted was written; Python's own flush at exit must not fail on the pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
