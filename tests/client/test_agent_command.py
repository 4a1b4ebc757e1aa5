"""How a trial's parameters reach the agent's command: placeholders, environment, JSON file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hyperdial.client.agent.command import (
    CommandTemplate,
    environment_name,
    trial_environment,
    write_params_file,
)

PARAMETERS = ["learning_rate", "layers", "dropout", "optimizer"]


def test_placeholders_take_the_trials_values() -> None:
    template = CommandTemplate.parse(
        [
            "python",
            "train.py",
            "--lr",
            "{learning_rate}",
            "--layers={layers}",
            "--tag={study}-{trial_id}",
            "--lr-short={learning_rate:.2g}",
            "--epochs={step_budget}",
            "{{literal}}",
        ],
        PARAMETERS,
    )
    values = {"learning_rate": 0.00123, "layers": 3, "study": "s", "trial_id": 7}
    argv = template.argv(values | {"step_budget": 20})
    assert argv == [
        "python",
        "train.py",
        "--lr",
        "0.00123",
        "--layers=3",
        "--tag=s-7",
        "--lr-short=0.0012",
        "--epochs=20",
        "{literal}",
    ]


def test_an_inactive_parameter_is_left_out_with_its_flag() -> None:
    template = CommandTemplate.parse(
        ["train", "--dropout", "{dropout}", "--opt={optimizer}", "--verbose", "x{dropout}y"],
        PARAMETERS,
    )
    assert template.argv({}) == ["train", "--verbose"]
    assert template.argv({"dropout": 0.5, "optimizer": "sgd"}) == [
        "train",
        "--dropout",
        "0.5",
        "--opt=sgd",
        "--verbose",
        "x0.5y",
    ]


@pytest.mark.parametrize(
    ("arguments", "why"),
    [
        (["train", "--lr", "{lr}"], "{lr} is not a parameter of the study"),
        (["train", "{}"], "a placeholder is a parameter name in braces"),
        (["train", "{0}"], "a placeholder is a parameter name in braces"),
        (["train", "{learning_rate!r}"], "a placeholder is a parameter name in braces"),
        (["train", "{learning_rate"], "argument '{learning_rate': expected '}'"),
        ([], "no command"),
    ],
)
def test_a_bad_template_is_refused_naming_the_argument(arguments: list[str], why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        CommandTemplate.parse(arguments, PARAMETERS)


def test_the_environment_and_the_params_file(tmp_path: Path) -> None:
    params = {"learning_rate": 0.001, "optimizer": "adam", "hidden-units": 64}
    path = tmp_path / "params.json"
    write_params_file(path, params)
    variables = trial_environment(params, 12, "mlp", "127.0.0.1:1", path, step_budget=30)
    assert variables == {
        "HYPERDIAL_PARAM_LEARNING_RATE": "0.001",
        "HYPERDIAL_PARAM_OPTIMIZER": "adam",
        "HYPERDIAL_PARAM_HIDDEN_UNITS": "64",
        "HYPERDIAL_TRIAL_ID": "12",
        "HYPERDIAL_STUDY": "mlp",
        "HYPERDIAL_SERVER": "127.0.0.1:1",
        "HYPERDIAL_PARAMS_FILE": str(path),
        "HYPERDIAL_STEP_BUDGET": "30",
    }
    assert json.loads(path.read_text()) == params
    assert environment_name("x.y") == "HYPERDIAL_PARAM_X_Y"
