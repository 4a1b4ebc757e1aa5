"""`hyperdial`: subcommands whose extras are missing are listed apart, not crashed into."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from hyperdial.client.tools import cli

GROUP = "hyperdial.commands"
HYPERDIAL = Path(sys.executable).with_name("hyperdial")


def test_a_subcommand_whose_extra_is_missing_is_listed_with_its_install_command() -> None:
    by_extra = {"cli": ["rich"], "server": ["no-such-distribution-for-hyperdial"]}
    commands = {
        name: EntryPoint(name, f"hyperdial.example:{name}", GROUP)
        for name in ("study", "server", "agent")
    }
    assert cli.missing_extras("server", by_extra) == ["server"]
    assert cli.missing_extras("study", by_extra) == []
    assert cli.missing_extras("agent", by_extra) == []
    usage = cli._usage(commands, by_extra)
    assert usage.splitlines()[0] == "usage: hyperdial {agent, study} [options]"
    assert "  server: pip install 'hyperdial[server]'" in usage.splitlines()


def test_every_installed_subcommand_names_extras_that_exist() -> None:
    by_extra = cli._requirements_by_extra()
    for command in entry_points(group=GROUP):
        assert command.name in cli.EXTRAS, command
        assert set(cli.EXTRAS[command.name]) <= set(by_extra), command
        assert cli.missing_extras(command.name, by_extra) == [], command  # dev has them all


def test_the_command_lists_what_is_installed() -> None:
    listed = subprocess.run([HYPERDIAL, "--help"], capture_output=True, text=True, check=True)
    first = listed.stdout.splitlines()[0]
    for name in ("agent", "demo", "plot", "retrain", "server", "study", "trainer"):
        assert name in first
    assert "not installed" not in listed.stdout


def test_an_unknown_subcommand_says_so() -> None:
    with pytest.raises(SystemExit, match="unknown subcommand 'nonsense'"):
        cli.main(["nonsense"])
