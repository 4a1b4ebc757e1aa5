"""CachedLogEI gives BoTorch's LogEI, values and gradients, on the models bayes fits."""

from __future__ import annotations

import pytest
import torch
from botorch.acquisition.analytic import LogExpectedImprovement
from botorch.models.gp_regression import SingleTaskGP

from hyperdial.server.algorithms.cached_ei import CachedLogEI
from hyperdial.server.algorithms.gp import TrainingData, fitted_gp


def training_data(n: int, categorical: bool) -> TrainingData:
    generator = torch.Generator().manual_seed(n)
    x = torch.rand(n, 3, generator=generator, dtype=torch.float64)
    if categorical:
        x[:, 2] = torch.randint(0, 3, (n,), generator=generator).double()
    y = (x[:, :1] - 0.3).square() + 0.1 * torch.sin(9 * x[:, 1:2]) + 0.2 * x[:, 2:3]
    return TrainingData(x, -y)


@pytest.mark.parametrize(
    ("n", "categorical", "max_fit_points"),
    [(12, False, 300), (40, True, 300), (60, False, 20)],
    ids=["continuous", "mixed", "fitted-on-a-subset"],
)
def test_values_and_gradients_match_botorch(
    n: int, categorical: bool, max_fit_points: int
) -> None:
    data = training_data(n, categorical)
    model = fitted_gp(data, max_fit_points, [2] if categorical else []).model
    best = data.y.max()
    # Beside the observations, where LogEI is worth optimizing: far from them a model this
    # sure of itself puts LogEI in the millions below zero, and rounding differs there.
    generator = torch.Generator().manual_seed(n)
    nudges = 0.03 * torch.randn(17, 3, dtype=torch.float64, generator=generator)
    near = data.x[torch.arange(17) % n]
    points = (near + nudges).clamp(0.0, 1.0).unsqueeze(-2)
    if categorical:
        points[..., 2] = near[:, 2:3]
    ours = points.clone().requires_grad_()
    theirs = points.clone().requires_grad_()
    cached = CachedLogEI(model, best)(ours)
    reference = LogExpectedImprovement(model, best_f=best)(theirs)
    cached.sum().backward()
    reference.sum().backward()
    torch.testing.assert_close(cached, reference, rtol=1e-6, atol=1e-8)
    # The mixed model interpolates (noise at its 1e-6 floor): its covariance is ill-conditioned
    # and the two algebras' gradients differ by up to 1e-4 of their size at a few points.
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-8)


def test_a_model_without_standardized_outcomes_is_refused() -> None:
    data = training_data(12, False)
    with pytest.raises(ValueError, match="Standardize"):
        CachedLogEI(SingleTaskGP(data.x, data.y, outcome_transform=None), 0.0)


def test_a_pending_point_keeps_its_mean_and_loses_its_uncertainty() -> None:
    data = training_data(20, False)
    model = fitted_gp(data, 300, []).model
    point = torch.tensor([[[0.9, 0.1, 0.5]]], dtype=torch.float64)
    alone = CachedLogEI(model, data.y.max())
    believed = CachedLogEI(model, data.y.max(), pending=point[0])
    mean, sigma = alone._mean_and_sigma(point)
    believed_mean, believed_sigma = believed._mean_and_sigma(point)
    torch.testing.assert_close(believed_mean, mean)
    noise_sd = model.likelihood.noise.sqrt() * model.outcome_transform.stdvs
    assert float(believed_sigma) < float(noise_sd) * 1.01 < float(sigma)
    assert float(believed(point)) < float(alone(point)) - 1.0


def test_the_hand_derived_gradient_is_autograds_with_points_pending() -> None:
    data = training_data(30, False)
    model = fitted_gp(data, 300, []).model
    pending = torch.tensor([[0.2, 0.7, 0.4], [0.8, 0.3, 0.6]], dtype=torch.float64)
    acquisition = CachedLogEI(model, data.y.max(), pending=pending)
    points = torch.rand(50, 1, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    hand = points.clone().requires_grad_()
    auto = points.clone().requires_grad_()
    by_hand = acquisition(hand)
    # BoTorch's forward on the same posterior algebra: differentiated by autograd.
    by_autograd = LogExpectedImprovement.forward(acquisition, auto)
    by_hand.sum().backward()
    by_autograd.sum().backward()
    torch.testing.assert_close(by_hand, by_autograd, rtol=0, atol=0)
    torch.testing.assert_close(hand.grad, auto.grad, rtol=1e-8, atol=1e-12)
