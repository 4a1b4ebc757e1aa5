"""Pareto fronts and hypervolumes against brute force and BoTorch's own computation."""

from __future__ import annotations

import torch
from botorch.utils.multi_objective.box_decompositions.dominated import (
    DominatedPartitioning,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperdial.server.pareto import dominates, hypervolume, infer_reference, non_dominated

points = st.integers(2, 4).flatmap(
    lambda d: st.lists(
        st.lists(st.integers(0, 6).map(float), min_size=d, max_size=d), min_size=1, max_size=40
    )
)


@given(points)
def test_the_front_is_exactly_the_undominated_points(cloud: list[list[float]]) -> None:
    expected = [i for i, p in enumerate(cloud) if not any(dominates(q, p) for q in cloud)]
    assert non_dominated(cloud) == expected


@settings(max_examples=60, deadline=None)
@given(points)
def test_hypervolume_matches_botorch(cloud: list[list[float]]) -> None:
    reference = [7.0] * len(cloud[0])
    # BoTorch maximizes: negate both the points and the reference.
    partitioning = DominatedPartitioning(
        ref_point=-torch.tensor(reference, dtype=torch.float64),
        Y=-torch.tensor(cloud, dtype=torch.float64),
    )
    expected = float(partitioning.compute_hypervolume())
    assert abs(hypervolume(cloud, reference) - expected) <= 1e-9 * max(1.0, expected)


def test_points_beyond_the_reference_add_nothing() -> None:
    assert hypervolume([[1.0, 5.0], [3.0, 1.0]], [4.0, 4.0]) == 3.0
    assert hypervolume([[5.0, 0.0]], [4.0, 4.0]) == 0.0


def test_the_inferred_reference_is_worse_than_every_front_point() -> None:
    reference = infer_reference([[0.0, 10.0], [2.0, 4.0]])
    assert reference == (2.2, 10.6)
    assert infer_reference([[3.0, -2.0]]) == (3.3, -1.8)
