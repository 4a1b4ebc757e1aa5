"""Learning curves: the values trials report at each step (ReportProgress), read in bulk too.

A page of ListTrials with its curves costs one query for all of them, not one
per trial. The study row counts the steps reported (`studies.steps`), so the
budget spent in steps costs GetStudy no scan; each trial row counts its own
(`trials.steps`), so the steps still granted to running trials are one sum
over them.
"""

from __future__ import annotations

from sqlalchemy import Connection, case, func, or_, select

from hyperdial.server.domain import Measurement, TrialState
from hyperdial.server.store.schema import measurements, studies, trials


def record(conn: Connection, study_id: int, trial_id: int, step: int, value: float) -> int:
    """Stores (or overwrites) a trial's value at `step`; a new step counts on the study.

    Returns 1 for a new step and 0 for an overwritten one: the caller counts it
    on the trial's row with the lease it renews there.
    """
    replaced = conn.execute(
        measurements.delete().where(
            measurements.c.trial_id == trial_id, measurements.c.step == step
        )
    ).rowcount
    conn.execute(
        measurements.insert().values(trial_id=trial_id, step=step, value=value, study_id=study_id)
    )
    if replaced:
        return 0
    conn.execute(
        studies.update().where(studies.c.id == study_id).values(steps=studies.c.steps + 1)
    )
    return 1


def steps_reserved(conn: Connection, study_id: int) -> int:
    """See `Transaction.steps_reserved`: read through the lease index, running trials only."""
    unspent = trials.c.step_budget - trials.c.steps
    query = select(func.coalesce(func.sum(case((unspent > 0, unspent), else_=0)), 0)).where(
        trials.c.study_id == study_id, trials.c.state == TrialState.PENDING.value
    )
    return int(conn.execute(query).scalar_one())


def measurements_of(conn: Connection, study_id: int, number: int) -> tuple[Measurement, ...]:
    """See `Transaction.measurements`."""
    return curves_of(conn, study_id, number, number).get(number, ())


def curves_of(
    conn: Connection,
    study_id: int,
    first: int,
    last: int,
    states: tuple[TrialState, ...] = (),
) -> dict[int, tuple[Measurement, ...]]:
    """See `Transaction.curves`."""
    query = (
        select(trials.c.number, measurements.c.step, measurements.c.value)
        .join(trials, trials.c.id == measurements.c.trial_id)
        .where(trials.c.study_id == study_id, trials.c.number.between(first, last))
        .order_by(trials.c.number, measurements.c.step)
    )
    if states:
        query = query.where(trials.c.state.in_([state.value for state in states]))
    found: dict[int, list[Measurement]] = {}
    for number, step, value in conn.execute(query):
        found.setdefault(number, []).append(Measurement(step, value))
    return {number: tuple(curve) for number, curve in found.items()}


def values_at_step(
    conn: Connection, study_id: int, step: int, exclude: int
) -> list[tuple[int, float]]:
    """See `Transaction.values_at_step`."""
    query = (
        select(trials.c.number, measurements.c.value)
        .join(trials, trials.c.id == measurements.c.trial_id)
        .where(
            measurements.c.study_id == study_id,
            measurements.c.step == step,
            trials.c.number != exclude,
        )
    )
    return [(number, value) for number, value in conn.execute(query)]


def finals_at_step(
    conn: Connection, study_id: int, step: int, max_steps: int, minimize: bool
) -> list[tuple[float, float]]:
    """See `Transaction.finals_at_step`."""
    best_so_far = func.min(measurements.c.value) if minimize else func.max(measurements.c.value)
    query = (
        select(best_so_far, trials.c.value)
        .join(trials, trials.c.id == measurements.c.trial_id)
        .where(
            measurements.c.study_id == study_id,
            measurements.c.step <= step,
            trials.c.state == TrialState.COMPLETED.value,
            trials.c.value.is_not(None),
            trials.c.feasible,
            or_(trials.c.step_budget == 0, trials.c.step_budget >= max_steps),
        )
        .group_by(trials.c.id, trials.c.value)
        # Trials that reported this very step: others stopped before it or skipped it.
        .having(func.max(measurements.c.step) == step)
    )
    return [(float(at_step), float(final)) for at_step, final in conn.execute(query)]
