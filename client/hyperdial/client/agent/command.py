"""How a trial's parameters reach its command: placeholders, environment, a JSON file.

Placeholders are Python format fields in the command's arguments:
`--lr {learning_rate}`, `--lr={learning_rate:.3g}`, `{{` for a literal brace.
Besides the study's parameters, `{trial_id}`, `{study}` and `{step_budget}`
(the most epochs to train, from the study's fidelity; 0: no limit) are known. A
parameter that is inactive in a trial (its condition does not hold) has no
value: an argument that names one is left out, and so is the flag before it
when the argument is the placeholder alone (`--dropout {dropout}` disappears
whole, `--dropout={dropout}` too).

Every trial's environment also holds `HYPERDIAL_PARAM_<NAME>` for each active
parameter (the name upper-cased, other characters than letters and digits as
`_`), `HYPERDIAL_TRIAL_ID`, `HYPERDIAL_STUDY`, `HYPERDIAL_SERVER`,
`HYPERDIAL_STEP_BUDGET`, and
`HYPERDIAL_PARAMS_FILE`, a JSON object of the active parameters.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hyperdial.client.params import ParamValue

BUILT_IN = ("trial_id", "study", "step_budget")
_FORMATTER = string.Formatter()


def _fields(argument: str) -> list[str]:
    """The placeholder names in `argument`; ValueError on a malformed one."""
    names = []
    try:
        fields = list(_FORMATTER.parse(argument))
    except ValueError as error:
        raise ValueError(
            f"argument {argument!r}: {error} (write {{{{ and }}}} for a brace)"
        ) from None
    for _, name, _, conversion in fields:
        if name is None:
            continue
        if not name or conversion or not name.isidentifier():
            raise ValueError(
                f"argument {argument!r}: a placeholder is a parameter name in braces, "
                "e.g. {learning_rate} or {learning_rate:.3g}"
            )
        names.append(name)
    return names


@dataclass(frozen=True)
class CommandTemplate:
    """A command line with placeholders, checked against the study's parameters."""

    arguments: tuple[str, ...]

    @classmethod
    def parse(cls, arguments: Sequence[str], parameters: Sequence[str]) -> CommandTemplate:
        """The template; ValueError names an unknown or malformed placeholder."""
        if not arguments:
            raise ValueError("no command: give it after --, e.g. -- python train.py")
        known = set(parameters) | set(BUILT_IN)
        for argument in arguments:
            unknown = [name for name in _fields(argument) if name not in known]
            if unknown:
                raise ValueError(
                    f"argument {argument!r}: {{{unknown[0]}}} is not a parameter of the "
                    f"study (parameters: {', '.join(parameters) or 'none'}; also "
                    f"{', '.join('{' + b + '}' for b in BUILT_IN)})"
                )
        return cls(tuple(arguments))

    def argv(self, values: Mapping[str, object]) -> list[str]:
        """The command line for one trial; `values` holds its active parameters and built-ins."""
        argv: list[str] = []
        previous_is_flag = False
        for argument in self.arguments:
            names = _fields(argument)
            if any(name not in values for name in names):
                if previous_is_flag and _is_single_placeholder(argument):
                    argv.pop()
                previous_is_flag = False
                continue
            argv.append(_FORMATTER.vformat(argument, (), dict(values)))
            previous_is_flag = argument.startswith("-") and not names
        return argv


def _is_single_placeholder(argument: str) -> bool:
    parts = list(_FORMATTER.parse(argument))
    return len(parts) == 1 and parts[0][0] == "" and parts[0][1] is not None


def environment_name(parameter: str) -> str:
    """`HYPERDIAL_PARAM_<NAME>` for `parameter`."""
    return "HYPERDIAL_PARAM_" + re.sub(r"[^A-Z0-9]", "_", parameter.upper())


def trial_environment(
    params: Mapping[str, ParamValue],
    trial_id: int,
    study: str,
    server: str,
    params_file: Path,
    step_budget: int = 0,
) -> dict[str, str]:
    """The variables a trial's command gets on top of the agent's environment."""
    variables = {environment_name(name): str(value) for name, value in params.items()}
    variables |= {
        "HYPERDIAL_TRIAL_ID": str(trial_id),
        "HYPERDIAL_STUDY": study,
        "HYPERDIAL_SERVER": server,
        "HYPERDIAL_PARAMS_FILE": str(params_file),
        "HYPERDIAL_STEP_BUDGET": str(step_budget),
    }
    return variables


def write_params_file(path: Path, params: Mapping[str, ParamValue]) -> None:
    """The trial's active parameters as one JSON object."""
    path.write_text(json.dumps(dict(params), indent=2) + "\n")
