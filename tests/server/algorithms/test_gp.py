"""The GP fit: a warm start reaches the cold fit's optimum, and a mismatched one is ignored."""

from __future__ import annotations

import pickle

import torch
from gpytorch.mlls import ExactMarginalLogLikelihood

from hyperdial.server.algorithms.gp import FittedGP, TrainingData, fitted_gp


def hartmann_like(n: int, dims: int) -> TrainingData:
    generator = torch.Generator().manual_seed(dims)
    x = torch.rand(n, dims, generator=generator, dtype=torch.float64)
    y = -(x - 0.4).square().sum(-1, keepdim=True) + 0.3 * torch.cos(7 * x[:, :1])
    return TrainingData(x, y)


def log_likelihood(fitted: FittedGP) -> float:
    model = fitted.model
    model.train()
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with torch.no_grad():
        return float(mll(model(*model.train_inputs), model.train_targets).sum())


def test_a_warm_started_fit_reaches_the_cold_fits_likelihood() -> None:
    data = hartmann_like(41, 4)
    previous = fitted_gp(TrainingData(data.x[:40], data.y[:40]), 300, [])
    warm = fitted_gp(data, 300, [], warm_start=previous.hyperparameters)
    cold = fitted_gp(data, 300, [])
    assert abs(log_likelihood(warm) - log_likelihood(cold)) < 0.02
    name = "covar_module.base_kernel.raw_lengthscale"
    assert warm.hyperparameters[name] != previous.hyperparameters[name]
    # The same optimum from another start: the warm start was used.
    assert warm.hyperparameters[name] != cold.hyperparameters[name]


def test_hyperparameters_of_another_shape_start_the_fit_cold() -> None:
    other = fitted_gp(hartmann_like(20, 3), 300, [])
    data = hartmann_like(20, 4)
    warm = fitted_gp(data, 300, [], warm_start=other.hyperparameters)
    cold = fitted_gp(data, 300, [])
    for name, value in cold.hyperparameters.items():
        torch.testing.assert_close(torch.tensor(warm.hyperparameters[name]), torch.tensor(value))


def test_a_model_of_several_outputs_warm_starts_too() -> None:
    data = hartmann_like(30, 3)
    both = TrainingData(data.x, torch.cat([data.y, data.x[:, :1]], dim=-1), objectives=2)
    previous = fitted_gp(TrainingData(both.x[:29], both.y[:29], objectives=2), 300, [])
    warm = fitted_gp(both, 300, [], warm_start=previous.hyperparameters)
    cold = fitted_gp(both, 300, [])
    assert abs(log_likelihood(warm) - log_likelihood(cold)) < 0.02


def test_the_hyperparameters_cross_processes_as_plain_numbers() -> None:
    """No tensors: a pickled tensor would go through shared memory between processes."""
    fitted = fitted_gp(hartmann_like(20, 3), 300, [])
    assert "torch" not in pickle.dumps(fitted.hyperparameters).decode("latin-1")
    restarted = fitted_gp(hartmann_like(20, 3), 300, [], warm_start=fitted.hyperparameters)
    assert restarted.hyperparameters.keys() == fitted.hyperparameters.keys()
