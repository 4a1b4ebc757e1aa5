"""Maximizing an acquisition over the model features of a search space.

BoTorch's optimizers do the work: multi-start L-BFGS-B on continuous spaces
(with extra starts at and near the best observation), the alternating mixed
optimizer where there are integers or categoricals (it steps them through their
allowed values); several points are chosen greedily, each pending for the next.
`believer_batch` builds a LogEI batch the same way, each point believed at its
posterior mean for the next (a Kriging believer), at a fraction of the cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from botorch.acquisition.acquisition import AcquisitionFunction
from botorch.models.gpytorch import GPyTorchModel
from botorch.optim.batched_lbfgs_b import fmin_l_bfgs_b_batched
from botorch.optim.initializers import gen_batch_initial_conditions
from botorch.optim.optimize import optimize_acqf
from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating
from botorch.utils.sampling import draw_sobol_samples

from hyperdial.server.algorithms.cached_ei import CachedLogEI
from hyperdial.server.algorithms.gp import Incumbent
from hyperdial.server.space.features import FeatureLayout

INCUMBENT_STARTS = 4
# `gen_candidates_scipy`'s default.
LBFGS_MAX_ITERATIONS = 2000


class AcquisitionSearch:
    """Finds the best points of an acquisition on one space's feature layout.

    `fixed` holds columns beyond the layout's, each at one value (a model's
    fidelity column, searched at full fidelity): their bounds pin them.
    """

    def __init__(
        self,
        layout: FeatureLayout,
        restarts: int,
        raw_samples: int,
        fixed: tuple[float, ...] = (),
    ) -> None:
        self.layout = layout
        self.restarts = restarts
        self.raw_samples = raw_samples
        self.bounds = torch.zeros(2, layout.width + len(fixed), dtype=torch.float64)
        self.bounds[1] = 1.0
        for column, choices in layout.categorical.items():
            self.bounds[1, column] = max(choices)
        for offset, value in enumerate(fixed):
            self.bounds[:, layout.width + offset] = value

    def best(
        self, acquisition: AcquisitionFunction, incumbent: torch.Tensor, count: int
    ) -> list[list[float]]:
        """The feature rows of the best batch of `count` points the optimizer finds.

        `incumbent` is the feature row of the best point so far: some starts are near it.
        """
        return self._optima(acquisition, incumbent, count)[0].tolist()

    def believer_batch(
        self,
        model: GPyTorchModel,
        incumbent: Incumbent,
        pending: torch.Tensor | None,
        count: int,
        avoid: Avoid | None = None,
    ) -> list[list[float]]:
        """Up to `count` points of LogEI against `incumbent`, each believed at its posterior mean.

        The first is optimized in full. The others are the best of a candidate
        pool (the optimizer's other local optima and a Sobol sample of the
        space) under LogEI updated with the points chosen before: a
        factorization and one batched evaluation each, not an optimization
        each, so a queue for many workers costs little more than one point.
        Candidates within `avoid`'s radius of its points are never chosen (the
        first then comes from the pool too); fewer than `count` points come
        back only if the pool runs out.
        """
        best_f = incumbent.value
        optima = self._optima(CachedLogEI(model, best_f, pending), incumbent.x, 1)[:, 0]
        if count == 1 and not (avoid and avoid.covers(optima[:1], self.layout.width).any()):
            return [optima[0].tolist()]
        pool = torch.cat([optima, self._sample()])
        optimum_kept = True
        if avoid:
            kept = ~avoid.covers(pool, self.layout.width)
            optimum_kept = bool(kept[0])
            pool = pool[kept]
        rows: list[torch.Tensor] = []
        while len(rows) < count and len(pool):
            pick = 0
            if rows or not optimum_kept:
                chosen = torch.stack(rows) if rows else pool[:0]
                believed = chosen if pending is None else torch.cat([pending, chosen])
                with torch.no_grad():
                    values = CachedLogEI(model, best_f, believed if len(believed) else None)(
                        pool.unsqueeze(-2)
                    )
                pick = int(values.argmax())
            rows.append(pool[pick])
            pool = torch.cat([pool[:pick], pool[pick + 1 :]])
        return [row.tolist() for row in rows]

    def _optima(
        self, acquisition: AcquisitionFunction, incumbent: torch.Tensor, count: int
    ) -> torch.Tensor:
        """Batches of `count` points found by the optimizer, best first (`batches x count x d`).

        One point on a continuous space: one per start. Otherwise the best
        batch only, built greedily as BoTorch's mixed and sequential
        optimizers do.
        """
        if self.layout.categorical or self.layout.discrete:
            candidates, _ = optimize_acqf_mixed_alternating(
                acquisition,
                self.bounds,
                discrete_dims={c: list(v) for c, v in self.layout.discrete.items()},
                cat_dims={c: [float(i) for i in v] for c, v in self.layout.categorical.items()},
                q=count,
                num_restarts=self.restarts,
                raw_samples=self.raw_samples,
            )
            return candidates.detach().unsqueeze(0)
        if count > 1:
            # Greedy, each point pending for the next: a joint batch of 8 cost 11 s here.
            candidates, _ = optimize_acqf(
                acquisition,
                self.bounds,
                q=count,
                num_restarts=self.restarts,
                raw_samples=self.raw_samples,
                sequential=True,
            )
            return candidates.detach().unsqueeze(0)
        starts = gen_batch_initial_conditions(
            acquisition,
            self.bounds,
            q=1,
            num_restarts=self.restarts,
            raw_samples=self.raw_samples,
        )
        starts = torch.cat([starts, _around(incumbent, INCUMBENT_STARTS, self.bounds)])
        if isinstance(acquisition, CachedLogEI) and acquisition.hand_derived:
            optima, found = self._local_optima(acquisition, starts.squeeze(-2))
            return optima[found.argsort(descending=True)].unsqueeze(-2)
        candidates, values = optimize_acqf(
            acquisition,
            self.bounds,
            q=1,
            num_restarts=len(starts),
            batch_initial_conditions=starts,
            return_best_only=False,
        )
        if values is None:
            return candidates.detach()
        return candidates.detach()[values.detach().argsort(descending=True)]

    def _local_optima(
        self, acquisition: CachedLogEI, starts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The optima L-BFGS-B reaches from `starts` (`n x d`), and their values.

        BoTorch's batched L-BFGS-B, run as `optimize_acqf` runs it, but fed the
        hand-derived value and gradient directly: through `optimize_acqf` every
        step also builds and walks an autograd graph, 40% of the search's time
        at 20-50 observations (measured; the optima are the same to the bit).
        """

        def negated(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            value, gradient = acquisition.value_and_gradient(torch.from_numpy(x), gradient=True)
            return (-value).numpy(), (-cast(torch.Tensor, gradient)).numpy()

        optima, values, _ = fmin_l_bfgs_b_batched(  # type: ignore[no-untyped-call]
            negated,
            starts.numpy().copy(),
            bounds=list(zip(self.bounds[0].tolist(), self.bounds[1].tolist(), strict=True)),
            maxiter=LBFGS_MAX_ITERATIONS,
        )
        return torch.from_numpy(optima), -torch.from_numpy(values)

    def _sample(self) -> torch.Tensor:
        """A Sobol sample of the feature space, integers and categoricals on allowed values."""
        points = draw_sobol_samples(self.bounds, n=self.raw_samples, q=1).squeeze(-2)
        for column in self.layout.categorical:
            points[:, column] = points[:, column].round()
        for column, allowed in self.layout.discrete.items():
            values = torch.tensor(allowed, dtype=points.dtype)
            nearest = (points[:, column, None] - values).abs().argmin(dim=-1)
            points[:, column] = values[nearest]
        return points


@dataclass(frozen=True)
class Avoid:
    """Configurations a search keeps away from: feature rows and a radius in the unit cube."""

    points: torch.Tensor  # n x layout width
    radius: float

    def __bool__(self) -> bool:
        return bool(len(self.points)) and self.radius > 0

    def covers(self, candidates: torch.Tensor, width: int) -> torch.Tensor:
        """Which `candidates` (m x d; their first `width` columns count) lie within the radius."""
        distances = torch.cdist(candidates[:, :width], self.points)
        return (distances < self.radius).any(dim=-1)


def _around(best: torch.Tensor, starts: int, bounds: torch.Tensor) -> torch.Tensor:
    """Optimizer starts at and near the incumbent `best`.

    Late in a study EI pays most for refining the best point, and random starts
    rarely land close enough to find that narrow peak.
    """
    scales = torch.logspace(-3, -1, starts - 1, dtype=torch.float64).view(-1, 1, 1)
    nudged = best + scales * torch.randn(starts - 1, 1, best.shape[-1], dtype=torch.float64)
    return torch.cat([best.expand(1, 1, -1), nudged]).clamp(bounds[0], bounds[1])
