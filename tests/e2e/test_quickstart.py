"""The README's Python quickstart runs as written, against a real server."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from tests.helpers import REPO

from hyperdial.client import Client
from hyperdial.server.testing import serve

QUICKSTART = REPO / "examples" / "quickstart.py"


def test_the_readme_shows_the_example_file() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Python quickstart", 1)[1]
    shown = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert shown == QUICKSTART.read_text()


def test_the_quickstart_runs_a_study_and_prints_its_best(sqlite_url: str) -> None:
    with serve(sqlite_url) as server:
        ran = subprocess.run(
            [sys.executable, str(QUICKSTART)],
            env={**os.environ, "HYPERDIAL_SERVER": server.address},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        with Client(server.address) as client:
            study = client.study("mlp")
            (best,) = study.best_trials(1)
            counts = study.info().trial_counts
    assert ast.literal_eval(ran.stdout.strip()) == best.params
    assert counts["COMPLETED"] == 20
