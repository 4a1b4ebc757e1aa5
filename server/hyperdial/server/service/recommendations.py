"""GetBestTrials' recommended trial: the model's pick, computed once per study state.

The GP behind a recommendation takes a tenth of a second or more to fit, so it
runs in the compute pool (never on the event loop or the RPC threads) and its
answer is kept per study until another trial finishes: a dashboard polling
GetBestTrials costs one count query per call, not one fit. Concurrent callers
of one study state share one computation.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING

from hyperdial.server.algorithms.base import History, Observed
from hyperdial.server.algorithms.settling import SCATTER_WEIGHT, SETTLE_STEPS
from hyperdial.server.domain import Goal, Trial, TrialState
from hyperdial.server.service.common import find_study, read
from hyperdial.server.service.compute import ComputePool
from hyperdial.server.store.base import Store, StudyRecord, Transaction

if TYPE_CHECKING:  # the model runs in the compute pool: torch stays out of the server
    from hyperdial.server.algorithms.recommend import Recommendation

log = logging.getLogger(__name__)

CACHE_SIZE = 256
# The trials a study's recommendation was computed from: (completed, infeasible).
StateKey = tuple[int, int]


class Rule(Enum):
    """How the recommended trial was chosen."""

    BEST_POSTERIOR_MEAN = "best_posterior_mean"
    BEST_OBSERVED = "best_observed"


@dataclass(frozen=True)
class Recommended:
    """The recommended trial and, by the model's rule, what the model says of it."""

    rule: Rule
    trial: Trial
    reason: str
    estimate: float = math.nan
    estimate_sd: float = math.nan
    noise_sd: float = math.nan
    modelled: int = 0


@dataclass(frozen=True)
class _Snapshot:
    """A study's finished trials as the model needs them, and their trial numbers."""

    study: StudyRecord
    key: StateKey
    history: History
    numbers: tuple[int, ...]  # of `history.completed`, in order


class Recommendations:
    """Computes and caches recommended trials of single-objective studies."""

    def __init__(self, store: Store, compute: ComputePool, size: int = CACHE_SIZE) -> None:
        self._store = store
        self._compute = compute
        self._size = size
        self._cache: OrderedDict[int, tuple[StateKey, Recommended | None]] = OrderedDict()
        self._running: dict[tuple[int, StateKey], asyncio.Task[Recommended | None]] = {}

    async def of(self, study: StudyRecord) -> Recommended | None:
        """The study's recommended trial; None with no completed trial meeting the constraints."""
        counts = await read(self._store, lambda txn: txn.trial_counts(study.id))
        key = (counts.get(TrialState.COMPLETED, 0), counts.get(TrialState.INFEASIBLE, 0))
        cached = self._cache.get(study.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        task = self._running.get((study.id, key))
        if task is None:
            task = asyncio.create_task(self._computed(study.name))
            self._running[study.id, key] = task
            task.add_done_callback(lambda _: self._running.pop((study.id, key), None))
        return await asyncio.shield(task)

    async def _computed(self, study_name: str) -> Recommended | None:
        snapshot = await read(self._store, lambda txn: _snapshot(txn, study_name))
        study, history = snapshot.study, snapshot.history
        try:
            found = await self._compute.recommend(study.config.space, history, study.config.seed)
        except Exception as error:  # the model fails: the observed best still answers
            log.warning("study %s: recommendation failed", study.name, exc_info=True)
            answer = await self._observed(study, f"the model could not be fitted ({error})")
        else:
            if found is None:
                answer = await self._observed(
                    study, "fewer than two distinct values: nothing to model yet"
                )
            else:
                trial = await self._trial(study, snapshot.numbers[found.index])
                answer = Recommended(
                    Rule.BEST_POSTERIOR_MEAN,
                    trial,
                    _model_reason(found),
                    found.estimate,
                    found.sd,
                    found.noise_sd,
                    found.modelled,
                )
        self._cache[study.id] = (snapshot.key, answer)
        self._cache.move_to_end(study.id)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return answer

    async def _observed(self, study: StudyRecord, reason: str) -> Recommended | None:
        best = await read(self._store, lambda txn: txn.best_trials(study, 1))
        if not best:
            return None
        return Recommended(Rule.BEST_OBSERVED, await self._trial(study, best[0].number), reason)

    async def _trial(self, study: StudyRecord, number: int) -> Trial:
        def op(txn: Transaction) -> Trial:
            return replace(
                txn.get_trial(study, number), measurements=txn.measurements(study, number)
            )

        return await read(self._store, op)


def _model_reason(found: Recommendation) -> str:
    if found.overrules:
        return (
            f"the best posterior mean of a Gaussian process on {found.modelled} trials, at "
            f"least {found.confidence:.0%} likely to be truly better than the best observed trial"
        )
    if found.index != found.observed:
        return (
            "the best settled value: the best observed trial's value is the best step of a "
            f"curve that settles higher (the best mean of {SETTLE_STEPS} steps, worsened by "
            f"{SCATTER_WEIGHT:g} of their sd), and a Gaussian "
            f"process on {found.modelled} trials is not {found.confidence:.0%} sure that "
            "another is truly better"
        )
    return (
        f"the best observed trial: a Gaussian process on {found.modelled} trials is not "
        f"{found.confidence:.0%} sure that another is truly better"
    )


def _snapshot(txn: Transaction, study_name: str) -> _Snapshot:
    study = find_study(txn, study_name)
    config = study.config
    states = (TrialState.COMPLETED, TrialState.INFEASIBLE)
    trials = txn.list_trials(study, states, 0, 2**62)
    # Curves let a trial that reports its best step enter the model at its settled value.
    curves = txn.curves(study, 1, trials[-1].number, (TrialState.COMPLETED,)) if trials else {}
    # A trial granted fewer steps than a trial trains in full (bayes' short initial
    # design, the last of a step budget) ended early: its value is no final one.
    full = config.fidelity.max_steps if config.fidelity else 0
    completed = [
        (
            t.number,
            Observed(
                t.params,
                t.value,
                slacks=config.constraint_slacks(t.metrics),
                curve=curves.get(t.number, ()),
            ),
        )
        for t in trials
        if t.state is TrialState.COMPLETED and t.value is not None and not 0 < t.step_budget < full
    ]
    infeasible = tuple(t.params for t in trials if t.state is TrialState.INFEASIBLE)
    history = History(
        draws=study.draws,
        completed=tuple(observed for _, observed in completed),
        infeasible=infeasible,
        maximize=config.objective.goal is Goal.MAXIMIZE,
    )
    key = (sum(t.state is TrialState.COMPLETED for t in trials), len(infeasible))
    return _Snapshot(study, key, history, tuple(number for number, _ in completed))
