"""What a study's summary reads of its trials: counts by state, and when they last moved.

Both answer from indexes: the counts from (study, state, ...), the last
activity from the newest trial's number and (study, finished_at).
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from hyperdial.server.domain import TrialState
from hyperdial.server.store.schema import trials


def trial_counts(conn: Connection, study_id: int) -> dict[TrialState, int]:
    """See `Transaction.trial_counts`."""
    query = (
        select(trials.c.state, func.count())
        .where(trials.c.study_id == study_id)
        .group_by(trials.c.state)
    )
    return {TrialState(state): count for state, count in conn.execute(query)}


def last_activity(conn: Connection, study_id: int) -> float | None:
    """See `Transaction.last_activity`."""
    newest = (
        select(trials.c.created_at)
        .where(trials.c.study_id == study_id)
        .order_by(trials.c.number.desc())
        .limit(1)
    )
    finished = select(func.max(trials.c.finished_at)).where(trials.c.study_id == study_id)
    times = [conn.execute(newest).scalar(), conn.execute(finished).scalar()]
    present = [t for t in times if t is not None]
    return max(present) if present else None
