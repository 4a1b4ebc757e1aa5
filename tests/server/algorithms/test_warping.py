"""The bayes GP's output warping: the better half untouched, the worse half by rank."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperdial.server.algorithms.warping import half_rank_warp

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=60))
def test_the_order_and_the_better_half_are_kept(values: list[float]) -> None:
    raw = torch.tensor(values, dtype=torch.float64)
    warped = half_rank_warp(raw)
    median = torch.quantile(raw, 0.5)
    better = raw >= median
    assert torch.equal(warped[better], raw[better])
    assert torch.isfinite(warped).all()
    for i in range(len(values)):
        for j in range(len(values)):
            if raw[i] < raw[j]:
                assert warped[i] <= warped[j]


def test_a_diverged_run_no_longer_dominates_the_scale() -> None:
    # Negated validation losses: good runs near -0.1, one diverged run at -2.3.
    losses = [0.09, 0.1, 0.11, 0.12, 0.14, 0.15, 0.18, 0.2, 0.25, 2.3]
    raw = -torch.tensor(losses, dtype=torch.float64)
    warped = half_rank_warp(raw)
    spread_of_good = raw[:5].max() - raw[:5].min()
    assert raw.max() - raw.min() > 40 * spread_of_good
    assert warped.max() - warped.min() < 5 * spread_of_good
    assert int(torch.argmin(warped)) == 9
    assert int(torch.argmax(warped)) == 0
