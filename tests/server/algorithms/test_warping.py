"""The bayes GP's output warping: the better half untouched, the worse half compressed."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperdial.server.algorithms.warping import WorseHalf, compress_worse_half

finite = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(finite, min_size=1, max_size=60))
def test_the_order_and_the_better_half_are_kept(values: list[float]) -> None:
    raw = torch.tensor(values, dtype=torch.float64)
    warped = compress_worse_half(raw)
    median = torch.quantile(raw, 0.5)
    better = raw >= median
    assert torch.equal(warped[better], raw[better])
    assert torch.isfinite(warped).all()
    rounding = 1e-12 * raw.abs().max()
    assert (warped >= raw - rounding).all()  # values are only ever pulled towards the median
    order = torch.argsort(raw, stable=True)
    assert (warped[order].diff() >= -rounding).all()


def test_a_diverged_run_no_longer_dominates_the_scale() -> None:
    # Negated validation losses: good runs near -0.1, one diverged run at -2.3.
    losses = [0.09, 0.1, 0.11, 0.12, 0.14, 0.15, 0.18, 0.2, 0.25, 2.3]
    raw = -torch.tensor(losses, dtype=torch.float64)
    warped = compress_worse_half(raw)
    spread_of_good = raw[:5].max() - raw[:5].min()
    assert raw.max() - raw.min() > 40 * spread_of_good
    assert warped.max() - warped.min() < 5 * spread_of_good
    assert int(torch.argmin(warped)) == 9
    assert int(torch.argmax(warped)) == 0


def test_values_near_the_median_barely_move() -> None:
    # A smooth objective's moderate values keep their shape: no bend at the median.
    raw = torch.linspace(-1.0, 1.0, 101, dtype=torch.float64)
    warped = compress_worse_half(raw)
    near = (raw < 0) & (raw > -0.05)
    assert torch.allclose(warped[near], raw[near], atol=1e-4)
    slopes = warped.diff() / raw.diff()
    assert (slopes.diff().abs() < 0.02).all()  # the slope changes smoothly across the median


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_subnormal=False), min_size=3, max_size=40))
def test_the_inverse_recovers_every_value_and_the_slope_matches(values: list[float]) -> None:
    raw = torch.tensor(values, dtype=torch.float64)
    warp = WorseHalf.of(raw)
    warped = warp.apply(raw)
    for value, image in zip(raw.tolist(), warped.tolist(), strict=True):
        assert warp.invert(image) == pytest.approx(value, rel=1e-9, abs=1e-6)
        step = 1e-4 * warp.sigma
        if image < warp.median - 2 * step and step > 1e-9:  # a finite difference in the warp
            numeric = (warp.invert(image + step) - warp.invert(image - step)) / (2 * step)
            assert warp.slope(image) == pytest.approx(numeric, rel=1e-4)
        elif image >= warp.median:
            assert warp.slope(image) == 1.0
