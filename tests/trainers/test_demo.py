"""`hyperdial demo` (what `make demo` runs): a real network study to the end, then the retrain."""

import json
import subprocess
import sys

import pytest

from hyperdial.client import Client
from hyperdial.client.tools.local import LocalServer


@pytest.mark.slow
def test_the_demo_tunes_retrains_and_reports(tmp_path) -> None:
    database = f"sqlite:///{tmp_path / 'demo.db'}"
    output = tmp_path / "final"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "hyperdial.trainers.demo", "--database", database),
            *("--epochs", "60", "--output", str(output)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    printed = " ".join(result.stdout.split())  # the console wraps long lines
    assert "test accuracy" in printed
    assert "recommended trial" in printed
    report = json.loads((output / "report.json").read_text())
    assert 0 < report["test_accuracy"] <= 1
    assert len(report["runs"]) == 3
    with LocalServer(database) as server, Client(server.address) as client:
        (study,) = client.list_studies()
        # Eight initial trials of 5 epochs, then full ones of 15 while 15 are left.
        assert 0 < study.steps_reported <= 60
        assert sum(study.trial_counts.values()) >= 9
        assert set(study.trial_counts) <= {"COMPLETED", "PRUNED", "FAILED"}
        assert study.best_trial.value < 1.0
