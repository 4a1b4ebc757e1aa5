"""The Node.js example (client/node) against a real server: the .proto files are all it needs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from tests.helpers import REPO

from hyperdial.client import Client
from hyperdial.server.testing import serve

EXAMPLE = REPO / "client" / "node" / "example.js"


def test_the_node_example_runs_a_study_and_prints_the_best(sqlite_url: str) -> None:
    node = shutil.which("node")
    if node is None or not (EXAMPLE.parent / "node_modules").is_dir():
        if os.environ.get("CI"):
            pytest.fail("Node.js and `make node-deps` are part of the test set-up under CI")
        pytest.skip("no Node.js, or `make node-deps` has not run")
    with serve(sqlite_url) as server:
        result = subprocess.run(
            [node, str(EXAMPLE), server.address, "my-study"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        printed = json.loads(result.stdout)
        with Client(server.address) as client:
            study = client.study("my-study")
            trials = list(study.trials())
            (best,) = study.best_trials(1)
    assert [t.state for t in trials] == ["COMPLETED"] * 5
    assert printed["trial"] == best.id
    assert printed["value"] == pytest.approx(best.value)
    assert printed["params"] == best.params
    # The README shows what the example prints (a seeded random study repeats).
    shown = next(
        line.removeprefix("# ")
        for line in (REPO / "README.md").read_text().splitlines()
        if line.startswith('# {"study":"my-study"')
    )
    assert printed == json.loads(shown)
