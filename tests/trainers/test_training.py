"""Real training of small networks on scikit-learn's bundled data."""

import math

import pytest
import torch
from torch import nn

from hyperdial.trainers.data import load_dataset
from hyperdial.trainers.early_stopping import EarlyStopping
from hyperdial.trainers.models import build_model
from hyperdial.trainers.training import TrainingConfig, cross_validate, evaluate, fit

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_early_stopping_waits_patience_epochs_after_the_best() -> None:
    stopper = EarlyStopping(patience=2, min_delta=0.01)
    improved = [stopper.update(v) for v in [1.0, 0.8, 0.795, float("nan"), 0.9]]
    assert improved == [True, True, False, False, False]
    assert stopper.best == 0.8
    assert stopper.best_epoch == 1
    assert stopper.should_stop
    maximizing = EarlyStopping(patience=1, mode="max")
    maximizing.update(0.5)
    assert not maximizing.should_stop
    maximizing.update(0.4)
    assert maximizing.should_stop


def test_the_split_is_fixed_and_standardized_on_train_only(digits) -> None:
    again = load_dataset("digits", seed=0)
    assert torch.equal(digits.test.x, again.test.x)
    assert len(digits.train.y) + len(digits.validation.y) + len(digits.test.y) == 1797
    assert digits.classes == 10
    assert digits.train.x.mean().abs() < 1e-5
    assert digits.validation.x.mean().abs() > 1e-4
    other = load_dataset("digits", seed=1)
    assert not torch.equal(digits.test.x, other.test.x)
    diabetes = load_dataset("diabetes")
    assert diabetes.task == "regression"
    assert diabetes.classes == 0
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("mnist")


def test_models_follow_the_parameters(digits) -> None:
    mlp = build_model(
        {"hidden_layers": 3, "units": 32, "units_2": 48, "dropout": 0.3, "batch_norm": "yes"},
        64,
        10,
    )
    linears = [m for m in mlp if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [32, 48, 32, 10]
    assert {m.p for m in mlp if isinstance(m, nn.Dropout)} == {0.3}
    assert sum(isinstance(m, nn.BatchNorm1d) for m in mlp) == 3
    cnn = build_model({"model": "cnn", "channels": 8}, 64, 10, digits.image_shape)
    assert cnn(digits.train.x[:5]).shape == (5, 10)
    with pytest.raises(ValueError, match="activation"):
        build_model({"activation": "sigmoidish"}, 64, 10)
    with pytest.raises(ValueError, match="needs image data"):
        build_model({"model": "cnn"}, 30, 2)


def test_weight_decay_and_optimizer_reach_the_optimizer() -> None:
    model = nn.Linear(4, 2)
    config = TrainingConfig.from_params(
        {"optimizer": "sgd", "weight_decay": 1e-3, "learning_rate": 0.05}
    )
    optimizer = config.optimizer_for(model)
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.param_groups[0]["weight_decay"] == 1e-3
    assert optimizer.param_groups[0]["lr"] == 0.05
    with pytest.raises(ValueError, match="unknown parameter 'lerning_rate'"):
        TrainingConfig.from_params({"lerning_rate": 0.1})


def test_an_mlp_learns_digits_and_keeps_its_best_weights(digits) -> None:
    params = {"learning_rate": 3e-3, "hidden_layers": 1, "units": 64, "epochs": 8, "dropout": 0.1}
    result = fit(digits, params, device=CPU, seed=0)
    assert result.best_accuracy > 0.9
    loss, accuracy = evaluate(result.model, digits.validation, classification=True)
    assert loss == pytest.approx(result.best_loss, rel=1e-6)  # best epoch's weights restored
    assert accuracy == pytest.approx(result.best_accuracy)
    again = fit(digits, params, device=CPU, seed=0)
    assert again.best_loss == result.best_loss  # reproducible on the CPU


def test_early_stopping_ends_a_diverging_run(digits) -> None:
    params = {
        "optimizer": "sgd",
        "learning_rate": 5.0,
        "momentum": 0.99,
        "epochs": 30,
        "patience": 2,
    }
    result = fit(digits, params, device=CPU, seed=0)
    assert result.epochs == result.best_epoch + 1 + 2 < 30
    assert math.isfinite(result.best_loss)


def test_the_server_can_stop_a_run(digits) -> None:
    seen = []

    def on_epoch(epoch: int, loss: float, accuracy: float) -> bool:
        seen.append(epoch)
        return epoch == 1

    result = fit(digits, {"epochs": 10}, device=CPU, seed=0, on_epoch=on_epoch)
    assert seen == [0, 1]
    assert result.stopped_by_server
    assert result.epochs == 2


def test_a_stop_at_the_epoch_a_run_ends_anyway_leaves_it_completed(digits) -> None:
    params = {"optimizer": "sgd", "learning_rate": 5.0, "momentum": 0.99, "epochs": 30}
    params["patience"] = 2
    alone = fit(digits, params, device=CPU, seed=0)
    assert alone.epochs < 30  # patience ended it
    for ends, run_params in ((alone.epochs, params), (3, {"epochs": 3})):
        told = fit(
            digits,
            run_params,
            device=CPU,
            seed=0,
            on_epoch=lambda epoch, loss, accuracy, ends=ends: epoch == ends - 1,
        )
        assert not told.stopped_by_server
        assert told.epochs == ends


def test_cross_validation_trains_every_fold_and_stops_when_told(digits) -> None:
    params = {"epochs": 2, "hidden_layers": 1, "units": 32}
    folds = cross_validate(digits, params, 3, device=torch.device("cpu"))
    assert len(folds.fold_losses) == 3
    assert folds.score == pytest.approx(sum(folds.fold_losses) / 3)
    stopped = cross_validate(
        digits, params, 3, device=torch.device("cpu"), on_fold=lambda fold, loss: True
    )
    assert stopped.stopped_by_server
    assert len(stopped.fold_losses) == 1
