"""Bayesian optimization on BoTorch: a Gaussian process and a log-EI acquisition.

The first `initial_trials` suggestions (default max(5, 2·d + 1)) follow the
same scrambled Sobol sequence as `random` with `sampler="sobol"`. After that a
GP (Matern-5/2, lengthscales under `likelihood.LengthscalePrior`) is fitted to the
completed trials on the model features of `space.features` (floats and integers
on [0, 1], log scales in log space; categoricals compared by equality in
`MixedSingleTaskGP`'s kernel), with outcomes standardized; the worse half of a
single objective's values is compressed logarithmically
(`warping.compress_worse_half`), so a few disastrous trials do not set the
model's scale. The acquisition is of the log-EI family: for one objective
without constraints, the analytic LogEI, which has no Monte Carlo error and
refines an optimum several times more precisely than qLogNEI (Branin,
measured), computed from one factorization per suggestion
(`cached_ei.CachedLogEI`). Where the fitted noise is material
(`INFORMATIVE_REPEAT_NOISE`), it improves on the best posterior mean among
the observed points (`gp.incumbent`), not on the best observation: on a
noisy objective the best observation is a lucky draw, and improving on it
sends the search back to where it was lucky. On a deterministic objective
the two are equal up to rounding, and the best observation is kept (the
rounding alone moved the 30-seed Hartmann6 median from 1.4e-4 to 2.0e-4).
Option `incumbent` forces `mean` or `observed`. Pending trials, and the
earlier points of a batch, enter as a Kriging believer (observed at their
posterior mean), so parallel workers get spread points at a quarter of the
cost of a Monte Carlo acquisition with `X_pending`; the points of a batch
after the first are picked from the optimizer's other optima and a Sobol
sample (`acquisition_search`).
Option `acquisition` forces `qlognei` (`qLogNoisyExpectedImprovement` with the
pending trials as `X_pending`, a batch built greedily) or `ucb` (qUCB). A
suggestion equal to a pending one is never returned; nor one equal to a
finished one when the fitted noise says the objective is deterministic
(`INFORMATIVE_REPEAT_NOISE`), where a repeat would return the same value.

A completed trial of one objective enters at its settled value (`settling`,
option `settle`, default true): where its value is the best step of its curve,
the best window of steps, as the recommendation ranks it. The best step of a
noisy curve is a lucky draw, and a model given it is drawn to jagged curves
(learning rates at the edge of divergence) whose lows do not retrain.

Trials stopped early (PRUNED) enter at their best reported value, the value
the stopping rule judged them by (option `model_pruned`, default true): the
model learns where trials get stopped instead of proposing that region again.
The value is pessimistic for a curve that would have gone on improving, which
is the stopping rule's own bet. No suggestion lies within `stopped_radius`
(default 0.05, in the unit cube of the model features) of a stopped trial:
trained again from scratch, it would be stopped again. Failed trials carry no
value and are left out.

Learning curves (option `model_curves`, default true, with the default
acquisition): where finished trials reported progress, the GP models
(configuration, step), each trial at a ladder of its steps (`curves`), and
LogEI asks what a configuration reaches at the last step. A stopped trial
then counts as what it is, an early value, and its curve tells the model how
far such early values go elsewhere; with option `stopped_as_final` (default
false) its best value also counts as its final one, so a region the stopping
rule keeps stopping early is left, at the price of holding a slow starter's
stop against its region. Studies without progress reports, several
objectives and constraints are modelled as above. Where the study's fidelity
lets trials train less than `max_steps` (`min_steps`), the initial design asks
for `initial_fidelity` of it (default a third): Sobol points are there to
shape the model, and curves let short trials do that at a fraction of the cost.
Infeasible trials take the worst completed value, with no classifier to train.

Re-evaluations (`intensify`, off by default): with option `repeat_every`
(e.g. 3), every n-th draw hands the recommended configuration out again as a
fresh trial, until it has `max_evaluations` evaluations (default 3): on a
noisy objective the best-looking trial is the luckiest draw, and repeats are
the evidence that tells luck from a good region. The first repeat is a probe;
where it returns its value unchanged (a deterministic objective) there are no
more. Measured, they pay on very noisy validation losses and cost a search
with informative ones (README), so a study asks for them.

Several objectives and outcome constraints: every objective and every
constraint bound's slack is an output of the GP (independent outputs, each
with its own hyperparameters). Several objectives are optimized with
`qLogNoisyExpectedHypervolumeImprovement` against the objectives' reference
values, or a reference inferred from the observed feasible front; one
objective under constraints with `qLogNoisyExpectedImprovement`. Constraints
enter both as BoTorch's outcome constraints (the probability of feasibility
weighs the improvement); pending trials as `X_pending`, as above.

Cost stays bounded as a study grows: kernel hyperparameters are fitted on at
most `max_fit_points` observations (the best third and a seeded sample of the
rest), and the model conditions on at most `max_model_points` of them, chosen
the same way; both sizes bound time and memory per suggestion. With one
objective and no constraints, the fit starts from the study's previous
hyperparameters where the service passes them (`History.model_state`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from collections.abc import Mapping

import torch
from botorch.exceptions.warnings import BotorchWarning, InputDataWarning, OptimizationWarning
from botorch.utils.sampling import manual_seed

from hyperdial.server.algorithms.acquisition_search import AcquisitionSearch, Avoid
from hyperdial.server.algorithms.base import History, Observed, Options, SuggestBatch, Suggestion
from hyperdial.server.algorithms.batch_acquisition import monte_carlo_acquisition
from hyperdial.server.algorithms.curves import full_fidelity_incumbent, max_steps, with_curves
from hyperdial.server.algorithms.gp import (
    Hyperparameters,
    TrainingData,
    fitted_gp,
    incumbent,
    keep_best,
)
from hyperdial.server.algorithms.intensify import configuration_to_repeat, repeat_due
from hyperdial.server.algorithms.random import sobol_points
from hyperdial.server.algorithms.settling import settled_value
from hyperdial.server.algorithms.warping import compress_worse_half
from hyperdial.server.domain import OptionValue
from hyperdial.server.space import ParamValue, SearchSpace
from hyperdial.server.space.encoding import decode
from hyperdial.server.space.features import FeatureLayout, canonical, from_features, layout
from hyperdial.server.space.features import to_features as features_of

log = logging.getLogger(__name__)

# Integer ranges wider than this are optimized as continuous and rounded.
MAX_DISCRETE_VALUES = 10_000
# Below this fitted noise (a share of the objective's variance: a noise sd under a tenth of
# the outcomes' spread) a finished configuration is never suggested again: on a
# deterministic objective it would return the same value, and on a mildly noisy one a new
# point teaches more. The noise prior's mode (3e-3) sits below it, so a few deterministic
# observations are not mistaken for noise. At or above it, LogEI's incumbent is the best
# posterior mean (with option incumbent "auto").
INFORMATIVE_REPEAT_NOISE = 1e-2


class BayesSuggester:
    """Sobol, then a GP with qLogNEI (or qUCB) over the mixed space; see the module docstring."""

    reissues_stale = False
    learns = True

    def __init__(self, space: SearchSpace, options: Mapping[str, OptionValue]) -> None:
        reader = Options(options)
        dims = len(space.params)
        self.initial_trials = reader.int("initial_trials", max(5, 2 * dims + 1), 1, 100_000)
        self.acquisition = reader.choice("acquisition", "auto", ("auto", "qlognei", "ucb"))
        self.ucb_beta = reader.float("ucb_beta", 0.2, 0.0, 100.0)
        self.restarts = reader.int("restarts", 10, 1, 128)
        self.raw_samples = reader.int("raw_samples", 1024, 16, 65_536)
        self.max_fit_points = reader.int("max_fit_points", 300, 10, 100_000)
        self.max_model_points = reader.int("max_model_points", 1000, 10, 100_000)
        self.precompute = reader.bool("precompute", True)
        self.incumbent = reader.choice("incumbent", "auto", ("auto", "mean", "observed"))
        self.model_pruned = reader.bool("model_pruned", True)
        self.models_curves = reader.bool("model_curves", True) and self.acquisition == "auto"
        self.initial_fidelity = reader.float("initial_fidelity", 1 / 3, 0.01, 1.0)
        self.stopped_radius = reader.float("stopped_radius", 0.05, 0.0, 1.0)
        self.stopped_as_final = reader.bool("stopped_as_final", False)
        self.settle = reader.bool("settle", True)
        self.repeat_every = reader.int("repeat_every", 0, 0, 100_000)
        self.max_evaluations = reader.int("max_evaluations", 3, 1, 100)
        reader.finish()
        self.layout: FeatureLayout = layout(space, MAX_DISCRETE_VALUES)
        self.search = AcquisitionSearch(self.layout, self.restarts, self.raw_samples)
        self.curve_search = AcquisitionSearch(
            self.layout, self.restarts, self.raw_samples, fixed=(1.0,)
        )

    def suggest(self, space: SearchSpace, history: History, count: int, seed: int) -> SuggestBatch:
        """Sobol points until `initial_trials` are drawn (or imported) and two values differ.

        Then the GP: imported trials count as observations, so a warm-started
        study models them from its first suggestion. A re-evaluation's slot
        (`intensify`) takes the recommended configuration again, first in the batch.
        """
        repeat = self._repeat(space, history, count, seed) if count > 0 else None
        if repeat is None:
            return self._fresh(space, history, count, seed)
        rest = self._fresh(space, history, count - 1, seed)
        return SuggestBatch((repeat, *rest.suggestions), model_state=rest.model_state)

    def _fresh(self, space: SearchSpace, history: History, count: int, seed: int) -> SuggestBatch:
        """`count` new configurations: Sobol points, or the acquisition's best."""
        if count <= 0:
            return SuggestBatch(())
        taken = {canonical(space, params) for params in history.pending}
        if not self._model_ready(history):
            if not self._initial(history):
                log.info(
                    "bayes: %d completed trials with distinct values are too few for a model; "
                    "drawing Sobol points",
                    len(history.completed),
                )
            budget = self._initial_budget(history)
            return SuggestBatch(self._sobol(space, history.draws, count, seed, taken, budget))
        data = self._training_data(space, history, seed)
        at_full = [1.0] if data.x.shape[-1] > self.layout.width else []
        pending = [features_of(space, params) + at_full for params in history.pending]
        stopped = [features_of(space, o.params) for o in history.pruned]
        avoid = Avoid(torch.tensor(stopped, dtype=torch.float64), self.stopped_radius)
        with warnings.catch_warnings(), manual_seed(_mix(seed, history.draws)):
            # Fit and optimizer retries are BoTorch's own business; failures surface below.
            ignored = (InputDataWarning, OptimizationWarning, BotorchWarning, RuntimeWarning)
            for category in ignored:
                warnings.simplefilter("ignore", category)
            warm_start = history.model_state if isinstance(history.model_state, dict) else None
            if data.y.shape[-1] > 1:
                # Several outputs fit cold: warm-started, BraninCurrin and DTLZ2 hypervolumes
                # fell on 3 of 8 (problem, seed) pairs and rose on 1 (30 trials).
                warm_start = None
            try:
                rows, noise, fitted = self._optimize(data, pending, count, warm_start, avoid)
            except Exception:  # any numerical failure falls back; it never fails Suggest
                log.warning("bayes: model fit or acquisition failed; drawing Sobol", exc_info=True)
                return SuggestBatch(self._sobol(space, history.draws, count, seed, taken))
        if noise < INFORMATIVE_REPEAT_NOISE:
            # A deterministic objective: a finished configuration would give the same value.
            taken |= {canonical(space, o.params) for o in (*history.completed, *history.pruned)}
            taken |= {canonical(space, params) for params in history.infeasible}
        suggestions: list[Suggestion] = []
        for row in rows:
            params = from_features(space, row[: self.layout.width])
            key = canonical(space, params)
            if key in taken:
                continue
            taken.add(key)
            suggestions.append(Suggestion(params))
        if len(suggestions) < count:  # the optimizer landed on taken points: fill with Sobol
            suggestions += self._sobol(space, history.draws, count - len(suggestions), seed, taken)
        return SuggestBatch(tuple(suggestions), model_state=fitted)

    def needs_model(self, history: History) -> bool:
        """False while Sobol points are drawn and no re-evaluation is due.

        Sobol points: the initial design, or fewer than two values. A repeat asks
        the model what to repeat.

        Asked on the event loop before every computation: it stops at the second value.
        """
        due = len(history.completed) > 1 and self._repeat_due(history, 1)
        return due or self._model_ready(history)

    def _model_ready(self, history: History) -> bool:
        if self._initial(history):
            return False
        observed = (*history.completed, *self._pruned(history))
        values = (tuple(o.values) if history.objectives else o.value for o in observed)
        first = next(values, None)
        return any(value != first for value in values)

    def _initial(self, history: History) -> bool:
        observed = history.results if self.model_pruned else history.results - len(history.pruned)
        return history.draws < self.initial_trials and observed < self.initial_trials

    def _repeat_due(self, history: History, count: int) -> bool:
        return repeat_due(history.draws, count, self.initial_trials, self.repeat_every)

    def _repeat(
        self, space: SearchSpace, history: History, count: int, seed: int
    ) -> Suggestion | None:
        """The recommended configuration again, at a re-evaluation's slot (`intensify`)."""
        if not self._repeat_due(history, count):
            return None
        try:
            params = configuration_to_repeat(space, history, seed, self.max_evaluations)
        except Exception:  # a failed fit costs the repeat, never the suggestion
            log.warning("bayes: the recommendation failed; no repeat", exc_info=True)
            return None
        return None if params is None else Suggestion(params, repeat=True)

    def _initial_budget(self, history: History) -> int:
        """The steps an initial-design trial asks for: `initial_fidelity` of `max_steps`.

        Only where the model reads curves (a short trial is then an early value,
        not a final one); 0, all the study grants, otherwise.
        """
        if not (self.models_curves and history.max_steps and self._initial(history)):
            return 0
        return max(1, math.ceil(self.initial_fidelity * history.max_steps))

    def _pruned(self, history: History) -> tuple[Observed, ...]:
        """Stopped trials the model sees, at their best reported value (option model_pruned)."""
        return history.pruned if self.model_pruned and not history.objectives else ()

    def _sobol(
        self,
        space: SearchSpace,
        start: int,
        count: int,
        seed: int,
        taken: set[tuple[ParamValue, ...]],
        step_budget: int = 0,
    ) -> tuple[Suggestion, ...]:
        """Sobol points from `start` on, skipping configurations already pending."""
        chosen: list[Suggestion] = []
        for point in sobol_points(len(space.params), seed, start, 4 * count + 16):
            params = decode(space, point)
            key = canonical(space, params)
            if key not in taken:
                taken.add(key)
                chosen.append(Suggestion(params, step_budget=step_budget))
                if len(chosen) == count:
                    break
        return tuple(chosen)

    def _training_data(self, space: SearchSpace, history: History, seed: int) -> TrainingData:
        """Features and outcomes to model (`_model_ready` said they can inform one).

        Completed trials of one objective enter at their settled value (option
        `settle`); infeasible trials take each objective's worst value and, for
        each constraint, a slack a span beyond the worst observed one.
        """
        finished = history.completed
        if self.settle and not history.objectives:
            finished = tuple(_settled(o, history.maximize) for o in finished)
        modelled = (*finished, *self._pruned(history))
        if history.objectives:
            signs = [1.0 if o.maximize else -1.0 for o in history.objectives]
            outcomes = [
                [s * v for s, v in zip(signs, o.values, strict=True)] + list(o.slacks)
                for o in modelled
            ]
        else:
            sign = 1.0 if history.maximize else -1.0
            outcomes = [[sign * o.value, *o.slacks] for o in modelled]
        objectives = max(1, len(history.objectives))
        references = tuple(
            None if o.reference is None else (1.0 if o.maximize else -1.0) * o.reference
            for o in history.objectives
        )
        columns = list(zip(*outcomes, strict=True))
        filler = [min(c) for c in columns[:objectives]]
        filler += [max(c) + (max(c) - min(c) or 1.0) for c in columns[objectives:]]
        rows = [features_of(space, o.params) for o in modelled]
        rows += [features_of(space, params) for params in history.infeasible]
        outcomes += [filler] * len(history.infeasible)
        limit = self.max_model_points
        full = max_steps(history)
        if self.models_curves and full > 0 and any(o.curve for o in modelled):
            sign = 1.0 if history.maximize else -1.0
            completed = len(history.completed)
            rows, outcomes = with_curves(
                rows, outcomes, modelled, completed, full, sign, self.stopped_as_final
            )
            # Curve points outnumber trials several times: the fit's cap bounds them all.
            limit = min(limit, self.max_fit_points)
        kept = keep_best([row[0] for row in outcomes], limit, seed)
        x = torch.tensor([rows[i] for i in kept], dtype=torch.float64)
        y = torch.tensor([outcomes[i] for i in kept], dtype=torch.float64)
        if objectives == 1:
            # Several objectives stay unwarped: the hypervolume's reference is on their scale.
            y[:, 0] = compress_worse_half(y[:, 0])
        return TrainingData(x, y, objectives, references)

    def _optimize(
        self,
        data: TrainingData,
        pending_rows: list[list[float]],
        count: int,
        warm_start: Hyperparameters | None,
        avoid: Avoid,
    ) -> tuple[list[list[float]], float, Hyperparameters]:
        """The acquisition's best `count` feature rows, the fitted noise, the hyperparameters.

        The noise is a share of the (first) objective's variance. With the
        default acquisition, no row lies within `avoid` (stopped trials).
        """
        fitted = fitted_gp(data, self.max_fit_points, sorted(self.layout.categorical), warm_start)
        model = fitted.model
        noise = float(model.likelihood.noise.detach().reshape(-1)[0])
        pending = torch.tensor(pending_rows, dtype=torch.float64) if pending_rows else None
        if self.acquisition != "auto" or data.y.shape[-1] > 1:
            acquisition = monte_carlo_acquisition(
                model, data, pending, self.acquisition, self.ucb_beta
            )
            best = data.x[int(data.y[:, 0].argmax())]
            rows = self.search.best(acquisition, best, count)
        else:
            # A joint q-batch of 8 cost 11 s here; a believer batch little more than one point.
            by_mean = self.incumbent == "mean" or (
                self.incumbent == "auto" and noise >= INFORMATIVE_REPEAT_NOISE
            )
            if data.x.shape[-1] > self.layout.width:  # curves: what configurations reach in full
                best_point = full_fidelity_incumbent(model, data.x)
                rows = self.curve_search.believer_batch(model, best_point, pending, count, avoid)
            else:
                best_point = incumbent(model, data, by_mean=by_mean)
                rows = self.search.believer_batch(model, best_point, pending, count, avoid)
        return rows, noise, fitted.hyperparameters


def _settled(observed: Observed, maximize: bool) -> Observed:
    """`observed` at its settled value (`settling`): the value the recommendation ranks it by."""
    return dataclasses.replace(observed, value=settled_value(observed, maximize))


def _mix(seed: int, draws: int) -> int:
    """A torch seed from (study seed, draw number): same inputs, same suggestion."""
    return (seed * 1_000_003 + draws) % (2**63)
