"""`hyperdial agent` against a real server: the examples tuned to completion, stops, faults.

The agent runs as its own process, as users run it, with real commands as
children; every test checks that no process the command started survives it.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperdial.client import (
    Client,
    categorical,
    condition,
    float_param,
    int_param,
    median_stopping,
)
from hyperdial.server.testing import RunningServer, serve

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def sqlite_server(sqlite_url: str) -> Iterator[RunningServer]:
    """The agent's own behaviour does not depend on the store: SQLite."""
    with serve(sqlite_url) as running:
        yield running


def agent_argv(
    server: RunningServer, study: str, command: list[str], *options: str, log_dir: Path
) -> list[str]:
    return [
        sys.executable, "-m", "hyperdial.client.tools.agent_cli", "--server", server.address,
        "--study", study, "--log-dir", str(log_dir), *options, "--", *command,
    ]  # fmt: skip


def agent(
    server: RunningServer, study: str, command: list[str], *options: str, log_dir: Path
) -> subprocess.CompletedProcess[str]:
    argv = agent_argv(server, study, command, *options, log_dir=log_dir)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def started_agent(
    server: RunningServer, study: str, script: str, *options: str, log_dir: Path
) -> subprocess.Popen[str]:
    """An agent whose command (`sh -c script`) has printed its first line, "started"."""
    argv = agent_argv(server, study, ["sh", "-c", script], *options, log_dir=log_dir)
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert "started" in process.stdout.readline()
    return process


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def group_members(group: int) -> list[int]:
    """Live processes in process group `group` (a command's group is its shell's pid)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)"
        except OSError:  # the process ended while we looked
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


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


def test_a_stopped_trial_is_killed_and_pruned_even_if_it_ignores_sigterm(
    server: RunningServer, client: Client, tmp_path: Path
) -> None:
    script = tmp_path / "slow.py"
    script.write_text(
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: print('ignoring SIGTERM', flush=True))\n"
        "x = float(sys.argv[1])\n"
        "for step in range(100):\n"
        "    print(f'hyperdial: step={step} objective={x}', flush=True)\n"
        "    time.sleep(0.05)\n"
        "print(f'hyperdial: final objective={x}')\n"
    )
    client.create_study(
        "pruning",
        [float_param("x", 0, 1)],
        algorithm="random",
        max_trials=6,
        seed=3,
        stopping=median_stopping(min_trials=1),
    )
    started = time.monotonic()
    done = agent(
        server,
        "pruning",
        [sys.executable, str(script), "{x}"],
        "--grace-seconds",
        "0.5",
        log_dir=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    trials = list(client.study("pruning").trials())
    pruned = [t for t in trials if t.state == "PRUNED"]
    assert pruned, [t.state for t in trials]
    for trial in pruned:
        log = (tmp_path / "pruning" / f"trial-{trial.id}.log").read_text()
        assert "ignoring SIGTERM" in log
        assert "hyperdial: final" not in log
        assert trial.reason.startswith("stopped early at step")
    # The completed trials ran 5 s each; a pruned one lasted its step, the grace, the kill.
    completed = sum(t.state == "COMPLETED" for t in trials)
    assert time.monotonic() - started < completed * 5.5 + len(pruned) * 2.5 + 5


@pytest.mark.parametrize(
    ("command", "state", "reason"),
    [
        (["/nonexistent/train"], "FAILED", "could not start '/nonexistent/train'"),
        (
            ["sh", "-c", "echo boom >&2; exit 3"],
            "FAILED",
            "the command exited with status 3\nboom",
        ),
        (["sh", "-c", "kill -SEGV $$"], "FAILED", "killed by SIGSEGV"),
        (["sh", "-c", "echo hello"], "FAILED", "exited 0 without reporting objective"),
        (
            ["sh", "-c", "echo 'hyperdial: objective=nan'"],
            "FAILED",
            "rejected metric line 'hyperdial: objective=nan': objective=nan is not a finite",
        ),
        (["sh", "-c", "exit 78"], "INFEASIBLE", "exited with status 78"),
        (["sh", "-c", "echo 'hyperdial: infeasible too big'; exit 1"], "INFEASIBLE", "too big"),
    ],
)
def test_each_fault_gets_its_outcome_and_the_agent_goes_on(
    sqlite_server: RunningServer, tmp_path: Path, command: list[str], state: str, reason: str
) -> None:
    with Client(sqlite_server.address) as client:
        client.create_study("faults", [float_param("x", 0, 1)], max_trials=2)
        done = agent(sqlite_server, "faults", command, log_dir=tmp_path)
        assert done.returncode == 0, done.stderr
        trials = list(client.study("faults").trials())
        assert [t.state for t in trials] == [state, state]
        assert trials[0].reason.startswith(reason) or reason in trials[0].reason


def test_sigterm_to_the_agent_fails_the_trial_and_leaves_no_process(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 1000 & echo $! >> {pids}; echo $$ >> {pids}; echo started; sleep 1000"
    with Client(sqlite_server.address) as client:
        client.create_study("stop", [float_param("x", 0, 1)], max_trials=5)
        process = started_agent(
            sqlite_server, "stop", script, "--grace-seconds", "1", log_dir=tmp_path
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
        (trial,) = list(client.study("stop").trials())
        assert (trial.state, trial.reason) == ("FAILED", "the worker was stopped")
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 2
    assert not any(alive(pid) for pid in started)
    assert group_members(started[1]) == []  # the shell leads the command's group


def test_a_command_that_leaves_a_process_behind_gets_it_killed(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "orphan"
    script = f"sleep 1000 & echo $! $$ > {pid_file}; echo 'hyperdial: final objective=1'"
    with Client(sqlite_server.address) as client:
        client.create_study("orphans", [float_param("x", 0, 1)], max_trials=1)
        done = agent(sqlite_server, "orphans", ["sh", "-c", script], log_dir=tmp_path)
        assert done.returncode == 0, done.stderr
        assert next(client.study("orphans").trials()).state == "COMPLETED"
    orphan, shell = (int(pid) for pid in pid_file.read_text().split())
    assert not alive(orphan)
    assert group_members(shell) == []


def test_a_bad_placeholder_is_refused_before_any_trial(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    with Client(sqlite_server.address) as client:
        client.create_study("typo", [float_param("learning_rate", 0, 1)], max_trials=1)
        done = agent(sqlite_server, "typo", ["train", "--lr", "{lr}"], log_dir=tmp_path)
        assert done.returncode == 1
        assert "{lr} is not a parameter of the study" in done.stderr
        assert list(client.study("typo").trials()) == []


def test_heartbeats_keep_a_quiet_commands_lease(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    with Client(sqlite_server.address) as client:
        client.create_study("quiet", [float_param("x", 0, 1)], max_trials=2, lease_seconds=1.5)
        script = "echo started; sleep 4; echo 'hyperdial: final objective=2'"
        process = started_agent(
            sqlite_server,
            "quiet",
            script,
            "--count",
            "1",
            "--heartbeat-seconds",
            "0.3",
            log_dir=tmp_path,
        )
        time.sleep(2.5)  # past the lease: another worker's Suggest expires lapsed leases
        (other,) = client.study("quiet").suggest(1, worker_id="other")
        assert other.id == 2
        assert process.wait(timeout=30) == 0
        trial = next(client.study("quiet").trials())
        assert (trial.state, trial.value) == ("COMPLETED", 2.0)


def test_a_flood_of_output_is_passed_through_and_the_trial_completes(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    script = (
        "yes 'some log line' | head -n 200000; printf 'x%.0s' $(seq 100000); echo; "
        "echo 'hyperdial: final objective=3'"
    )
    with Client(sqlite_server.address) as client:
        client.create_study("flood", [float_param("x", 0, 1)], max_trials=1)
        done = agent(sqlite_server, "flood", ["sh", "-c", script], log_dir=tmp_path)
        assert done.returncode == 0, done.stderr
        (trial,) = client.study("flood").trials()
        assert (trial.state, trial.value) == ("COMPLETED", 3.0)
        assert done.stdout.count("some log line") == 200_000


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


def test_a_failed_configuration_is_retried_and_completes(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    marker = tmp_path / "tried"
    # Fails the first time it is run (no marker yet), succeeds the second.
    script = (
        f"if [ -e {marker} ]; then echo 'hyperdial: final objective=1'; "
        f"else touch {marker}; exit 1; fi"
    )
    with Client(sqlite_server.address) as client:
        client.create_study("retry", [float_param("x", 0, 1)], max_trials=2, max_retries=1)
        done = agent(sqlite_server, "retry", ["sh", "-c", script], log_dir=tmp_path)
        assert done.returncode == 0, done.stderr
        first, second = client.study("retry").trials()
        assert (first.state, second.state) == ("FAILED", "COMPLETED")
        assert first.params == second.params


def test_a_paused_study_makes_the_agent_wait_until_it_is_resumed(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    with Client(sqlite_server.address) as client:
        study = client.create_study("paused-agent", [float_param("x", 0, 1)], max_trials=1)
        study.pause()
        argv = agent_argv(
            sqlite_server,
            "paused-agent",
            ["sh", "-c", "echo 'hyperdial: final objective={x}'"],
            log_dir=tmp_path,
        )
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(3)  # longer than a poll: the agent asked, heard "paused" and waits
            assert process.poll() is None
            assert study.info().trial_counts == {}
            study.resume()
            _, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
        assert process.returncode == 0, stderr
        assert "is paused; waiting" in stderr
        assert [t.state for t in study.trials()] == ["COMPLETED"]
