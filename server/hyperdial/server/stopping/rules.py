"""Stopping rules: pure decisions over a trial's curve and its peers' values at a step.

`peers` are the values other trials of the study reported at the same step. A
rule first says whether a step is one it decides at (so the service queries
peers only then), then whether the trial should stop.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hyperdial.server.domain import Goal, Measurement, StoppingConfig


class StoppingRule(Protocol):
    """Decides whether a trial should stop after reporting a step."""

    def decides_at(self, step: int) -> bool:
        """Whether this rule makes a decision at `step`."""
        ...

    def should_stop(
        self, goal: Goal, step: int, curve: Sequence[Measurement], peers: Sequence[float]
    ) -> bool:
        """Whether the trial whose values so far are `curve` should stop at `step`."""
        ...


def _better(goal: Goal, a: float, b: float) -> bool:
    return a < b if goal is Goal.MINIMIZE else a > b


@dataclass(frozen=True)
class MedianRule:
    """Stops a trial whose best value so far is worse than the peers' median at this step.

    The rule of Vizier's and Optuna's median stopping.
    """

    min_trials: int
    warmup_steps: int

    def decides_at(self, step: int) -> bool:
        """Every step from `warmup_steps` on."""
        return step >= self.warmup_steps

    def should_stop(
        self, goal: Goal, step: int, curve: Sequence[Measurement], peers: Sequence[float]
    ) -> bool:
        """See `StoppingRule.should_stop`."""
        if len(peers) < self.min_trials or not curve:
            return False
        values = [m.value for m in curve if m.step <= step]
        best = min(values) if goal is Goal.MINIMIZE else max(values)
        return _better(goal, statistics.median(peers), best)


@dataclass(frozen=True)
class SuccessiveHalvingRule:
    """Asynchronous successive halving: at each rung keep the best 1/factor of values."""

    min_step: int
    reduction_factor: int
    min_trials: int

    def decides_at(self, step: int) -> bool:
        """At rungs: min_step * factor**k."""
        if step < self.min_step or step % self.min_step:
            return False
        ratio = step // self.min_step
        while ratio % self.reduction_factor == 0:
            ratio //= self.reduction_factor
        return ratio == 1

    def should_stop(
        self, goal: Goal, step: int, curve: Sequence[Measurement], peers: Sequence[float]
    ) -> bool:
        """See `StoppingRule.should_stop`."""
        value = next((m.value for m in curve if m.step == step), None)
        if value is None or len(peers) < self.min_trials:
            return False
        ahead = sum(_better(goal, peer, value) for peer in peers)
        kept = math.ceil((len(peers) + 1) / self.reduction_factor)
        return ahead >= kept


def make_rule(config: StoppingConfig | None) -> StoppingRule | None:
    """The rule a study's config asks for, or None."""
    if config is None:
        return None
    if config.rule == "median":
        return MedianRule(config.min_trials, config.warmup_steps)
    return SuccessiveHalvingRule(config.min_step, config.reduction_factor, config.min_trials)
