"""A study's queue of configurations to try next (EnqueueTrials) and its pause switch.

The queue's length lives on the study row (`studies.queued`), so the hand-out
reads the queue only when it holds something.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, select

from hyperdial.server.space import ParamValue
from hyperdial.server.store.schema import queued_trials, studies


def set_paused(conn: Connection, study_id: int, paused: bool) -> None:
    """See `Transaction.set_paused`."""
    conn.execute(studies.update().where(studies.c.id == study_id).values(paused=paused))


def enqueue(
    conn: Connection, study_id: int, assignments: Sequence[dict[str, ParamValue]], now: float
) -> None:
    """See `Transaction.enqueue`."""
    if not assignments:
        return
    conn.execute(
        queued_trials.insert(),
        [
            {"study_id": study_id, "params_json": json.dumps(params), "created_at": now}
            for params in assignments
        ],
    )
    _add_to_count(conn, study_id, len(assignments))


def queued_assignments(conn: Connection, study_id: int) -> list[dict[str, ParamValue]]:
    """See `Transaction.queued_assignments`."""
    query = (
        select(queued_trials.c.params_json)
        .where(queued_trials.c.study_id == study_id)
        .order_by(queued_trials.c.id)
    )
    return [json.loads(params) for (params,) in conn.execute(query)]


def take_queued(conn: Connection, study_id: int, limit: int) -> list[dict[str, ParamValue]]:
    """See `Transaction.take_queued`."""
    query = (
        select(queued_trials.c.id, queued_trials.c.params_json)
        .where(queued_trials.c.study_id == study_id)
        .order_by(queued_trials.c.id)
        .limit(limit)
    )
    rows = conn.execute(query).all()
    if rows:
        conn.execute(queued_trials.delete().where(queued_trials.c.id.in_([r.id for r in rows])))
        _add_to_count(conn, study_id, -len(rows))
    return [json.loads(r.params_json) for r in rows]


def _add_to_count(conn: Connection, study_id: int, change: int) -> None:
    conn.execute(
        studies.update().where(studies.c.id == study_id).values(queued=studies.c.queued + change)
    )
