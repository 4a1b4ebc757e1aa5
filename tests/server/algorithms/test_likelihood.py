"""The hand-derived marginal likelihood equals GPyTorch's, values and gradients."""

from __future__ import annotations

import pytest
import torch
from botorch.optim.utils import get_parameters
from gpytorch.mlls import ExactMarginalLogLikelihood
from linear_operator.utils.cholesky import psd_safe_cholesky
from linear_operator.utils.errors import NanError, NotPSDError
from tests.server.algorithms.test_gp import hartmann_like

from hyperdial.server.algorithms.gp import TrainingData, gp_model
from hyperdial.server.algorithms.likelihood import _cholesky, fit_closure


def _likelihood(x: torch.Tensor, y: torch.Tensor) -> ExactMarginalLogLikelihood:
    model = gp_model(x, y, [])
    model.train()
    return ExactMarginalLogLikelihood(model.likelihood, model)


def _moved(mll: ExactMarginalLogLikelihood, lengthscales: list[float], noise: float) -> None:
    """Away from the initial values, where every lengthscale is equal."""
    model = mll.model
    with torch.no_grad():
        model.covar_module.base_kernel.raw_lengthscale.copy_(torch.tensor([lengthscales]))
        model.covar_module.raw_outputscale.fill_(0.4)
        model.likelihood.noise_covar.raw_noise.fill_(noise)
        model.mean_module.raw_constant.fill_(0.25)


@pytest.mark.parametrize(("count", "noise"), [(30, -3.0), (12, -14.0), (80, 1.5)])
def test_the_loss_and_its_gradients_are_gpytorchs(count: int, noise: float) -> None:
    data = hartmann_like(count, 4)
    mll = _likelihood(data.x, data.y)
    _moved(mll, [-0.7, 0.2, 0.9, -0.1], noise)
    parameters = get_parameters(mll, requires_grad=True)
    model = mll.model
    theirs = -mll(model(*model.train_inputs), model.train_targets)
    expected = torch.autograd.grad(theirs, list(parameters.values()))
    closure = fit_closure(mll)
    assert closure is not None
    loss, gradients = closure()
    torch.testing.assert_close(loss, theirs.detach())
    for name, mine, reference in zip(parameters, gradients, expected, strict=True):
        torch.testing.assert_close(mine, reference, msg=lambda m, n=name: f"{n}: {m}")


def test_a_singular_covariance_is_jittered_as_gpytorch_does() -> None:
    singular = torch.ones(4, 4, dtype=torch.float64)  # rank 1
    expected = psd_safe_cholesky(singular)
    torch.testing.assert_close(torch.from_numpy(_cholesky(singular.numpy())), expected)
    indefinite = torch.diag(torch.tensor([1.0, -1.0], dtype=torch.float64))
    with pytest.raises(NotPSDError):
        psd_safe_cholesky(indefinite)
    with pytest.raises(NotPSDError):
        _cholesky(indefinite.numpy())


def test_a_nan_parameter_is_a_failed_step_for_the_fit_to_back_off_from() -> None:
    data = hartmann_like(10, 3)
    mll = _likelihood(data.x, data.y)
    _moved(mll, [float("nan"), 0.5, 0.5], -3.0)
    closure = fit_closure(mll)
    assert closure is not None
    with pytest.raises(NanError):
        closure()


def test_models_with_categories_or_several_outputs_keep_gpytorchs_fit() -> None:
    data = hartmann_like(20, 3)
    mixed = gp_model(data.x.round(), data.y, [2])
    both = TrainingData(data.x, torch.cat([data.y, -data.y], dim=-1), objectives=2)
    several = gp_model(both.x, both.y, [])
    continuous = gp_model(data.x, data.y, [])
    assert fit_closure(ExactMarginalLogLikelihood(mixed.likelihood, mixed)) is None
    assert fit_closure(ExactMarginalLogLikelihood(several.likelihood, several)) is None
    assert fit_closure(ExactMarginalLogLikelihood(continuous.likelihood, continuous)) is not None
