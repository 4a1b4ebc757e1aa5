"""Warm starts: finished trials of a related study imported into a new one."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperdial.client import Client, InvalidArgumentError, float_param, int_param
from hyperdial.client.tools.study_cli import main as study_main

SPACE = [float_param("x", -5.0, 5.0), int_param("n", 1, 3)]


def quadratic(params: dict) -> float:
    return (params["x"] - 2.0) ** 2 + params["n"]


def test_imported_trials_use_no_budget_and_keep_their_values(client: Client) -> None:
    study = client.create_study("warm", SPACE, max_trials=3)
    points = [{"x": -4.0 + i, "n": 1 + i % 3} for i in range(5)]
    imported = study.import_trials([(p, quadratic(p)) for p in points])
    assert [t.state for t in imported] == ["COMPLETED"] * 5
    assert {t.worker_id for t in imported} == {"import"}
    assert [t.value for t in imported] == [quadratic(p) for p in points]
    fresh = study.suggest(5, worker_id="w")
    assert len(fresh) == 3  # the whole budget is still there
    assert study.best_trials(1)[0].value == min(quadratic(p) for p in points)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"x": 1.0}, "trials[0].parameters.n"),
        ({"x": 9.0, "n": 1}, "trials[0].parameters.x"),
        ({"x": 1.0, "n": 1, "y": 2.0}, "trials[0].parameters.y"),
    ],
)
def test_bad_imports_name_the_field_and_store_nothing(
    client: Client, params: dict, field: str
) -> None:
    study = client.create_study("strict", SPACE)
    with pytest.raises(InvalidArgumentError) as raised:
        study.import_trials([({"x": 0.0, "n": 2}, 1.0), (params, 1.0)][1:])
    assert raised.value.field == field
    assert list(study.trials()) == []


def test_an_exported_study_warm_starts_a_bayes_study(
    server, client: Client, tmp_path: Path
) -> None:
    source = client.create_study("source", SPACE, max_trials=14, seed=4)
    while (trial := source.next_trial("w")) is not None:
        trial.complete(quadratic(trial.params))
    exported = tmp_path / "source.csv"
    study_main(["--server", server.address, "export", "source", "-o", str(exported)])
    client.create_study(
        "target",
        SPACE,
        algorithm="bayes",
        options={"restarts": 4, "raw_samples": 256},
        max_trials=2,
        seed=4,
    )
    study_main(["--server", server.address, "import", "target", "--from", str(exported)])
    with Client(server.address, timeout=120) as patient:  # the compute pool may be cold
        target = patient.study("target")
        assert len(list(target.trials())) == 14
        # The first suggestion already comes from a model of the 14 imported trials.
        (first,) = target.suggest(1, worker_id="w")
    best_imported = min(quadratic(t.params) for t in source.trials())
    assert quadratic(first.params) <= best_imported + 0.5
    assert first.params["n"] == 1
