"""Bayes' Monte Carlo acquisitions, for what the analytic LogEI does not cover.

Several objectives: `qLogNoisyExpectedHypervolumeImprovement` against the
objectives' reference values, or a reference inferred from the observed
feasible front. One objective under outcome constraints:
`qLogNoisyExpectedImprovement` weighed by the probability of feasibility.
Otherwise the acquisition option asked for: `qlognei` or `ucb` (qUCB). Pending
trials enter as `X_pending`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from botorch.acquisition.acquisition import AcquisitionFunction
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.monte_carlo import qUpperConfidenceBound
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
from botorch.acquisition.objective import GenericMCObjective
from botorch.models.gpytorch import GPyTorchModel
from botorch.sampling.normal import SobolQMCNormalSampler
from botorch.utils.multi_objective.hypervolume import infer_reference_point
from botorch.utils.multi_objective.pareto import is_non_dominated

from hyperdial.server.algorithms.gp import TrainingData

MC_SAMPLES = 256


def monte_carlo_acquisition(
    model: GPyTorchModel,
    data: TrainingData,
    pending: torch.Tensor | None,
    acquisition: str,
    ucb_beta: float,
) -> AcquisitionFunction:
    """The acquisition for `data`'s objectives and constraints; `acquisition` names the rest."""
    sampler = SobolQMCNormalSampler(torch.Size([MC_SAMPLES]))
    constraints = [_column(k) for k in range(data.objectives, data.y.shape[-1])] or None
    if data.objectives > 1:
        return qLogNoisyExpectedHypervolumeImprovement(
            model,
            ref_point=reference_point(data),
            X_baseline=data.x,
            sampler=sampler,
            objective=IdentityMCMultiOutputObjective(list(range(data.objectives))),
            constraints=constraints,
            X_pending=pending,
            prune_baseline=True,
        )
    if constraints is not None:
        return qLogNoisyExpectedImprovement(
            model,
            data.x,
            sampler=sampler,
            objective=GenericMCObjective(_first_output),
            constraints=constraints,
            X_pending=pending,
            prune_baseline=True,
        )
    if acquisition == "ucb":
        return qUpperConfidenceBound(model, ucb_beta, sampler=sampler, X_pending=pending)
    return qLogNoisyExpectedImprovement(
        model, data.x, sampler=sampler, X_pending=pending, prune_baseline=True
    )


def reference_point(data: TrainingData) -> list[float]:
    """The given references, the rest inferred from the observed feasible front."""
    values = data.y[:, : data.objectives]
    feasible = (data.y[:, data.objectives :] <= 0).all(dim=-1)
    if feasible.any():
        values = values[feasible]
    inferred = infer_reference_point(values[is_non_dominated(values)])
    return [
        float(inferred[k]) if given is None else given for k, given in enumerate(data.references)
    ]


def _first_output(samples: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:  # noqa: N803
    """The objective of a constrained single-objective model: its first output."""
    return samples[..., 0]


def _column(k: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """A BoTorch outcome constraint: model output `k` (a slack), feasible where <= 0."""
    return lambda samples: samples[..., k]
