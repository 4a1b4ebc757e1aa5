"""The plain-torch kernel and marginal likelihood equal GPyTorch's, values and gradients."""

from __future__ import annotations

import torch
from gpytorch.mlls import ExactMarginalLogLikelihood
from tests.server.algorithms.test_gp import hartmann_like

from hyperdial.server.algorithms.gp import TrainingData, fitted_gp, gp_model
from hyperdial.server.algorithms.matern import fit_closure, matern52, negative_log_likelihood


def _gradients(loss: torch.Tensor, parameters: list[torch.Tensor]) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, parameters))


def test_the_negative_log_likelihood_and_its_gradients_are_gpytorchs() -> None:
    data = hartmann_like(30, 4)
    model = gp_model(data.x, data.y, [])
    with torch.no_grad():  # away from the initial values, where every lengthscale is equal
        lengthscales = torch.tensor([[-0.7, 0.2, 0.9, -0.1]])
        model.covar_module.base_kernel.raw_lengthscale.copy_(lengthscales)
        model.covar_module.raw_outputscale.fill_(0.4)
        model.likelihood.noise_covar.raw_noise.fill_(-3.0)
        model.mean_module.raw_constant.fill_(0.25)
    model.train()
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    parameters = [p for p in mll.parameters() if p.requires_grad]
    theirs = -mll(model(*model.train_inputs), model.train_targets)
    ours = negative_log_likelihood(mll)
    torch.testing.assert_close(ours, theirs)
    for mine, reference in zip(
        _gradients(ours, parameters), _gradients(theirs, parameters), strict=True
    ):
        torch.testing.assert_close(mine, reference)


def test_the_kernel_is_gpytorchs() -> None:
    data = hartmann_like(20, 3)
    kernel = fitted_gp(data, 300, []).model.covar_module
    points = torch.rand(7, 3, dtype=torch.float64)
    expected = kernel(points, data.x).to_dense()
    ours = matern52(points, data.x, kernel.base_kernel.lengthscale, kernel.outputscale)
    torch.testing.assert_close(ours, expected)


def test_models_with_categories_or_several_outputs_keep_gpytorchs_fit() -> None:
    data = hartmann_like(20, 3)
    mixed = gp_model(data.x.round(), data.y, [2])
    both = TrainingData(data.x, torch.cat([data.y, -data.y], dim=-1), objectives=2)
    several = gp_model(both.x, both.y, [])
    continuous = gp_model(data.x, data.y, [])
    assert fit_closure(ExactMarginalLogLikelihood(mixed.likelihood, mixed)) is None
    assert fit_closure(ExactMarginalLogLikelihood(several.likelihood, several)) is None
    assert fit_closure(ExactMarginalLogLikelihood(continuous.likelihood, continuous)) is not None
