"""The Gaussian process behind `bayes`: its kernel, priors, noise floor and fit.

A Matern-5/2 kernel with `LengthscalePrior` on each feature, hyperparameters
fitted in log space (as Optuna's GPSampler does), one independent output per
objective or constraint slack. Hyperparameters are fitted on at most
`max_fit_points` observations (the best third and a seeded sample of the
rest), then the model conditions on all it was given. A fit may start from
the hyperparameters of the study's previous fit (`warm_start`): the optimum
moves little with one more observation, so fewer L-BFGS steps reach it
(9-21 ms instead of 12-25 ms at 20-100 observations, measured, with the
likelihood of `likelihood.py`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models.gp_regression import SingleTaskGP
from botorch.models.gp_regression_mixed import MixedSingleTaskGP
from botorch.models.gpytorch import GPyTorchModel
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import GammaPrior

from hyperdial.server.algorithms.likelihood import LengthscalePrior, fit_closure

# Deterministic objectives (benchmarks, a seeded training run) need a noise floor well
# below BoTorch's default 1e-4 of the standardized variance to resolve the optimum. Lower
# floors (1e-7, 1e-8) refined Branin further but let the fit explain 14 points of a
# quadratic exactly and extrapolate wildly beside them (tests/e2e/test_import.py).
MIN_NOISE = 1e-6
# The gradient tolerance of L-BFGS-B for a fit started from the previous fit's optimum; a
# cold fit keeps BoTorch's defaults. With 1e-3 the Hartmann6 median regret after 50 trials
# rose from 1.4e-4 to 2.1e-4 (30 seeds); with 1e-4 it is 1.7e-4, better on 21 of 30
# seeds, about what a change of rounding alone moves it. BoTorch's batched fit of several
# outputs takes the same option.
WARM_FIT_OPTIONS = {"gtol": 1e-4}

# Fitted kernel, mean and noise parameters by name, as (nested lists of) floats: they cross
# the compute pool's process boundary with every suggestion, and a pickled tensor goes
# through shared memory there (about 0.25 ms a tensor each way, measured), a float does not.
Hyperparameters = dict[str, float | list[Any]]


@dataclass(frozen=True)
class TrainingData:
    """Model features and outcomes of the observations used.

    The first `objectives` columns of `y` are objective values, "higher is
    better"; the rest are constraint slacks, feasible where <= 0.
    """

    x: torch.Tensor
    y: torch.Tensor
    objectives: int = 1
    # Per objective, in the same "higher is better" sign: the given hypervolume
    # reference, or None to infer it.
    references: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class Incumbent:
    """What LogEI improves on: a point's feature row and the value credited to it."""

    x: torch.Tensor
    value: float


def incumbent(model: GPyTorchModel, data: TrainingData, by_mean: bool) -> Incumbent:
    """The observed point with the best posterior mean (`by_mean`), or the best observation.

    On a noisy objective the best observation is a lucky draw: improving on it
    asks for more luck, and the search keeps returning to where it was lucky.
    The posterior mean is the model's estimate of what a point truly returns; on
    a deterministic objective it equals the observation.
    """
    if not by_mean:
        best = int(data.y[:, 0].argmax())
        return Incumbent(data.x[best], float(data.y[best, 0]))
    return best_mean(model, data.x)


def best_mean(model: GPyTorchModel, x: torch.Tensor) -> Incumbent:
    """The point among feature rows `x` with the best posterior mean, and that mean."""
    with torch.no_grad():
        means = model.posterior(x).mean[..., 0]
    best = int(means.argmax())
    return Incumbent(x[best], float(means[best]))


def keep_best(values: Sequence[float], limit: int, seed: int) -> list[int]:
    """Indices of at most `limit` observations: the best third, then a seeded sample."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    if len(order) <= limit:
        return order
    best = limit // 3
    rest = order[best:]
    return order[:best] + random.Random(seed).sample(rest, limit - best)


def _log_scale(initial: float, floor: float = 0.0) -> GreaterThan:
    """A hyperparameter above `floor`, its excess fitted in log space, as in Optuna's GPSampler.

    In log space L-BFGS moves the noise from 1 to 1e-4 in a few steps; on the raw
    scale it took 135 iterations of a 200-point fit, or stopped short of the optimum.
    """
    return GreaterThan(floor, transform=torch.exp, inv_transform=torch.log, initial_value=initial)


def _matern(
    batch_shape: torch.Size, ard_num_dims: int, active_dims: list[int] | None = None
) -> MaternKernel:
    return MaternKernel(
        nu=2.5,
        ard_num_dims=ard_num_dims,
        batch_shape=batch_shape,
        active_dims=active_dims,
        lengthscale_prior=LengthscalePrior(),
        lengthscale_constraint=_log_scale(1.0),
    )


def _likelihood(batch_shape: torch.Size) -> GaussianLikelihood:
    return GaussianLikelihood(
        noise_prior=GammaPrior(1.1, 30.0),
        noise_constraint=_log_scale(1.0, MIN_NOISE),
        batch_shape=batch_shape,
    )


def gp_model(x: torch.Tensor, y: torch.Tensor, categorical: Sequence[int]) -> GPyTorchModel:
    """A Matern-5/2 GP with one independent output per column of `y`.

    `categorical` are the feature columns of categorical parameters.
    """
    batch_shape = torch.Size([y.shape[-1]]) if y.shape[-1] > 1 else torch.Size()
    likelihood = _likelihood(batch_shape)
    if categorical:
        return MixedSingleTaskGP(
            x,
            y,
            cat_dims=sorted(categorical),
            cont_kernel_factory=_matern,
            likelihood=likelihood,
        )
    kernel = ScaleKernel(
        _matern(batch_shape, x.shape[-1]),
        batch_shape=batch_shape,
        outputscale_prior=GammaPrior(2.0, 1.0),
        outputscale_constraint=_log_scale(1.0),
    )
    return SingleTaskGP(x, y, likelihood=likelihood, covar_module=kernel)


@dataclass(frozen=True)
class FittedGP:
    """A model conditioned on the data, and the hyperparameters its fit found."""

    model: GPyTorchModel
    hyperparameters: Hyperparameters


def fitted_gp(
    data: TrainingData,
    max_fit_points: int,
    categorical: Sequence[int],
    warm_start: Hyperparameters | None = None,
) -> FittedGP:
    """Fits hyperparameters on a capped subset, then conditions on all of `data`.

    The fit starts from `warm_start` where its shapes fit this model's.
    """
    values = data.y[:, 0].tolist()
    subset = keep_best(values, max_fit_points, len(values))
    fitted = gp_model(data.x[subset], data.y[subset], categorical)
    options = None
    if warm_start is not None:
        if _loaded(fitted, warm_start):
            options = WARM_FIT_OPTIONS
        else:
            fitted = gp_model(data.x[subset], data.y[subset], categorical)
    mll = ExactMarginalLogLikelihood(fitted.likelihood, fitted)
    fit_gpytorch_mll(
        mll,
        closure=fit_closure(mll),
        optimizer_kwargs=None if options is None else {"options": options},
    )
    hyperparameters: Hyperparameters = {
        name: value.tolist() for name, value in fitted.named_parameters()
    }
    if len(subset) == len(values):
        return FittedGP(fitted, hyperparameters)
    model = gp_model(data.x, data.y, categorical)
    _loaded(model, hyperparameters)
    model.eval()
    return FittedGP(model, hyperparameters)


def _loaded(model: GPyTorchModel, hyperparameters: Hyperparameters) -> bool:
    """Loads a previous fit's hyperparameters; False where their shapes do not fit `model`."""
    state = {
        name: torch.tensor(value, dtype=torch.float64) for name, value in hyperparameters.items()
    }
    try:
        model.load_state_dict(state, strict=False)
    except RuntimeError:  # another number of outputs or features: start cold
        return False
    return True
