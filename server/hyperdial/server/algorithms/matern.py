"""The continuous model's scaled Matern-5/2 kernel in plain torch.

At the sizes of one suggestion (tens to hundreds of observations, 14 optimizer
starts) GPyTorch's modules spend much of each call on bookkeeping; the same
algebra in a few tensor operations takes a third off a LogEI call (measured).
The values are GPyTorch's kernel's; a test compares them. The fit's likelihood
is in `likelihood.py`.
"""

from __future__ import annotations

import math

import torch
from gpytorch.kernels import MaternKernel, ScaleKernel

SQRT5 = math.sqrt(5.0)


def is_scaled_matern(kernel: object) -> bool:
    """Whether `kernel` is one output's scaled Matern-5/2 on every feature."""
    base = getattr(kernel, "base_kernel", None)
    return (
        isinstance(kernel, ScaleKernel)
        and isinstance(base, MaternKernel)
        and base.nu == 2.5
        and base.active_dims is None
        and not kernel.batch_shape
    )


def matern52(
    x1: torch.Tensor, x2: torch.Tensor, lengthscale: torch.Tensor, outputscale: torch.Tensor
) -> torch.Tensor:
    """The covariance of `x1` (`n x d`) with `x2` (`m x d`): `n x m`.

    Squared distances come from inner products, centred as GPyTorch does: an
    `n x m x d` array of differences costs more than twice as much to differentiate
    at 300 observations.
    """
    centre = x1.detach().mean(0)
    z1 = (x1 - centre) / lengthscale.reshape(-1)
    z2 = (x2 - centre) / lengthscale.reshape(-1)
    inner = z1 @ z2.transpose(-1, -2)
    squared = (z1.square().sum(-1, keepdim=True) - 2 * inner + z2.square().sum(-1)).clamp_min(0)
    scaled = SQRT5 * squared.clamp_min(1e-30).sqrt()
    return outputscale * (1.0 + scaled + squared * (5.0 / 3.0)) * torch.exp(-scaled)
