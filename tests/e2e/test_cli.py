"""`hyperdial study` and `hyperdial plot` against a real server."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from hyperdial.client import Client, categorical, float_param, int_param, outcome_constraint
from hyperdial.client.tools.plots import KINDS, Axis, importances, plot
from hyperdial.client.tools.study_cli import main as study_main
from hyperdial.client.tools.study_file import StudyFileError, load_study_file
from hyperdial.server.testing import RunningServer, serve

EXAMPLE = Path(__file__).parents[2] / "examples" / "mlp-digits.yaml"


@pytest.fixture
def server(sqlite_url: str) -> Iterator[RunningServer]:
    """The command line is the same on every store: SQLite only."""
    with serve(sqlite_url) as running:
        yield running


def test_the_example_file_creates_the_study_and_every_view_shows_it(
    server, client: Client, capsys, tmp_path: Path
) -> None:
    study_main(["--server", server.address, "create", "--config", str(EXAMPLE)])
    study = client.study("mlp-digits")
    info = study.info()
    assert info.config.algorithm.name == "bayes"
    assert [p.name for p in info.config.parameters][:2] == ["learning_rate", "hidden_layers"]
    assert info.config.max_trials == 30
    for trial in study.suggest(3, worker_id="w"):
        trial.complete(trial.params["dropout"] + 1.0)
    capsys.readouterr()
    study_main(["--server", server.address, "list"])
    assert "mlp-digits" in capsys.readouterr().out
    study_main(["--server", server.address, "show", "mlp-digits"])
    shown = capsys.readouterr().out
    assert "bayes" in shown
    assert "3 finished of 30" in shown
    order = [p.name for p in info.config.parameters]
    study_main(["--server", server.address, "trials", "mlp-digits", "--format", "json"])
    listed = json.loads(capsys.readouterr().out)
    assert [t["state"] for t in listed] == ["COMPLETED"] * 3
    assert [list(t["params"]) for t in listed] == [
        [n for n in order if n in t["params"]] for t in listed
    ]
    study_main(["--server", server.address, "trials", "mlp-digits", "--format", "csv"])
    text = capsys.readouterr().out
    rows = list(csv.DictReader(text.splitlines()))
    assert math.isclose(float(rows[0]["value"]), float(rows[0]["dropout"]) + 1.0)
    assert text.splitlines()[0].split(",")[4 : 4 + len(order)] == order  # the study's order
    exported = tmp_path / "trials.csv"
    study_main(["--server", server.address, "export", "mlp-digits", "-o", str(exported)])
    assert len(list(csv.DictReader(exported.open()))) == 3
    with pytest.raises(SystemExit, match="pass --yes"):  # no terminal to confirm on
        study_main(["--server", server.address, "delete", "mlp-digits"])
    assert [s.name for s in client.list_studies()] == ["mlp-digits"]
    study_main(["--server", server.address, "delete", "mlp-digits", "--yes"])
    assert not list(client.list_studies())


def test_show_fits_an_80_column_terminal(server, client: Client, capsys, monkeypatch) -> None:
    study_main(["--server", server.address, "create", "--config", str(EXAMPLE)])
    study = client.study("mlp-digits")
    for trial in study.suggest(3, worker_id="a-long-worker-name-0"):
        trial.complete(trial.params["dropout"] + 1.0, metrics={"val_accuracy": 0.97})
    monkeypatch.setenv("COLUMNS", "80")
    capsys.readouterr()
    study_main(["--server", server.address, "show", "mlp-digits"])
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    start = next(k for k, line in enumerate(lines) if "best 3 trials" in line)
    best = lines[start:]
    for name in [p.name for p in study.info().config.parameters] + ["val_accuracy"]:
        assert any(name in line for line in best), name  # whole, not cut to "lea…"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: s\nparameters:\n  - {name: x, type: float, low: 0, high: one}\n",
            ":3: parameters[0].high: must be a number",
        ),
        (
            "name: s\nparameters:\n  - {name: x, type: float, low: 0, high: 1}\n"
            "  - {name: y, type: complex}\n",
            ":4: parameters[1].type: must be float, int or",
        ),
        ("name: s\nbudget: 3\nparameters: []\n", ":2: budget: unknown field"),
        ("name: s\nparameters: [\n", "not valid YAML"),
    ],
)
def test_a_bad_file_names_its_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    with pytest.raises(StudyFileError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        load_study_file(path)


def test_a_config_the_server_refuses_points_at_the_line(server, tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("name: s\nparameters:\n  - {name: x, type: float, low: 2, high: 1}\n")
    with pytest.raises(SystemExit, match=r"study.yaml:3: config.parameters\[0\]") as raised:
        study_main(["--server", server.address, "create", "--config", str(path)])
    assert str(raised.value).count("config.parameters[0]") == 1


def test_a_reader_that_stops_early_gets_no_traceback(server, client: Client) -> None:
    """`hyperdial study trials NAME --format csv | head -1` with more than a pipe holds."""
    study = client.create_study("long", [float_param("x", 0.0, 1.0)], algorithm="random")
    study.import_trials([({"x": k / 3000}, k / 3000) for k in range(3000)])
    hyperdial = Path(sys.executable).with_name("hyperdial")
    command = f"{hyperdial} study --server {server.address} trials long --format csv | head -1"
    ran = subprocess.run(
        ["bash", "-c", f"{command}; exit ${{PIPESTATUS[0]}}"], capture_output=True, text=True
    )
    assert ran.stdout.startswith("trial,state,value,worker,x")
    assert "Traceback" not in ran.stderr, ran.stderr
    assert ran.returncode == 0


def test_yaml_1_2_exponents_are_numbers(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("name: s\nparameters:\n  - {name: lr, type: float, low: 1e-5, high: 1E-1}\n")
    (parameter,) = load_study_file(path).parameters
    assert (parameter.float_range.low, parameter.float_range.high) == (1e-5, 0.1)


@pytest.fixture
def finished_study(client: Client) -> str:
    space = [
        float_param("lr", 1e-4, 1e-1, log=True),
        int_param("layers", 1, 4),
        categorical("optimizer", ["adam", "sgd"]),
        float_param("noise", 0.0, 1.0),
    ]
    study = client.create_study("plotted", space, max_trials=40, seed=2)
    while (trial := study.next_trial("w")) is not None:
        p = trial.params
        trial.complete(
            (math.log10(p["lr"]) + 2.5) ** 2 + (p["optimizer"] == "sgd") + 0.01 * p["noise"]
        )
    return "plotted"


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "pareto"])
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_every_plot_kind_renders_a_real_study(
    client: Client, finished_study: str, tmp_path: Path, kind: str, suffix: str
) -> None:
    output = plot(client, finished_study, kind, tmp_path / f"{kind}{suffix}")
    if suffix == ".png":
        with Image.open(output) as image:
            image.verify()
            assert image.format == "PNG"
            width, height = image.size
        assert 300 <= width <= 4000
        assert 200 <= height <= 4000
    else:
        text = output.read_text()
        assert "<svg" in text
        assert len(text) > 5000


def test_importance_ranks_the_parameters_that_matter(client: Client, finished_study: str) -> None:
    study = client.study(finished_study)
    shares = importances(
        list(study.trials()), [Axis.of(p) for p in study.info().config.parameters]
    )
    assert shares["lr"] > shares["noise"]
    assert shares["optimizer"] > shares["noise"]
    assert shares["noise"] < 0.2


TRADE_OFF = """\
name: trade-off
objectives:
  - {metric: loss, goal: minimize}
  - {metric: size, goal: minimize}
  - {metric: speed, goal: maximize}
constraints:
  - {metric: size, max: 0.9}
max_trials: 30
seed: 5
parameters:
  - {name: x, type: float, low: 0.0, high: 1.0}
"""


def test_a_multi_objective_study_file_shows_and_plots_its_front(
    server, client: Client, capsys, tmp_path: Path
) -> None:
    spec = tmp_path / "trade-off.yaml"
    spec.write_text(TRADE_OFF)
    study_main(["--server", server.address, "create", "--config", str(spec)])
    study = client.study("trade-off")
    assert [o.metric for o in study.info().config.objectives] == ["loss", "size", "speed"]
    while (trial := study.next_trial("w")) is not None:
        x = trial.params["x"]
        trial.complete(metrics={"loss": (1 - x) ** 2, "size": x, "speed": 1 - abs(x - 0.5)})
    front = study.best_trials(0)
    assert front
    assert all(t.metrics["size"] <= 0.9 for t in front)
    capsys.readouterr()
    study_main(["--server", server.address, "show", "trade-off"])
    shown = capsys.readouterr().out
    assert f"Pareto front: {len(front)} trials" in shown
    assert "size <= 0.9" in shown
    assert "hypervolume" in shown
    for suffix in (".png", ".svg"):
        output = plot(client, "trade-off", "pareto", tmp_path / f"three{suffix}")
        assert output.stat().st_size > 5000
    with pytest.raises(ValueError, match="pareto needs several"):
        plot(client, _single_objective(client), "pareto", tmp_path / "single.png")


def _single_objective(client: Client) -> str:
    study = client.create_study("single", [float_param("x", 0.0, 1.0)], max_trials=2)
    while (trial := study.next_trial("w")) is not None:
        trial.complete(trial.params["x"])
    return "single"


def test_a_two_objective_pareto_plot_is_a_png(client: Client, tmp_path: Path) -> None:
    study = client.create_study(
        "two", [float_param("x", 0.0, 1.0)], objectives=[("a", "minimize"), ("b", "minimize")]
    )
    for trial in study.suggest(12, worker_id="w"):
        x = trial.params["x"]
        trial.complete(metrics={"a": x, "b": (1 - x) ** 2})
    output = plot(client, "two", "pareto", tmp_path / "two.png")
    with Image.open(output) as image:
        image.verify()
        assert image.format == "PNG"


def test_a_multi_objective_study_round_trips_through_csv(
    server, client: Client, tmp_path: Path
) -> None:
    goals = [("a", "minimize"), ("b", "maximize")]
    limit = [outcome_constraint("c", max=0.7)]
    source = client.create_study("mo-source", [float_param("x", 0.0, 1.0)], objectives=goals)
    for trial in source.suggest(10, worker_id="w"):
        x = trial.params["x"]
        trial.complete(metrics={"a": x, "b": x * x, "c": x, "note": 1.0})
    exported = tmp_path / "mo.csv"
    study_main(["--server", server.address, "export", "mo-source", "-o", str(exported)])
    target = client.create_study(
        "mo-target", [float_param("x", 0.0, 1.0)], objectives=goals, constraints=limit
    )
    study_main(["--server", server.address, "import", "mo-target", "--from", str(exported)])
    imported = list(target.trials())
    assert len(imported) == 10
    assert all(set(t.metrics) == {"a", "b", "c"} for t in imported)  # what the study needs
    front = target.best_trials(0)
    assert front
    assert all(t.metrics["c"] <= 0.7 for t in front)
    assert any(t.violates_constraints for t in imported)
