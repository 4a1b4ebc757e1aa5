"""The plain-torch kernel equals GPyTorch's."""

from __future__ import annotations

import torch
from tests.server.algorithms.test_gp import hartmann_like

from hyperdial.server.algorithms.gp import fitted_gp
from hyperdial.server.algorithms.matern import matern52


def test_the_kernel_is_gpytorchs() -> None:
    data = hartmann_like(20, 3)
    kernel = fitted_gp(data, 300, []).model.covar_module
    points = torch.rand(7, 3, dtype=torch.float64)
    expected = kernel(points, data.x).to_dense()
    ours = matern52(points, data.x, kernel.base_kernel.lengthscale, kernel.outputscale)
    torch.testing.assert_close(ours, expected)
