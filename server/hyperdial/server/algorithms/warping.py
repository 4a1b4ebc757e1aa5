"""Output warping for the bayes GP: the worse half of the observations by rank only.

A GP fitted to raw values spends itself on the worst of them: one diverged
training run with a validation loss of 2.3 beside good runs at 0.09 makes the
differences that matter look like noise, and the fit smooths them away.
Vizier's GP bandit warps its outputs for the same reason; this is its
half-rank step. The better half keeps its values, so an optimum is still
refined on the real scale; the worse half keeps only its order, on a normal
scale fitted to the better half's spread.
"""

from __future__ import annotations

import torch


def half_rank_warp(values: torch.Tensor) -> torch.Tensor:
    """`values` (higher is better) with those below the median replaced by normal quantiles.

    The i-th worst of n values below the median becomes
    median + sigma * Phi^-1((i + 0.5) / n), where sigma is the root mean square
    distance of the better half from the median. The map never reverses two
    observations' order, so the best observation stays the best.
    """
    n = values.numel()
    median = torch.quantile(values, 0.5)
    worse = values < median
    if n < 3 or not worse.any():
        return values
    better = values[~worse]
    sigma = (better - median).square().mean().sqrt()
    if not sigma > 0:  # the better half all at the median: no scale to fit the worse half to
        return values
    ranks = torch.empty(n, dtype=values.dtype)
    ranks[torch.argsort(values, stable=True)] = torch.arange(n, dtype=values.dtype)
    warped = values.clone()
    warped[worse] = median + sigma * torch.special.ndtri((ranks[worse] + 0.5) / n)
    return warped
