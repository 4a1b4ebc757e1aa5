"""Pareto fronts and hypervolumes of a study's completed trials.

The geometry works on points in "smaller is better" orientation (maximized
objectives negated). Fronts are small next to the trials they come from, so
plain Python does; the sweeps keep the common two-objective case O(n log n).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hyperdial.server.domain import StudyConfig, Trial, TrialState

Point = Sequence[float]
# The inferred reference point lies this fraction of the front's range beyond its worst
# values (the rule of BoTorch's infer_reference_point).
REFERENCE_MARGIN = 0.1


def dominates(a: Point, b: Point) -> bool:
    """Whether a is no worse than b in every objective and better in at least one."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def non_dominated(points: Sequence[Point]) -> list[int]:
    """Indices (ascending) of the points no other point dominates; equal points are all kept.

    In lexicographic order every dominator of a point comes before it, and a
    dominated dominator has a dominator on the front, so each point is only
    compared with the front found so far.
    """
    front: list[int] = []
    for i in sorted(range(len(points)), key=lambda i: tuple(points[i])):
        if not any(dominates(points[j], points[i]) for j in front):
            front.append(i)
    return sorted(front)


def infer_reference(front: Sequence[Point]) -> tuple[float, ...]:
    """A reference point slightly worse than the front's worst value in each objective."""
    reference = []
    for values in zip(*front, strict=True):
        worst, best = max(values), min(values)
        span = worst - best or max(abs(worst), 1.0)
        reference.append(worst + REFERENCE_MARGIN * span)
    return tuple(reference)


def hypervolume(points: Sequence[Point], reference: Point) -> float:
    """The volume dominated by `points` and bounded by `reference`."""
    inside = [tuple(p) for p in points if all(x < r for x, r in zip(p, reference, strict=True))]
    if not inside:
        return 0.0
    if len(reference) == 1:
        return reference[0] - min(p[0] for p in inside)
    if len(reference) == 2:
        volume, floor = 0.0, reference[1]
        for x, y in sorted(inside):
            if y < floor:
                volume += (reference[0] - x) * (floor - y)
                floor = y
        return volume
    inside.sort(key=lambda p: p[-1])  # slice along the last objective
    volume = 0.0
    for k, point in enumerate(inside):
        top = inside[k + 1][-1] if k + 1 < len(inside) else reference[-1]
        if top > point[-1]:
            lower = [p[:-1] for p in inside[: k + 1]]
            kept = [lower[i] for i in non_dominated(lower)]
            volume += (top - point[-1]) * hypervolume(kept, reference[:-1])
    return volume


@dataclass(frozen=True)
class Front:
    """A study's Pareto front, best first by the first objective.

    The hypervolume it dominates is bounded by `reference`; both are in the
    objectives' own units and directions.
    """

    trials: tuple[Trial, ...]
    hypervolume: float
    reference: tuple[float, ...]


def pareto_front(config: StudyConfig, trials: Sequence[Trial]) -> Front:
    """The completed trials that meet the constraints and that no such trial dominates."""
    signs = [-1.0 if o.maximize else 1.0 for o in config.objectives]
    candidates = [
        t for t in trials if t.state is TrialState.COMPLETED and not t.violates_constraints
    ]
    points = [
        tuple(s * v for s, v in zip(signs, config.objective_values(t.metrics), strict=True))
        for t in candidates
    ]
    on_front = sorted(non_dominated(points), key=lambda i: (points[i], candidates[i].number))
    front_points = [points[i] for i in on_front]
    if not front_points:
        return Front((), 0.0, ())
    inferred = infer_reference(front_points)
    reference = tuple(
        inferred[k] if o.reference is None else signs[k] * o.reference
        for k, o in enumerate(config.objectives)
    )
    return Front(
        tuple(candidates[i] for i in on_front),
        hypervolume(front_points, reference),
        tuple(s * r for s, r in zip(signs, reference, strict=True)),
    )
