"""`hyperdial demo` (what `make demo` runs) completes real studies on an SQLite file."""

import subprocess
import sys

from hyperdial.client import Client
from hyperdial.client.local import LocalServer


def test_the_demo_runs_two_studies_to_the_end(tmp_path) -> None:
    database = f"sqlite:///{tmp_path / 'demo.db'}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hyperdial.trainers.demo",
            "--database",
            database,
            "--trials",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "regret" in result.stdout
    with LocalServer(database) as server, Client(server.address) as client:
        studies = {s.name.split("-")[1]: s for s in client.list_studies()}
        assert studies["random"].trial_counts["COMPLETED"] == 30
        assert studies["grid"].trial_counts["COMPLETED"] == 15 * 15
        assert studies["grid"].best_trial.value < 1.0
