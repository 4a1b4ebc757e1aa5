"""`hyperdial agent` when things go wrong or change: stops, faults, signals, leftovers,
quiet commands, floods, retries and a paused study.

Every test that starts a command checks that no process it started survives it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.e2e.agent_helpers import (
    agent,
    agent_argv,
    alive,
    group_members,
    started_agent,
)

from hyperdial.client import (
    Client,
    float_param,
    median_stopping,
)
from hyperdial.server.testing import RunningServer


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
            ["sh", "-c", "echo 'hyperdial: objective=0.5'; echo 'hyperdial: objective=nan'"],
            "INFEASIBLE",
            "the run diverged: objective=nan",
        ),
        (
            ["sh", "-c", "echo 'hyperdial: final objective=inf'"],
            "INFEASIBLE",
            "the run diverged: objective=inf",
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


def test_a_diverged_step_is_not_sent_and_a_finite_final_completes(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    lines = "hyperdial: step=0 objective=0.9", "hyperdial: step=1 objective=nan"
    script = "; ".join(f"echo '{line}'" for line in (*lines, "hyperdial: final objective=0.8"))
    with Client(sqlite_server.address) as client:
        client.create_study("recovers", [float_param("x", 0, 1)], max_trials=1)
        done = agent(sqlite_server, "recovers", ["sh", "-c", script], log_dir=tmp_path)
        assert done.returncode == 0, done.stderr
        (trial,) = list(client.study("recovers").trials(measurements=True))
        assert (trial.state, trial.value) == ("COMPLETED", 0.8)
        assert trial.measurements == [(0, 0.9)]


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
