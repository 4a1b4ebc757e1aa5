"""What a study may still hand out: trials under `max_trials`, steps under its fidelity.

With `StudyConfig.fidelity`, every new trial is granted a step budget, and
with `total_steps` the grant comes out of what is neither reported yet nor
granted to a running trial; what a running trial leaves unspent comes back
when it ends. Like a STALE trial's budget slot, returned steps reopen a
finished study for the next Suggest.
"""

from __future__ import annotations

from dataclasses import dataclass

from hyperdial.server.domain import StudyConfig
from hyperdial.server.store.base import StudyRecord, Transaction


@dataclass(frozen=True)
class Room:
    """Step budgets of the new trials that fit (0s without a fidelity) and the steps left."""

    step_budgets: tuple[int, ...]
    steps_left: int | None = None


def steps_left(txn: Transaction, study: StudyRecord) -> int | None:
    """Steps of `fidelity.total_steps` neither reported nor granted to a running trial.

    None when the study budgets no steps. One sum over the running trials.
    """
    fidelity = study.config.fidelity
    if fidelity is None or not fidelity.total_steps:
        return None
    return fidelity.total_steps - study.steps - txn.steps_reserved(study.id)


def room(txn: Transaction, study: StudyRecord, budget_used: int, count: int) -> Room:
    """How many of `count` new trials fit both budgets, and each one's step budget."""
    config = study.config
    if config.max_trials:
        count = max(0, min(count, config.max_trials - budget_used))
    if config.fidelity is None:
        return Room((0,) * count)
    available = steps_left(txn, study)
    grants = config.fidelity.grants(available, count)
    return Room(tuple(grants), None if available is None else available - sum(grants))


def shorter_grant(config: StudyConfig, grant: int, asked: int) -> int:
    """The step budget of a trial whose suggester asked for `asked` steps (0: all) of `grant`.

    Never below the study's `smallest_grant`: a study that declares no
    `min_steps` trains every trial in full, whatever the algorithm asks.
    """
    if config.fidelity is None or not asked:
        return grant
    return min(grant, max(asked, config.fidelity.smallest_grant))


def spent(config: StudyConfig, budget_used: int, left: int | None) -> bool:
    """Whether a study with `budget_used` trials and `left` steps hands out no more."""
    if config.budget_spent(budget_used):
        return True
    return config.fidelity is not None and config.fidelity.spent(left)
