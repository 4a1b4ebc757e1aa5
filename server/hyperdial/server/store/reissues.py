"""Handing configurations out again: STALE grid points and FAILED trials' retries.

Both claim the trials they look at (`requeued`), so each is handed out again
at most once, and count per configuration with one grouped query.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, func, or_, select

from hyperdial.server.domain import TrialState
from hyperdial.server.store.base import RequeuedPoint, RetryPoint
from hyperdial.server.store.schema import trials


def take_requeued(
    conn: Connection, study_id: int, limit: int, max_reissues: int
) -> list[RequeuedPoint]:
    """See `Transaction.take_requeued`."""
    query = (
        select(trials.c.id, trials.c.params_json, trials.c.grid_index)
        .where(
            trials.c.study_id == study_id,
            trials.c.state == TrialState.STALE.value,
            trials.c.grid_index.is_not(None),
            trials.c.requeued.is_(False),
        )
        .order_by(trials.c.number)
        .limit(limit)
    )
    rows = conn.execute(query).all()
    _claim(conn, [r.id for r in rows])
    stale = _stale_counts(conn, study_id, [r.grid_index for r in rows])
    return [
        RequeuedPoint(json.loads(r.params_json), r.grid_index)
        for r in rows
        if stale[r.grid_index] <= max_reissues
    ]


def take_retries(
    conn: Connection, study_id: int, limit: int, max_retries: int
) -> list[RetryPoint]:
    """See `Transaction.take_retries`."""
    query = (
        select(
            trials.c.id,
            trials.c.number,
            trials.c.params_json,
            trials.c.grid_index,
            trials.c.retry_of,
            trials.c.worker_stopped,
        )
        .where(
            trials.c.study_id == study_id,
            trials.c.state == TrialState.FAILED.value,
            trials.c.requeued.is_(False),
        )
        .order_by(trials.c.number)
        .limit(limit)
    )
    rows = conn.execute(query).all()
    if not rows:
        return []
    _claim(conn, [r.id for r in rows])
    firsts = {r.id: r.number if r.retry_of is None else r.retry_of for r in rows}
    failures = _failures(conn, study_id, set(firsts.values()))
    return [
        RetryPoint(json.loads(r.params_json), r.grid_index, firsts[r.id])
        for r in rows
        if r.worker_stopped or failures.get(firsts[r.id], 0) <= max_retries
    ]


def _claim(conn: Connection, ids: Sequence[int]) -> None:
    """Marks these trials as looked at: none is handed out again twice."""
    if ids:
        conn.execute(trials.update().where(trials.c.id.in_(ids)).values(requeued=True))


def _failures(conn: Connection, study_id: int, firsts: set[int]) -> dict[int, int]:
    """Failures not caused by a stopped worker, per configuration (its first trial)."""
    first = func.coalesce(trials.c.retry_of, trials.c.number)
    query = (
        select(first, func.count())
        .where(
            trials.c.study_id == study_id,
            trials.c.state == TrialState.FAILED.value,
            trials.c.worker_stopped.is_(False),
            or_(trials.c.number.in_(firsts), trials.c.retry_of.in_(firsts)),
        )
        .group_by(first)
    )
    return {int(number): int(count) for number, count in conn.execute(query).all()}


def _stale_counts(conn: Connection, study_id: int, grid_indexes: Sequence[int]) -> dict[int, int]:
    """How many trials of each grid point went STALE: one grouped query."""
    if not grid_indexes:
        return {}
    query = (
        select(trials.c.grid_index, func.count())
        .where(
            trials.c.study_id == study_id,
            trials.c.grid_index.in_(grid_indexes),
            trials.c.state == TrialState.STALE.value,
        )
        .group_by(trials.c.grid_index)
    )
    return {int(index): int(count) for index, count in conn.execute(query)}
