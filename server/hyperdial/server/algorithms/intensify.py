"""Re-evaluating the recommended configuration: evidence against lucky draws.

On a noisy objective the trial that looks best is the luckiest draw, and a
model of 30 trials cannot tell luck from a good region on its own (its
recommendation keeps the best observation unless it is sure). SMAC's
intensification answers this with evidence: it runs its incumbent again with
new seeds before trusting it. Bayes does the same on a schedule
(`repeat_due`): it hands out the configuration the model recommends again
(a fresh trial, so a fresh training seed), until that configuration has
`max_evaluations` evaluations. The repeats enter the GP as what they are,
several observations of one point, and the recommendation rests on them.

Whether an objective is noisy is the data's to say, not the fitted noise's:
on a validation loss whose bad trials diverge by orders of magnitude, the
training noise is a tiny share of the values' variance, as it is on a
deterministic function. So the first repeat is a probe, and later repeats
follow only where the repeated values scattered materially
(`noise_is_material`); a deterministic objective costs one trial.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace

from hyperdial.server.algorithms.base import History, Observed
from hyperdial.server.algorithms.recommend import recommend
from hyperdial.server.space import ParamValue, SearchSpace
from hyperdial.server.space.features import canonical

# Repeats go on where the pooled within-configuration sd exceeds this share of the spread
# of the best quarter of values (the best value to the quartile: the range the search
# still has to rank). Lenient, since one probe is one degree of freedom: its sd may read
# several times below the noise's (diabetes: 17 where seeds scatter by ~100, against a
# spread of 300). A deterministic objective repeats its value exactly.
MATERIAL_SCATTER = 0.01


def repeat_due(draws: int, count: int, initial_trials: int, every: int) -> bool:
    """Whether one of the draws `draws .. draws + count - 1` is a re-evaluation's slot.

    Every `every`-th draw from `every` draws before the initial design ends
    (but not before draw 2·every: a recommendation needs a few values).
    """
    if every <= 0:
        return False
    first = max(initial_trials - every, 2 * every)
    return any(k >= first and (k - first) % every == 0 for k in range(draws, draws + count))


def configuration_to_repeat(
    space: SearchSpace, history: History, seed: int, max_evaluations: int
) -> Mapping[str, ParamValue] | None:
    """The recommended configuration, where it is worth evaluating again; else None.

    The first repeat is a probe, later ones follow material scatter. None for
    several objectives, while a probe is still running, where the model finds
    no recommendation, and once the configuration has `max_evaluations`
    evaluations (completed or pending).
    """
    # Trials granted fewer steps than the study's fidelity ended early: not evaluations.
    full = tuple(o for o in history.completed if not 0 < o.step_budget < history.max_steps)
    if history.objectives or len(full) < 2:
        return None
    material = noise_is_material(space, full, history.maximize)
    if material is False or (material is None and _repeat_pending(space, full, history)):
        return None
    found = recommend(space, replace(history, completed=full), seed=seed)
    if found is None:
        return None
    params = full[found.index].params
    key = canonical(space, params)
    evaluations = sum(canonical(space, o.params) == key for o in full)
    evaluations += sum(canonical(space, p) == key for p in history.pending)
    return params if evaluations < max_evaluations else None


def noise_is_material(
    space: SearchSpace, completed: Sequence[Observed], maximize: bool = False
) -> bool | None:
    """Whether configurations evaluated more than once scattered materially; None: none was."""
    groups: dict[tuple[ParamValue, ...], list[float]] = defaultdict(list)
    for o in completed:
        groups[canonical(space, o.params)].append(o.value)
    repeated = [values for values in groups.values() if len(values) > 1]
    if not repeated:
        return None
    squares = sum(statistics.variance(vs) * (len(vs) - 1) for vs in repeated)
    scatter = math.sqrt(squares / sum(len(vs) - 1 for vs in repeated))
    losses = sorted(-o.value if maximize else o.value for o in completed)
    spread = statistics.quantiles(losses, n=4, method="inclusive")[0] - losses[0]
    return scatter > MATERIAL_SCATTER * spread and scatter > 1e-9 * max(1.0, abs(losses[0]))


def _repeat_pending(space: SearchSpace, full: Sequence[Observed], history: History) -> bool:
    """Whether a pending trial repeats a fully trained configuration (a probe under way)."""
    finished = {canonical(space, o.params) for o in full}
    return any(canonical(space, params) in finished for params in history.pending)
