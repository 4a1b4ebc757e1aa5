"""What a learning suggester sees of a study: its trials, by state, as a `History`."""

from __future__ import annotations

from hyperdial.server.algorithms.base import History, Observed
from hyperdial.server.domain import Goal, TrialState
from hyperdial.server.service.common import find_study
from hyperdial.server.service.suggesters import SuggesterCache
from hyperdial.server.store.base import StudyRecord, Transaction

_HISTORY_STATES = (
    TrialState.COMPLETED,
    TrialState.INFEASIBLE,
    TrialState.PENDING,
    TrialState.PRUNED,
)


def history(
    txn: Transaction, study_name: str, suggesters: SuggesterCache
) -> tuple[StudyRecord, History]:
    """The study and what a learning suggester needs of its trials.

    Curves are read (one query over the study's measurements) only for a
    suggester that models them, and only for one objective without constraints.
    """
    study = find_study(txn, study_name)
    config = study.config
    trials = txn.list_trials(study, _HISTORY_STATES, 0, 2**62)
    several = config.multi_objective
    single = not (several or config.constraints)
    curves = (
        txn.curves(study, 1, trials[-1].number)
        if single and trials and suggesters.get(study).models_curves
        else {}
    )
    return study, History(
        draws=study.draws,
        completed=tuple(
            Observed(
                t.params,
                t.value,
                config.objective_values(t.metrics) if several else (),
                config.constraint_slacks(t.metrics),
                curves.get(t.number, ()),
                t.step_budget,
            )
            for t in trials
            if t.state is TrialState.COMPLETED and t.value is not None
        ),
        infeasible=tuple(t.params for t in trials if t.state is TrialState.INFEASIBLE),
        pending=tuple(t.params for t in trials if t.state is TrialState.PENDING),
        # Stopped trials carry one objective's best reported value, and no constraint.
        pruned=tuple(
            Observed(t.params, t.value, curve=curves.get(t.number, ()), step_budget=t.step_budget)
            for t in trials
            if t.state is TrialState.PRUNED and t.value is not None
        )
        if single
        else (),
        maximize=config.objective.goal is Goal.MAXIMIZE,
        max_steps=config.fidelity.max_steps if config.fidelity else 0,
        objectives=config.objectives if several else (),
    )
