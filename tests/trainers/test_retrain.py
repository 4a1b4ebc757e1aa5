"""The final retrain: best configuration on train + validation, scored once on the test split."""

import json
import math
import statistics

import pytest
import torch

from hyperdial.client import float_param
from hyperdial.trainers.data import load_dataset
from hyperdial.trainers.final import retrain
from hyperdial.trainers.models import build_model
from hyperdial.trainers.training import evaluate, fit


def test_retrain_writes_a_model_that_reproduces_its_test_score(client, tmp_path) -> None:
    study = client.create_study("final", [float_param("learning_rate", 1e-3, 1e-2, log=True)])
    digits = load_dataset("digits", seed=0)
    for _ in range(2):  # two real trials, reported as a trainer would
        trial = study.next_trial("w")
        result = fit(
            digits,
            {**trial.params, "epochs": 4, "hidden_layers": 1},
            device=torch.device("cpu"),
            on_epoch=lambda epoch, loss, accuracy, t=trial: t.report(epoch, loss),
        )
        trial.complete(result.best_loss, metrics={"val_accuracy": result.best_accuracy})
    client_study = client.study("final")
    (best,) = client_study.best_trials(1)
    report = retrain(client, "final", "digits", tmp_path, device="cpu")
    assert report.trial == best.id
    assert report.epochs == min(best.measurements, key=lambda m: m[1])[0] + 1
    assert report.test_accuracy > 0.85
    assert report.validation_accuracy == best.metrics["val_accuracy"]  # stored, not retrained
    written = json.loads((tmp_path / "report.json").read_text(), parse_constant=_no_nan)
    assert written["test_loss"] == pytest.approx(report.test_loss)
    assert written["test_rmse"] is None  # a regression score of a classification
    markdown = (tmp_path / "report.md").read_text()
    assert "test accuracy" in markdown
    assert "RMSE" not in markdown
    assert "R²" not in markdown
    model = build_model(report.params, 64, 10, digits.image_shape)
    model.load_state_dict(torch.load(tmp_path / "model.pt"))
    loss, accuracy = evaluate(model, digits.test, classification=True)
    assert loss == pytest.approx(report.test_loss, rel=1e-6)
    assert accuracy == pytest.approx(report.test_accuracy)


def _no_nan(constant: str) -> float:
    raise AssertionError(f"report.json holds {constant}, which is not JSON")


def test_a_regression_report_shows_its_scores_and_no_accuracy(client, tmp_path) -> None:
    study = client.create_study("regression", [float_param("learning_rate", 1e-3, 1e-2, log=True)])
    diabetes = load_dataset("diabetes", seed=0)
    trial = study.next_trial("w")
    result = fit(
        diabetes,
        {**trial.params, "epochs": 2, "hidden_layers": 1, "units": 16},
        device=torch.device("cpu"),
        on_epoch=lambda epoch, loss, accuracy: trial.report(epoch, loss),
    )
    trial.complete(result.best_loss)
    report = retrain(client, "regression", "diabetes", tmp_path, device="cpu")
    assert math.isnan(report.test_accuracy)
    assert math.isnan(report.validation_accuracy)
    written = json.loads((tmp_path / "report.json").read_text(), parse_constant=_no_nan)
    assert written["test_accuracy"] is None
    assert written["validation_accuracy"] is None
    assert written["test_rmse"] == pytest.approx(report.test_rmse)
    markdown = (tmp_path / "report.md").read_text()
    assert "test RMSE" in markdown
    assert "test R²" in markdown
    assert "accuracy" not in markdown


def test_retrain_needs_a_completed_trial(client, tmp_path) -> None:
    client.create_study("empty", [float_param("learning_rate", 1e-3, 1e-2, log=True)])
    with pytest.raises(ValueError, match="no completed trial"):
        retrain(client, "empty", "digits", tmp_path, device="cpu")


def _tuned_study(client, name: str):
    """A study of three real digits trials, reported as a trainer would."""
    study = client.create_study(name, [float_param("learning_rate", 1e-3, 1e-1, log=True)])
    digits = load_dataset("digits", seed=0)
    for _ in range(3):
        trial = study.next_trial("w")
        result = fit(
            digits,
            {**trial.params, "epochs": 3, "hidden_layers": 1, "units": 32},
            device=torch.device("cpu"),
            on_epoch=lambda epoch, loss, accuracy, t=trial: t.report(epoch, loss),
        )
        trial.complete(result.best_loss)
    return study


def test_repeats_train_with_successive_seeds_and_report_the_mean_and_sd(client, tmp_path) -> None:
    study = _tuned_study(client, "repeated")
    recommended = study.recommended()
    report = retrain(client, "repeated", "digits", tmp_path, seed=5, repeats=3, device="cpu")
    assert report.trial == recommended.trial.id
    assert report.rule == recommended.rule == "best_posterior_mean"
    assert report.estimate == pytest.approx(recommended.estimate)
    assert [run.seed for run in report.runs] == [5, 6, 7]
    losses = [run.test_loss for run in report.runs]
    assert len(set(losses)) == 3  # three different trainings
    assert report.test_loss == pytest.approx(statistics.fmean(losses))
    assert report.test_loss_sd == pytest.approx(statistics.stdev(losses))
    written = json.loads((tmp_path / "report.json").read_text())
    assert [run["test_loss"] for run in written["runs"]] == pytest.approx(losses)
    assert "retrained 3 time(s)" in (tmp_path / "report.md").read_text()


def test_pick_observed_retrains_the_best_observed_trial(client, tmp_path) -> None:
    study = _tuned_study(client, "observed")
    (best,) = study.best_trials(1)
    report = retrain(client, "observed", "digits", tmp_path, pick="observed", device="cpu")
    assert (report.trial, report.rule) == (best.id, "best_observed")
    assert math.isnan(report.estimate)
    assert len(report.runs) == 1
    assert report.test_loss_sd == 0.0
    with pytest.raises(ValueError, match="repeats"):
        retrain(client, "observed", "digits", tmp_path, repeats=0, device="cpu")
