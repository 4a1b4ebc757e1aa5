"""`hyperdial agent` against a real server: the examples tuned to completion, parameters.

The agent runs as its own process, as users run it, with real commands as
children (`agent_helpers.py`); `test_agent_faults.py` holds its stops and faults.
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import pytest
from tests.e2e.agent_helpers import (
    EXAMPLES,
    agent,
)

from hyperdial.client import (
    Client,
    categorical,
    condition,
    float_param,
    int_param,
)
from hyperdial.server.testing import RunningServer


def test_the_torch_example_is_tuned_to_completion_on_both_stores(
    server: RunningServer, client: Client, tmp_path: Path
) -> None:
    client.create_study(
        "digits",
        [float_param("learning_rate", 1e-3, 3e-2, log=True), int_param("hidden", 16, 64)],
        metric="val_loss",
        algorithm="random",
        max_trials=2,
    )
    command = [
        sys.executable,
        str(EXAMPLES / "train_torch.py"),
        "--lr",
        "{learning_rate}",
        "--hidden",
        "{hidden}",
        "--epochs",
        "3",
    ]
    done = agent(server, "digits", command, log_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    trials = list(client.study("digits").trials(measurements=True))
    assert [t.state for t in trials] == ["COMPLETED", "COMPLETED"]
    for trial in trials:
        assert [step for step, _ in trial.measurements] == [0, 1, 2]
        assert trial.value == pytest.approx(min(v for _, v in trial.measurements), abs=1e-6)
        assert 0.5 < trial.metrics["val_accuracy"] <= 1.0
        log = (tmp_path / "digits" / f"trial-{trial.id}.log").read_text()
        assert "hyperdial: final" in log
    assert "[trial 1] hyperdial: step=0" in done.stdout


def test_the_shell_example_gets_its_parameters_from_the_environment(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    with Client(sqlite_server.address) as client:
        client.create_study(
            "branin", [float_param("x0", -5, 10), float_param("x1", 0, 15)], max_trials=5
        )
        done = agent(
            sqlite_server, "branin", ["sh", str(EXAMPLES / "branin.sh")], log_dir=tmp_path
        )
        assert done.returncode == 0, done.stderr
        for trial in list(client.study("branin").trials()):
            x, y = trial.params["x0"], trial.params["x1"]
            expected = (
                (y - 5.1 / (4 * math.pi**2) * x * x + 5 / math.pi * x - 6) ** 2
                + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x)
                + 10
            )
            assert trial.state == "COMPLETED"
            assert trial.value == pytest.approx(expected, rel=1e-8)


def test_the_metrics_file_example_reports_through_its_file(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    with Client(sqlite_server.address) as client:
        client.create_study("quadratic", [float_param("x", -2, 2)], metric="loss", max_trials=2)
        command = [sys.executable, str(EXAMPLES / "metrics_file.py")]
        done = agent(sqlite_server, "quadratic", command, log_dir=tmp_path)
        assert done.returncode == 0, done.stderr
        for trial in client.study("quadratic").trials(measurements=True):
            assert trial.state == "COMPLETED"
            assert trial.value == pytest.approx((trial.params["x"] - 1) ** 2)
            assert [step for step, _ in trial.measurements] == [0, 1, 2]
        assert "step 0: loss" in done.stdout


def test_argv_environment_and_params_file_agree_and_inactive_flags_go(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    script = tmp_path / "check.py"
    script.write_text(
        "import json, os, sys\n"
        "params = json.load(open(os.environ['HYPERDIAL_PARAMS_FILE']))\n"
        "args = sys.argv[1:]\n"
        "assert args[:2] == ['--opt', params['optimizer']], args\n"
        "assert ('--momentum' in args) == ('momentum' in params), (args, params)\n"
        "assert os.environ['HYPERDIAL_PARAM_OPTIMIZER'] == params['optimizer']\n"
        "assert os.environ['CUDA_VISIBLE_DEVICES'] in ('3', '5')\n"
        "print('hyperdial: final objective=%s gpu=%s' % (os.environ['HYPERDIAL_TRIAL_ID'],"
        " os.environ['CUDA_VISIBLE_DEVICES']))\n"
    )
    with Client(sqlite_server.address) as client:
        client.create_study(
            "conditional",
            [
                categorical("optimizer", ["sgd", "adam"]),
                float_param("momentum", 0.0, 0.9, when=condition("optimizer", values=["sgd"])),
            ],
            max_trials=6,
        )
        command = [sys.executable, str(script), "--opt", "{optimizer}", "--momentum", "{momentum}"]
        done = agent(
            sqlite_server,
            "conditional",
            command,
            "--gpus",
            "3,5",
            "--count",
            "4",
            log_dir=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        trials = list(client.study("conditional").trials())
        assert len(trials) == 4
        assert all(t.state == "COMPLETED" for t in trials), [t.reason for t in trials]
        assert {t.value for t in trials} == {float(t.id) for t in trials}
        assert {t.metrics["gpu"] for t in trials} == {3.0, 5.0}


def test_a_bad_placeholder_is_refused_before_any_trial(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    with Client(sqlite_server.address) as client:
        client.create_study("typo", [float_param("learning_rate", 0, 1)], max_trials=1)
        done = agent(sqlite_server, "typo", ["train", "--lr", "{lr}"], log_dir=tmp_path)
        assert done.returncode == 1
        assert "{lr} is not a parameter of the study" in done.stderr
        assert list(client.study("typo").trials()) == []


@pytest.mark.skipif(shutil.which("node") is None, reason="no Node.js on this machine")
def test_the_node_example_is_tuned_to_completion(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    with Client(sqlite_server.address) as client:
        client.create_study(
            "node",
            [float_param("x", -2, 2), int_param("layers", 1, 4)],
            metric="loss",
            max_trials=3,
        )
        command = ["node", str(EXAMPLES / "quadratic.js")]
        done = agent(sqlite_server, "node", command, log_dir=tmp_path)
        assert done.returncode == 0, done.stderr
        for trial in client.study("node").trials(measurements=True):
            expected = (trial.params["x"] - 1) ** 2 + (trial.params["layers"] - 2) ** 2
            assert (trial.state, trial.value) == ("COMPLETED", pytest.approx(expected))
            assert len(trial.measurements) == 3
