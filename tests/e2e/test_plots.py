"""What the plots draw, read back from the figures of a real study with every kind of parameter."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from hyperdial.client import (
    Client,
    categorical,
    condition,
    float_param,
    int_param,
    median_stopping,
)
from hyperdial.client.tools.plot_axes import Axis
from hyperdial.client.tools.plot_parallel import parallel
from hyperdial.client.tools.plots import curves, history, importance, slices
from hyperdial.client.trial import Trial
from hyperdial.server.testing import serve

SPACE = [
    float_param("learning_rate", 1e-4, 1e-1, log=True),
    int_param("hidden_layers", 1, 4),
    int_param("units_3", 16, 256, log=True, when=condition("hidden_layers", min=3)),
    categorical("optimizer", ["adam", "sgd", "rmsprop"]),
]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Trial], list[Axis]]:
    """40 trials with learning curves, some stopped early; the parameters' axes."""
    database = f"sqlite:///{tmp_path_factory.mktemp('plots') / 'plots.db'}"
    with serve(database) as server, Client(server.address) as client:
        created = client.create_study(
            "mlp-digits",
            SPACE,
            algorithm="random",
            max_trials=40,
            seed=3,
            stopping=median_stopping(min_trials=4),
        )
        while (trial := created.next_trial("w")) is not None:
            p = trial.params
            base = (math.log10(p["learning_rate"]) + 2.5) ** 2 + 0.2 * (p["optimizer"] == "sgd")
            for step in range(6):
                if trial.report(step, base + 1 / (step + 1)):
                    trial.prune()
                    break
            else:
                trial.complete(base + 1 / 6)
        trials = list(created.trials(measurements=True))
        axes = [Axis.of(p) for p in created.info().config.parameters]
    return trials, axes


def _texts(figure: Figure) -> list[str]:
    texts = [t.get_text() for t in figure.findobj(match=lambda o: hasattr(o, "get_text"))]
    plt.close(figure)
    return texts


def test_axes_tick_their_own_values() -> None:
    log_range, integers, log_integers, choices = (Axis.of(p) for p in SPACE)
    assert [label for _, label in integers.ticks()] == ["1", "2", "3", "4"]
    assert [label for _, label in log_range.ticks()][::2] == ["0.0001", "0.00316", "0.1"]
    assert [label for _, label in log_integers.ticks()] == ["16", "32", "64", "128", "256"]
    assert [label for _, label in choices.ticks()] == ["adam", "sgd", "rmsprop"]


def test_parallel_coordinates_label_values_and_show_inactive_parameters(study) -> None:
    trials, axes = study
    texts = _texts(parallel(trials, axes, "val_loss", "mlp-digits"))
    assert "inactive" in texts  # units_3 where hidden_layers < 3
    assert {"adam", "sgd", "rmsprop", "256", "0.1"} <= set(texts)
    assert not any(text in texts for text in ("position in range", "0.25", "0.75"))


def test_curves_mark_the_stopped_trials(study) -> None:
    trials, _ = study
    pruned = sum(t.state == "PRUNED" for t in trials)
    done = sum(t.state == "COMPLETED" for t in trials)
    assert pruned > 0
    texts = _texts(curves(trials, "val_loss", "mlp-digits"))
    assert f"pruned ({pruned}), x: stopped" in texts
    assert f"completed ({done})" in texts


def test_importance_says_what_each_bar_rests_on(study) -> None:
    trials, axes = study
    texts = _texts(importance(trials, axes, "mlp-digits"))
    done = [t for t in trials if t.state == "COMPLETED"]
    with_units = sum("units_3" in t.params for t in done)
    assert with_units < len(done)
    assert any(text.endswith(f"({with_units} trials)") for text in texts)
    assert any(f"({len(done)} completed trials)" in text for text in texts)


def test_every_title_names_the_study(study) -> None:
    trials, axes = study
    for figure in (
        history(trials, True, "val_loss", "mlp-digits"),
        curves(trials, "val_loss", "mlp-digits"),
        parallel(trials, axes, "val_loss", "mlp-digits"),
        slices(trials, axes, "val_loss", "mlp-digits"),
        importance(trials, axes, "mlp-digits"),
    ):
        assert any(text.startswith("mlp-digits: ") for text in _texts(figure))
