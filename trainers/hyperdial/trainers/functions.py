"""Cheap real objectives with known optima, for the demo and the benchmarks."""

from __future__ import annotations

import math

BRANIN_MINIMUM = 0.397887357729738


def branin(x1: float, x2: float) -> float:
    """Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887 at three points."""
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10
