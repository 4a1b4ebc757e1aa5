"""The recommended trial: the completed trial the model believes best.

The trial with the best observed value is, on a noisy objective, the luckiest
draw: of 30 training runs whose validation losses scatter by 0.01-0.02 around
their true values, the minimum sits below its own configuration's true value
by about that much, and retrained it disappoints. The recommendation asks
the same GP that `bayes` fits (its kernel, priors, learned noise and output
warping) which completed trial has the best posterior mean, and takes it
over the best observation where the joint posterior gives it at least
`CONFIDENCE` probability of truly being better: a trial must be good *and*
agree with its neighbours to overrule the luckiest draw, and a model that
reads its own misfit as noise cannot overrule it on a whim. On a
deterministic objective the posterior mean at a trial is its value, and the
recommendation is the observed best. Any study with one objective gets one,
whatever its algorithm: the model is fitted on demand.

A trial that reports its best step's value, as early stopping does, was
picked twice over: the best epoch of a noisy validation curve is as lucky a
draw as the best trial of a study. Such a trial enters the model (and the
comparison with the best observation) at its settled value (`settling`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from botorch.utils.sampling import manual_seed

from hyperdial.server.algorithms.base import History
from hyperdial.server.algorithms.gp import TrainingData, fitted_gp, keep_best
from hyperdial.server.algorithms.settling import settled_value
from hyperdial.server.algorithms.warping import WorseHalf
from hyperdial.server.space import SearchSpace
from hyperdial.server.space.features import layout, to_features

# Integer ranges wider than this are continuous to the model (as in `bayes`).
MAX_DISCRETE_VALUES = 10_000
# The model's pick replaces the best observation only where the joint posterior says it
# is truly better with at least this probability. Always taking the best posterior mean
# (0) lost to the best observation on 3 of 4 datasets of bench/generalization.py: a GP of
# 30 trials in 7-D reads its misfit as noise and over-smooths; 0.8 and 0.7 did best.
CONFIDENCE = 0.8
# Posterior means are computed for this many candidates at a time (bounded memory).
CHUNK = 2048


@dataclass(frozen=True)
class Recommendation:
    """The model's pick among completed trials.

    Attributes:
        index: the trial's position in `History.completed`.
        estimate: the posterior mean of its value, in the objective's units.
        sd: the posterior standard deviation of that estimate.
        noise_sd: the fitted observation noise (one evaluation's scatter), same units.
        modelled: how many observations the model rests on.
        overrules: whether the model overruled the best settled value (it is sure enough).
        observed: the position of the trial with the best observed value (it may differ
            from `index` without the model: settling its curve may leave another ahead).
        confidence: the probability the model needed to overrule the best observation.
    """

    index: int
    estimate: float
    sd: float
    noise_sd: float
    modelled: int
    overrules: bool
    observed: int
    confidence: float


def recommend(
    space: SearchSpace,
    history: History,
    *,
    seed: int = 0,
    max_fit_points: int = 300,
    max_model_points: int = 1000,
    confidence: float = CONFIDENCE,
) -> Recommendation | None:
    """The completed trial (meeting its constraints) with the best posterior mean.

    For one objective (several have a Pareto front instead). None where no
    completed trial meets the constraints or fewer than two distinct values
    leave nothing to model; a numerical failure of the fit raises.
    """
    if history.objectives:
        raise ValueError("a recommendation needs a single objective")
    completed = history.completed
    candidates = [i for i, o in enumerate(completed) if all(s <= 0 for s in o.slacks)]
    if not candidates or len({o.value for o in completed}) < 2:
        return None
    sign = 1.0 if history.maximize else -1.0
    values = [sign * settled_value(o, history.maximize) for o in completed]
    rows = [to_features(space, o.params) for o in completed]
    rows += [to_features(space, params) for params in history.infeasible]
    values += [min(values)] * len(history.infeasible)
    kept = keep_best(values, max_model_points, seed)
    y = torch.tensor([values[i] for i in kept], dtype=torch.float64)
    warp = WorseHalf.of(y)
    data = TrainingData(
        torch.tensor([rows[i] for i in kept], dtype=torch.float64), warp.apply(y).unsqueeze(-1)
    )
    categorical = sorted(layout(space, MAX_DISCRETE_VALUES).categorical)
    with warnings.catch_warnings(), manual_seed(seed):
        warnings.simplefilter("ignore")  # fit and numerical warnings: a failure raises
        model = fitted_gp(data, max_fit_points, categorical).model
        x = torch.tensor([rows[i] for i in candidates], dtype=torch.float64)
        with torch.no_grad():
            means, variances = _posterior_at(model, x)
            noise = float(model.likelihood.noise.reshape(-1)[0])
            transform: Any = model.outcome_transform  # GPyTorch modules are untyped
            scale = float(transform.stdvs.reshape(-1)[0])
            best = int(means.argmax())
            luckiest = max(range(len(candidates)), key=lambda k: values[candidates[k]])
            if best != luckiest and not _sure(model, x[[best, luckiest]], confidence):
                best = luckiest
    mean = float(means[best])
    slope = warp.slope(mean)
    return Recommendation(
        index=candidates[best],
        estimate=sign * warp.invert(mean),
        sd=slope * math.sqrt(max(float(variances[best]), 0.0)),
        noise_sd=slope * scale * math.sqrt(noise),
        modelled=len(kept),
        overrules=best != luckiest,
        observed=max(candidates, key=lambda i: sign * completed[i].value),
        confidence=confidence,
    )


def _posterior_at(model: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and variances at `x`, `CHUNK` points at a time (bounded memory)."""
    chunks = [x[start : start + CHUNK] for start in range(0, len(x), CHUNK)]
    posteriors = [model.posterior(chunk) for chunk in chunks]
    means = torch.cat([p.mean.reshape(-1) for p in posteriors])
    return means, torch.cat([p.variance.reshape(-1) for p in posteriors])


def _sure(model: Any, pair: torch.Tensor, confidence: float) -> bool:
    """Whether the joint posterior puts the first of `pair` above the second with `confidence`."""
    if confidence <= 0:
        return True
    posterior: Any = model.posterior(pair)
    means = posterior.mean.reshape(-1)
    cov = posterior.distribution.covariance_matrix
    spread = float((cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]).clamp_min(1e-18).sqrt())
    z = float(means[0] - means[1]) / spread
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0))) >= confidence
