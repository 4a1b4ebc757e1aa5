"""Stopping rules: pure decisions over a trial's curve and what its peers reported at a step.

`Peers` reads, when a rule asks, the values other trials reported at the step
(the median rule and successive halving compare with those; Hyperband with
those of its bracket) or the completed
trials' pairs of (value at the step, final value) (the model rule learns from
those). A rule first says whether a step is one it decides at, so the service
reads peers only then, then whether the trial should stop.
"""

from __future__ import annotations

import functools
import math
import statistics
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import stats

from hyperdial.server.domain import Goal, Measurement, StoppingConfig


def _none() -> Sequence[tuple[float, float]]:
    return ()


@dataclass(frozen=True)
class Peers:
    """What the study's other trials reported at a step, read only if a rule asks."""

    # Other trials' (number, value) at the step.
    values: Callable[[], Sequence[tuple[int, float]]]
    # (best value up to the step, final value) of completed trials that reported it.
    finals: Callable[[], Sequence[tuple[float, float]]] = _none


class StoppingRule(Protocol):
    """Decides whether a trial should stop after reporting a step."""

    def decides_at(self, step: int) -> bool:
        """Whether this rule makes a decision at `step`."""
        ...

    def should_stop(
        self, goal: Goal, step: int, curve: Sequence[Measurement], peers: Peers
    ) -> bool:
        """Whether the trial whose values so far are `curve` should stop at `step`."""
        ...


def _better(goal: Goal, a: float, b: float) -> bool:
    return a < b if goal is Goal.MINIMIZE else a > b


def _best_so_far(goal: Goal, curve: Sequence[Measurement], step: int) -> float:
    values = [m.value for m in curve if m.step <= step]
    return min(values) if goal is Goal.MINIMIZE else max(values)


class _FromWarmup:
    """A rule that decides at every step from `warmup_steps` on."""

    warmup_steps: int

    def decides_at(self, step: int) -> bool:
        """Every step from `warmup_steps` on."""
        return step >= self.warmup_steps


@dataclass(frozen=True)
class MedianRule(_FromWarmup):
    """Stops a trial whose best value so far is worse than the peers' median at this step.

    The rule of Vizier's and Optuna's median stopping.
    """

    min_trials: int
    warmup_steps: int

    def should_stop(
        self, goal: Goal, step: int, curve: Sequence[Measurement], peers: Peers
    ) -> bool:
        """See `StoppingRule.should_stop`."""
        others = [value for _, value in peers.values()]
        if len(others) < self.min_trials or not curve:
            return False
        return _better(goal, statistics.median(others), _best_so_far(goal, curve, step))


def hyperband_bracket(number: int, brackets: int, reduction_factor: int) -> int:
    """The bracket of trial `number`, drawn in proportion to Hyperband's trials per bracket.

    Bracket b (first rung min_step * factor**b) gets weight
    ceil(n * factor**(n-1-b) / (n-b)), as in Hyperband and Optuna's
    HyperbandPruner, so the aggressive brackets get more trials. A stable hash
    of the number, so every replica, and every report, agrees.
    """
    if brackets == 1:
        return 0
    weights = _bracket_weights(brackets, reduction_factor)
    draw = zlib.crc32(number.to_bytes(8, "little", signed=True)) % sum(weights)
    for bracket, weight in enumerate(weights):
        if draw < weight:
            return bracket
        draw -= weight
    raise AssertionError("unreachable: the draw is below the weights' sum")


@functools.cache
def _bracket_weights(brackets: int, reduction_factor: int) -> tuple[int, ...]:
    """Hyperband's trials per bracket; asked once per peer at every rung, so computed once."""
    return tuple(
        math.ceil(brackets * reduction_factor ** (brackets - 1 - b) / (brackets - b))
        for b in range(brackets)
    )


@dataclass(frozen=True)
class SuccessiveHalvingRule:
    """Asynchronous successive halving: at each rung keep the best 1/factor of values.

    With several `brackets` it is asynchronous Hyperband: the rule is the one
    of the trial's `bracket`, whose rungs start at min_step * factor**bracket
    and whose peers are that bracket's trials only, so some trials are judged
    only after many steps (a slow, regularized starter can finish).
    """

    min_step: int
    reduction_factor: int
    min_trials: int
    bracket: int = 0
    brackets: int = 1

    def decides_at(self, step: int) -> bool:
        """At rungs: min_step * factor**(bracket + k)."""
        first_rung: int = self.min_step * self.reduction_factor**self.bracket
        if step < first_rung or step % first_rung:
            return False
        ratio = step // first_rung
        while ratio % self.reduction_factor == 0:
            ratio //= self.reduction_factor
        return ratio == 1

    def should_stop(
        self, goal: Goal, step: int, curve: Sequence[Measurement], peers: Peers
    ) -> bool:
        """See `StoppingRule.should_stop`."""
        value = next((m.value for m in curve if m.step == step), None)
        if value is None:
            return False
        others = [v for number, v in peers.values() if self._in_bracket(number)]
        if len(others) < self.min_trials:
            return False
        ahead = sum(_better(goal, peer, value) for peer in others)
        kept = math.ceil((len(others) + 1) / self.reduction_factor)
        return ahead >= kept

    def _in_bracket(self, number: int) -> bool:
        return hyperband_bracket(number, self.brackets, self.reduction_factor) == self.bracket


def beat_probability(goal: Goal, value: float, finals: Sequence[tuple[float, float]]) -> float:
    """How likely a trial at `value` now ends better than the best of `finals`' final values.

    A least-squares line of final value on value-at-the-step, and its
    prediction interval (Student's t, n - 2 degrees of freedom): the textbook
    regression forecast, which needs no more than the pairs. Needs 3 pairs.
    """
    xs = np.array([x for x, _ in finals], dtype=float)
    ys = np.array([y for _, y in finals], dtype=float)
    n = len(xs)
    best = ys.min() if goal is Goal.MINIMIZE else ys.max()
    spread = float(((xs - xs.mean()) ** 2).sum())
    slope = float(((xs - xs.mean()) * (ys - ys.mean())).sum() / spread) if spread > 0 else 0.0
    intercept = float(ys.mean() - slope * xs.mean())
    residual = float(((ys - intercept - slope * xs) ** 2).sum() / (n - 2))
    leverage = 1 + 1 / n + ((value - xs.mean()) ** 2 / spread if spread > 0 else 0.0)
    predicted, sd = intercept + slope * value, math.sqrt(residual * leverage)
    if sd == 0:
        return 1.0 if _better(goal, predicted, best) else 0.0
    below = float(stats.t.cdf((best - predicted) / sd, n - 2))
    return below if goal is Goal.MINIMIZE else 1 - below


@dataclass(frozen=True)
class ModelRule(_FromWarmup):
    """Stops a trial unlikely (below `min_probability`) to end better than the best.

    The probability is `beat_probability`'s, from the completed trials' pairs:
    the best value a trial has reached by the step is judged by what such
    values have led to, not by other trials' values there. The best so far, not
    the step's own value: one noisy epoch after a good one does not stop a
    trial that has already reached a good value. A slow starter whose curve
    predicts a good end goes on, and so does everything while the completed
    trials say little (fewer than `min_trials` reached the step).
    """

    min_probability: float
    min_trials: int
    warmup_steps: int

    def should_stop(
        self, goal: Goal, step: int, curve: Sequence[Measurement], peers: Peers
    ) -> bool:
        """See `StoppingRule.should_stop`."""
        if not any(m.step == step for m in curve):
            return False
        finals = peers.finals()
        if len(finals) < max(3, self.min_trials):
            return False
        best = _best_so_far(goal, curve, step)
        return beat_probability(goal, best, finals) < self.min_probability


def make_rule(config: StoppingConfig | None, number: int) -> StoppingRule | None:
    """The rule a study's config asks for trial `number` (its Hyperband bracket's), or None."""
    if config is None:
        return None
    if config.rule == "median":
        return MedianRule(config.min_trials, config.warmup_steps)
    if config.rule == "model":
        return ModelRule(config.min_probability, config.min_trials, config.warmup_steps)
    bracket = hyperband_bracket(number, config.brackets, config.reduction_factor)
    return SuccessiveHalvingRule(
        config.min_step, config.reduction_factor, config.min_trials, bracket, config.brackets
    )
